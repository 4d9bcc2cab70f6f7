"""The emulator as a process: start-up, where it listens, a taken port, and shutdown on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from .helpers import (
    create_function,
    emulator_env,
    invoke,
    poll,
    start_emulator,
    stderr_of,
    wait_for_export_line,
)

pytestmark = pytest.mark.emulator

PID_HANDLER = """
import os, time

def handler(event, context):
    if "started_file" in event:
        with open(event["started_file"], "w") as f:
            f.write(str(os.getpid()))
    time.sleep(event.get("sleep", 0))
    return {"pid": os.getpid()}
"""


def test_start_up_prints_the_export_line_and_serves_plain_boto3(emulator):
    # GIVEN the emulator started on port 0 (see conftest)
    # THEN the export line names the real port, and any AWS client works against it
    assert emulator.endpoint_url == f"http://127.0.0.1:{emulator.port}"
    s3 = emulator.client("s3")
    s3.create_bucket(Bucket="startup-bucket")
    assert "startup-bucket" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert emulator.client("sts").get_caller_identity()["Account"]


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux's socket table")
def test_it_listens_on_loopback_only_by_default(emulator):
    # WHEN we look up the listening socket of the emulator's port in the kernel's table
    listening = [
        line.split()[1]
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
        if line.split()[3] == "0A" and int(line.split()[1].split(":")[1], 16) == emulator.port
    ]
    # THEN it is bound to 127.0.0.1 (0100007F in the table's byte order) and nothing else
    assert listening == [f"0100007F:{emulator.port:04X}"]


def test_a_non_loopback_host_gets_a_warning():
    # GIVEN a host address that is not loopback (TEST-NET-1, not assigned here, so no bind happens)
    process = start_emulator("--host", "192.0.2.1", "--port", "0")
    process.wait(timeout=20)
    lines = stderr_of(process).strip().splitlines()
    # THEN a warning comes first, then the bind failure as one clear error line
    assert lines[0].startswith("Warning: the emulator listens on 192.0.2.1")
    assert lines[1].startswith("Error: Cannot listen on 192.0.2.1:0")
    assert process.returncode == 1


def test_a_taken_port_exits_non_zero_with_one_clear_line():
    # GIVEN a port some other process listens on
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        # WHEN the emulator is asked for that port
        process = start_emulator("--port", str(port))
        stdout, _ = process.communicate(timeout=20)
    # THEN it exits 1 with one line, no traceback, and prints no export line
    assert process.returncode == 1
    assert stderr_of(process).strip() == (
        f"Error: Port {port} on 127.0.0.1 is already in use. "
        "Choose another with --port, or stop the process that holds it"
    )
    assert stdout == ""


def test_sigterm_shuts_down_cleanly_and_leaves_no_worker_process(tmp_path):
    # GIVEN an emulator of its own with warm workers, one of them busy with a long invocation
    aws = wait_for_export_line(start_emulator("--port", "0", env=emulator_env()))
    started = tmp_path / "started"
    try:
        create_function(aws, "shutdown-busy", PID_HANDLER, Timeout=60)
        create_function(aws, "shutdown-idle", PID_HANDLER)
        workers = {invoke(aws, "shutdown-busy")["Body"]["pid"]}
        workers.add(invoke(aws, "shutdown-idle")["Body"]["pid"])
        event = json.dumps({"sleep": 60, "started_file": str(started)}).encode()
        aws.client("lambda").invoke(
            FunctionName="shutdown-busy", InvocationType="Event", Payload=event
        )
        workers.add(int(poll(lambda: started.exists() and started.read_text())))
        assert all(_alive(pid) for pid in workers)
    finally:
        # WHEN it receives SIGTERM
        exit_code = aws.stop(timeout=15)
    # THEN it exits 0 without waiting for the busy handler, and every worker process is gone
    assert exit_code == 0
    assert [pid for pid in workers if _alive(pid)] == []


@pytest.mark.parametrize("entry", ["s3sizer.emulator", "s3sizer emulator"])
def test_sigterm_ends_the_process_promptly_however_much_it_stored(entry):
    # GIVEN an emulator, started either way, holding objects, versions and a warm worker
    aws = wait_for_export_line(start_emulator("--port", "0", env=emulator_env(), entry=entry))
    try:
        s3 = aws.client("s3")
        s3.create_bucket(Bucket="shutdown-state")
        s3.put_bucket_versioning(
            Bucket="shutdown-state", VersioningConfiguration={"Status": "Enabled"}
        )
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda i: s3.put_object(Bucket="shutdown-state", Key=f"k{i % 50}",
                                                  Body=b"x" * i), range(400)))  # fmt: skip
        create_function(aws, "shutdown-prompt", PID_HANDLER)
        invoke(aws, "shutdown-prompt")
    finally:
        # WHEN it receives SIGTERM
        aws.process.send_signal(signal.SIGTERM)
    # THEN it is gone well within the deadline (it used to take tens of seconds after long runs)
    assert poll(lambda: aws.process.poll() is not None, timeout=10)
    assert aws.process.returncode == 0


def _alive(pid: int) -> bool:
    """True for a running process; a zombie has exited and counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
