"""The baseline against `aws s3 ls --recursive --summarize`, and its memory against the bucket.

An emulator runs for each bucket in a new Python process, which writes its many objects
straight into the emulator's S3 (no HTTP PutObject each), so that nothing another bucket left
slows it. Every
command then runs as its own process against it over HTTP, in the same run: the AWS CLI's
listing of the whole bucket, `s3sizer setup` of a new stack on that bucket (a quiet baseline:
the listing merged into an empty table), and `s3sizer reconcile` right after (every key read
back and compared). Time is wall time; memory is the
command's peak resident set (VmHWM, sampled while it runs). The keys lie in 20 folders and the
top level; one more bucket, of the smallest size timed, is flat (no "/" in any key).

    python benchmarks/baseline_speed.py [--sizes 30000,100000] [--memory 20000,200000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.measure import Section, Table

PREFIXES = 20  # top-level prefixes the objects are spread over, plus some at the top level


@dataclass(frozen=True)
class Timed:
    seconds: float
    peak_kib: int


def run_timed(command: list[str], env: dict) -> Timed:
    """Wall time, and the peak resident set (VmHWM) sampled every 20 ms while it runs: the
    child's ru_maxrss would count this process's own memory, which Linux carries over fork and
    exec, and this process holds the emulator."""
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    while process.poll() is None:
        peak = max(peak, _high_water_kib(process.pid))
        time.sleep(0.02)
    seconds = time.perf_counter() - start
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:4])} failed: {process.stderr.read().decode()}")
    return Timed(seconds, peak)


def _high_water_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def fill(bucket: str, objects: int, flat: bool = False) -> None:
    from benchmarks.moto_fast_paths import DirectBucket

    direct = DirectBucket(bucket)
    direct.put_many(
        (
            f"obj-{i:08d}"
            if flat
            else f"p{i % PREFIXES:02d}/{i:08d}"
            if i % 10
            else f"top-{i:08d}",
            i % 1000 + 1,
        )
        for i in range(objects)
    )


def measure(endpoint: str, objects: int, env: dict, flat: bool = False) -> dict[str, Timed]:
    import boto3

    bucket = f"bench-baseline-{objects}{'-flat' if flat else ''}"
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket=bucket)
    fill(bucket, objects, flat)
    cli = [sys.executable, "-m", "s3sizer", "--endpoint-url", endpoint, "--stack", bucket]
    out = {}
    if shutil.which("aws"):
        out["aws s3 ls"] = run_timed(
            ["aws", "s3", "ls", f"s3://{bucket}", "--recursive", "--summarize",
             "--endpoint-url", endpoint],
            env,
        )  # fmt: skip
    out["setup"] = run_timed([*cli, "setup", "--bucket", bucket], env)
    out["reconcile"] = run_timed([*cli, "reconcile", "--json"], env)
    return out


def _alone(objects: int, env: dict, flat: bool) -> dict[str, Timed]:
    """``measure`` in a new Python process, against an emulator of its own."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_measured, objects, env, flat).result()


def _measured(objects: int, env: dict, flat: bool) -> dict[str, Timed]:
    from s3sizer.emulator import Emulator

    with Emulator(port=0) as aws:
        return measure(aws.endpoint_url, objects, env, flat)


def section(sizes: list[int], memory_sizes: list[int]) -> Section:
    local = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    os.environ.update(local)  # inherited by each bucket's process, whose client creates it
    env = {**os.environ, **local, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    timing = Table(
        ["objects", "keys", "aws s3 ls", "setup", "setup / ls", "reconcile", "reconcile / ls"]
    )
    memory = Table(["objects", "setup peak RSS", "reconcile peak RSS"])
    results: dict[int, dict[str, Timed]] = {}
    flat: dict[int, dict[str, Timed]] = {}
    # Each bucket in an emulator of its own, in an interpreter of its own: moto holds every
    # object and item as Python objects, and the interpreter's collector walks them all now and
    # then, so a bucket measured after others ran slower for what they had left (a flat bucket
    # measured last, with 350,000 objects and their key items held, took 20.4 s to set up;
    # alone, 14.5 s). An emulator of its own in the same interpreter was not enough: measured
    # last, after buckets of up to 200,000 objects, the flat bucket's `aws s3 ls` took 10.3 s
    # and `setup` 18.5 s; measured after one bucket of 30,000, 9.3 s and 15.4 s. AWS's cost of a
    # request does not grow with other buckets.
    for objects in sorted(set(sizes) | set(memory_sizes)):
        results[objects] = _alone(objects, env, False)
    if sizes:  # no "/" in any key: no folder to split the listing by
        flat[min(sizes)] = _alone(min(sizes), env, True)
    for objects, layout in [(n, "folders") for n in sizes] + [(n, "flat") for n in flat]:
        r = (flat if layout == "flat" else results)[objects]
        ls = r.get("aws s3 ls")

        def ratio(timed: Timed, ls: Timed | None = ls) -> str:
            return f"{timed.seconds / ls.seconds:.2f}x" if ls else "n/a"

        timing.add(
            f"{objects:,}",
            "20 folders and the top level" if layout == "folders" else "flat (`obj-<n>`)",
            f"{ls.seconds:.1f} s" if ls else "n/a (no AWS CLI)",
            f"{r['setup'].seconds:.1f} s",
            ratio(r["setup"]),
            f"{r['reconcile'].seconds:.1f} s",
            ratio(r["reconcile"]),
        )
    # Every bucket of folders measured, in order: the peak rises while the pool fills with
    # ranges (16 workers, two pages each), then stays (docs/scaling.md).
    for objects in sorted(results):
        r = results[objects]
        memory.add(
            f"{objects:,}",
            f"{r['setup'].peak_kib / 1024:.0f} MiB",
            f"{r['reconcile'].peak_kib / 1024:.0f} MiB",
        )
    result = Section("10. The baseline against `aws s3 ls`", __doc__.split("\n\n")[1], [timing])
    result.tables.append(memory)
    if len(memory_sizes) == 2:
        small, large = (results[n] for n in sorted(memory_sizes))
        for name in ("setup", "reconcile"):
            growth = large[name].peak_kib / small[name].peak_kib
            result.highlights.append(
                f"`{name}` peaks at {growth:.2f}x the memory at {max(memory_sizes):,} objects "
                f"that it needs at {min(memory_sizes):,}."
            )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="30000,100000")
    parser.add_argument("--memory", default="20000,200000")
    args = parser.parse_args(argv)
    sizes = [int(n) for n in args.sizes.split(",") if n]
    memory_sizes = [int(n) for n in args.memory.split(",") if n]
    print(section(sizes, memory_sizes).markdown())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
