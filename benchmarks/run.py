"""Run s3sizer's benchmarks and write their figures to benchmarks/RESULTS.md.

    python benchmarks/run.py            # the full run: 10 to 25 minutes on 2 cores (RESULTS.md says how long)
    python benchmarks/run.py --quick    # smaller sizes: about 3 minutes
    python benchmarks/run.py --smoke --out /tmp/results.md   # seconds; for the test suite

Everything runs against the embedded emulator on 127.0.0.1, except two sections: the AWS model
(section 7) is arithmetic on AWS's documented limits, and the layer (section 8, full run only)
downloads matplotlib's wheels from the package index.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable from the checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import (
    aws_model,
    baseline_speed,
    billed_units,
    burst,
    delivery,
    layer_size,
    lifecycle_timing,
    memory,
    plot_reads,
    startup,
    tracking_cost,
    untrack_speed,
)
from benchmarks.emulator_process import EmulatorProcess, peak_rss_kib
from benchmarks.measure import Section

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


@dataclass(frozen=True)
class Profile:
    name: str
    bucket_sizes: list[int]
    events: int
    baseline_events: dict[int, int]  # per bucket size; the others get every event
    shipped_repeats: int  # requests timed on moto as shipped, per bucket size
    one_at_a_time: int
    cold: int
    burst: int
    filler: int
    filled_events: int
    history_sizes: tuple[int, int]
    plot_repeats: int
    startup_repeats: int
    demo: bool
    plotting_worker: bool
    direct: int = 0  # section 2: events one at a time on a second, direct-route stack
    burst_clients: int = 16  # section 9: clients that PUT, then DELETE, at once
    burst_puts: int = 2_400  # in all, shared among the clients
    burst_deletes: int = 400
    aws_model: bool = True  # section 7: seconds of arithmetic, no emulator
    billed_events: int = 400  # section 11: events per write path and batch size
    layer: bool = True  # section 8: downloads the wheels, builds two layers, times imports
    baseline_sizes: tuple[int, ...] = ()  # section 10: objects, timed against `aws s3 ls`
    baseline_memory: tuple[int, ...] = ()  # section 10: objects, peak memory of each command
    untrack_objects: int = 0  # section 12: objects of the bucket untracked (0: not measured)


# On the queue route each one-at-a-time event waits out the 1 s batching window (section 2).
FULL = Profile(
    "full", [100, 1_000, 10_000, 100_000], 200, {1_000: 50, 10_000: 10, 100_000: 3}, 3,
    one_at_a_time=60, cold=15, burst=500, filler=10_000, filled_events=20,
    history_sizes=(1_000, 100_000), plot_repeats=5, startup_repeats=9, demo=True,
    plotting_worker=True, direct=40,
    baseline_sizes=(30_000, 100_000), baseline_memory=(20_000, 200_000), untrack_objects=30_000,
)  # fmt: skip
QUICK = Profile(
    "quick", [100, 1_000, 10_000], 200, {1_000: 20, 10_000: 3}, 2,
    one_at_a_time=20, cold=5, burst=200, filler=2_000, filled_events=5,
    history_sizes=(1_000, 10_000), plot_repeats=3, startup_repeats=5, demo=True,
    plotting_worker=True, direct=20, burst_clients=8, burst_puts=600, burst_deletes=100,
    layer=False, baseline_sizes=(10_000,), untrack_objects=5_000,
)  # fmt: skip
SMOKE = Profile(
    "smoke", [10, 100], 6, {}, 1,
    one_at_a_time=3, cold=1, burst=5, filler=50, filled_events=1,
    history_sizes=(10, 100), plot_repeats=1, startup_repeats=1, demo=False,
    plotting_worker=False, direct=2, burst_clients=2, burst_puts=8, burst_deletes=2,
    aws_model=False, layer=False, billed_events=8, baseline_sizes=(300,),
)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="smaller sizes (about 3 minutes)")
    size.add_argument("--smoke", action="store_true", help="tiny sizes, to check that it runs")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"default: {RESULTS}")
    args = parser.parse_args(argv)
    profile = SMOKE if args.smoke else QUICK if args.quick else FULL
    _local_only_environment()

    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    sections = run(profile)
    minutes = (time.perf_counter() - started) / 60
    load = (load_before, os.getloadavg()[0])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(profile, sections, minutes, load))
    print(f"wrote {args.out} ({minutes:.1f} min)", file=sys.stderr)
    return 0


def run(profile: Profile) -> list[Section]:
    step = _progress()
    step("4. CLI start-up")
    cli = startup.run(profile.startup_repeats)
    step("1. tracking cost against bucket size")
    tracking = tracking_cost.run(
        profile.bucket_sizes, profile.events, profile.baseline_events, profile.shipped_repeats
    )
    with EmulatorProcess() as emulator:
        step("2. delivery by the emulator")
        stack = delivery.run(
            emulator, profile.one_at_a_time, profile.cold, profile.burst, profile.filler,
            profile.filled_events, profile.plotting_worker, profile.direct,
        )  # fmt: skip
        emulator_after_delivery = peak_rss_kib(emulator.pid)
        step("3. plotting")
        plotting = plot_reads.run(emulator, profile.history_sizes, profile.plot_repeats)
        emulator_after_history = peak_rss_kib(emulator.pid)
    step("5. memory, 6. demo")
    figures = stack.figures
    memory_section = memory.section(
        emulator_after_delivery, emulator_after_history, profile.history_sizes[-1],
        figures.tracker_worker_kib, figures.tracker_workers, figures.plotting_worker_kib,
    )  # fmt: skip
    demo = lifecycle_timing.demo_seconds() if profile.demo else None
    lifecycle = lifecycle_timing.section(
        emulator.start_seconds, figures.setup_seconds, figures.deploy_seconds, demo
    )
    sections = [tracking, stack.section, plotting, cli, memory_section, lifecycle]
    if profile.aws_model:
        step("7. AWS model")
        sections.append(aws_model.section())
    if profile.layer:
        step("8. the matplotlib layer")
        sections.append(layer_size.section())
    step("9. a write burst, queue route against direct route")
    sections.append(
        burst.run(profile.burst_clients, profile.burst_puts, profile.burst_deletes)
    )  # its own emulator: the sections before leave nothing behind in it
    if profile.baseline_sizes:
        step("10. the baseline against `aws s3 ls`")
        sections.append(_in_a_fresh_interpreter(
            baseline_speed.section, list(profile.baseline_sizes), list(profile.baseline_memory)
        ))  # fmt: skip
    step("11. DynamoDB request units per event, as billed")
    billed = billed_units.run(profile.billed_events)
    sections.append(billed_units.section(billed, profile.billed_events))
    if profile.untrack_objects:
        step("12. `untrack` of a large bucket")
        sections.append(_in_a_fresh_interpreter(untrack_speed.section, profile.untrack_objects))
    return sections


def _in_a_fresh_interpreter(function, *args):
    """Run a section in a new Python process: section 10 starts its emulator in its own process,
    and this one's heap, grown by the sections before (buckets of 100,000 objects in moto),
    would slow it down and not `aws s3 ls`, which runs against it from outside."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def render(profile: Profile, sections: list[Section], minutes: float, load) -> str:
    import boto3
    import moto

    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = "python benchmarks/run.py" + {"full": "", "quick": " --quick"}.get(
        profile.name, " --smoke"
    )
    head = [
        "# s3sizer benchmarks",
        f"Measured by `{command}` ({profile.name} run) on {now}, in {minutes:.1f} minutes. "
        "Every comparison is a ratio of two figures measured in this same run, on this machine. "
        "Latencies and times are wall-clock; p95 is the nearest-rank 95th percentile "
        "(with fewer than 20 values, the largest).",
        "| machine | |\n| --- | --- |\n"
        f"| cores | {os.cpu_count()} ({_cpu_model()}) |\n"
        f"| Python | {platform.python_version()} ({platform.python_implementation()}) |\n"
        f"| OS | {platform.system()} {platform.release()} |\n"
        f"| moto, boto3 | {moto.__version__}, {boto3.__version__} |\n"
        # Other work on the machine slows everything down: the load says how busy it was.
        f"| load average (1 min), before and after | {load[0]:.2f}, {load[1]:.2f} |",
        "## Summary\n\n" + "\n".join(f"- {line}" for s in sections for line in s.highlights),
    ]
    return "\n\n".join(head + [s.markdown() for s in sections]) + "\n"


def _local_only_environment() -> None:
    """Placeholder credentials and no profile, config file or metadata service: every client
    in this process and its children can only reach the emulator on 127.0.0.1."""
    for name in list(os.environ):
        if name.startswith("S3SIZER_") or name in (
            "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "AWS_REGION",
        ):  # fmt: skip
            del os.environ[name]
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
        # moto in-process routes DynamoDB Streams only at its regional address (section 11).
        AWS_ACCOUNT_ID_ENDPOINT_MODE="disabled",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _progress():
    started = time.perf_counter()

    def step(name: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f} s] {name}", file=sys.stderr, flush=True)

    return step


if __name__ == "__main__":
    sys.exit(main())
