"""The Lambda runtime: handlers run from their zips in warm worker processes, as Lambda runs them."""

from __future__ import annotations

import json
import os
import re

import pytest
from botocore.exceptions import ClientError

from .helpers import create_function, invoke, poll, read_records, zip_bytes

pytestmark = pytest.mark.emulator

COUNTING_HANDLER = """
import json
import os

invocations = 0  # module state survives between invocations only in a warm worker

def handler(event, context):
    global invocations
    invocations += 1
    return {"invocations": invocations, "pid": os.getpid(), "version": "one"}
"""

INSPECTING_HANDLER = """
import os, sys

def handler(event, context):
    print("to stdout", event.get("say"))
    print("to stderr", event.get("say"), file=sys.stderr)
    return {
        "env": {k: os.environ.get(k) for k in event["names"]},
        "module_file": __file__,
        "context": {
            "function_name": context.function_name,
            "function_version": context.function_version,
            "invoked_function_arn": context.invoked_function_arn,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "aws_request_id": context.aws_request_id,
            "log_group_name": context.log_group_name,
            "log_stream_name": context.log_stream_name,
            "remaining_ms": context.get_remaining_time_in_millis(),
        },
    }
"""

SLOW_HANDLER = """
import os, time

def handler(event, context):
    with open(os.environ["RECORD_FILE"], "a") as f:
        f.write('{"pid": %d}\\n' % os.getpid())
    time.sleep(event.get("sleep", 0))
    return {"pid": os.getpid()}
"""

FAILING_HANDLER = """
def handler(event, context):
    raise ValueError("the handler refuses: " + event["why"])
"""

FLAKY_HANDLER = """
import json, os

def handler(event, context):
    path = os.environ["RECORD_FILE"]
    attempt = 1 + (sum(1 for _ in open(path)) if os.path.exists(path) else 0)
    with open(path, "a") as f:
        f.write(json.dumps({"attempt": attempt, "request_id": context.aws_request_id}) + "\\n")
    if attempt < 3:
        raise RuntimeError(f"attempt {attempt} fails")
    return "done"
"""


def test_a_warm_worker_is_reused_and_imports_the_module_once(emulator):
    create_function(emulator, "runtime-warm", COUNTING_HANDLER)
    results = [invoke(emulator, "runtime-warm")["Body"] for _ in range(3)]
    assert [r["invocations"] for r in results] == [1, 2, 3]
    assert len({r["pid"] for r in results}) == 1


def test_new_code_and_new_configuration_replace_the_workers(emulator):
    # GIVEN a warm worker running version "one"
    lam = emulator.client("lambda")
    create_function(emulator, "runtime-update", COUNTING_HANDLER)
    before = invoke(emulator, "runtime-update")["Body"]
    # WHEN the code is updated
    new_source = COUNTING_HANDLER.replace('"one"', '"two"')
    lam.update_function_code(
        FunctionName="runtime-update", ZipFile=zip_bytes({"app.py": new_source})
    )
    after_code = invoke(emulator, "runtime-update")["Body"]
    # THEN the new code runs, in a new worker
    assert (after_code["version"], after_code["invocations"]) == ("two", 1)
    assert after_code["pid"] != before["pid"]
    # AND a configuration change replaces the worker too
    lam.update_function_configuration(FunctionName="runtime-update", MemorySize=256)
    after_config = invoke(emulator, "runtime-update")["Body"]
    assert after_config["invocations"] == 1
    assert after_config["pid"] != after_code["pid"]


def test_the_handler_sees_its_environment_and_a_lambda_context(emulator):
    arn = create_function(
        emulator, "runtime-env", INSPECTING_HANDLER, env={"TABLE_NAME": "t1"}, MemorySize=256
    )
    names = ["TABLE_NAME", "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION",
             "AWS_LAMBDA_FUNCTION_NAME", "AWS_ACCESS_KEY_ID", "LAMBDA_TASK_ROOT"]  # fmt: skip
    body = invoke(emulator, "runtime-env", {"names": names})["Body"]
    env, context = body["env"], body["context"]
    assert env["TABLE_NAME"] == "t1"
    assert env["AWS_ENDPOINT_URL"] == emulator.endpoint_url
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "runtime-env"
    assert env["AWS_ACCESS_KEY_ID"]  # placeholder credentials, never the host's
    # The handler runs from the extracted zip, not from anything on disk here
    assert body["module_file"] == os.path.join(env["LAMBDA_TASK_ROOT"], "app.py")
    assert context["function_name"] == "runtime-env"
    assert context["function_version"] == "$LATEST"
    assert context["invoked_function_arn"] == arn
    assert context["memory_limit_in_mb"] == "256"
    assert context["log_group_name"] == "/aws/lambda/runtime-env"
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", context["log_stream_name"])
    assert 0 < context["remaining_ms"] <= 3000


def test_output_and_start_end_report_lines_reach_the_log_group(emulator):
    create_function(emulator, "runtime-logs", INSPECTING_HANDLER)
    request_id = invoke(emulator, "runtime-logs", {"names": [], "say": "hello-logs"})["Body"][
        "context"
    ]["aws_request_id"]
    events = emulator.client("logs").filter_log_events(logGroupName="/aws/lambda/runtime-logs")
    messages = [e["message"] for e in events["events"]]
    assert f"START RequestId: {request_id} Version: $LATEST" in messages
    assert "to stdout hello-logs" in messages
    assert "to stderr hello-logs" in messages
    assert f"END RequestId: {request_id}" in messages
    report = next(m for m in messages if m.startswith(f"REPORT RequestId: {request_id}"))
    assert "\tDuration: " in report and "\tInit Duration: " in report


@pytest.mark.parametrize("may_create", [True, False], ids=["role-creates", "role-cannot"])
def test_a_deleted_log_group_comes_back_only_if_the_role_may_create_it(emulator, may_create):
    # GIVEN a function whose role may, or may not, create log groups, and its group deleted
    name = f"runtime-group-{'creates' if may_create else 'cannot'}"
    iam = emulator.client("iam")
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    actions = ["logs:CreateLogStream", "logs:PutLogEvents"]
    if may_create:
        actions.append("logs:CreateLogGroup")
    iam.put_role_policy(RoleName=name, PolicyName="logs", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
    }))  # fmt: skip
    create_function(emulator, name, INSPECTING_HANDLER, Role=role)
    logs = emulator.client("logs")
    logs.create_log_group(logGroupName=f"/aws/lambda/{name}")  # as a stack makes its own
    invoke(emulator, name, {"names": [], "say": "first"})
    events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
    assert "to stdout first" in [e["message"] for e in events]
    logs.delete_log_group(logGroupName=f"/aws/lambda/{name}")

    # WHEN it is invoked again
    invoke(emulator, name, {"names": [], "say": "second"})

    # THEN the group is back with the new lines, or stays gone with them
    groups = logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{name}")["logGroups"]
    assert [g["logGroupName"] for g in groups] == ([f"/aws/lambda/{name}"] if may_create else [])
    if may_create:
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
        assert "to stdout second" in [e["message"] for e in events]


def test_a_handler_exception_is_reported_as_lambda_reports_it(emulator):
    create_function(emulator, "runtime-raise", FAILING_HANDLER)
    response = invoke(emulator, "runtime-raise", {"why": "because"})
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert response["Body"]["errorType"] == "ValueError"
    assert response["Body"]["errorMessage"] == "the handler refuses: because"
    assert "line 3, in handler" in response["Body"]["stackTrace"][0]


def test_a_timeout_kills_the_worker_and_the_next_invocation_works(emulator, tmp_path):
    # GIVEN a function with a one-second timeout
    records = tmp_path / "records"
    create_function(
        emulator, "runtime-timeout", SLOW_HANDLER, Timeout=1, env={"RECORD_FILE": str(records)}
    )
    # WHEN an invocation runs past it
    response = invoke(emulator, "runtime-timeout", {"sleep": 30})
    # THEN it fails as Lambda reports a timeout, and the worker process is gone
    assert response["FunctionError"] == "Unhandled"
    assert response["Body"]["errorType"] == "Sandbox.Timedout"
    assert response["Body"]["errorMessage"].endswith("Task timed out after 1.00 seconds")
    killed = read_records(records)[0]["pid"]
    assert not _alive(killed)
    # AND the next invocation runs in a new worker
    assert invoke(emulator, "runtime-timeout")["Body"]["pid"] != killed


def test_a_timed_out_invocation_s_report_gives_its_peak_memory(emulator, tmp_path):
    """Lambda's REPORT line of a timeout has its Max Memory Used, as every other's."""
    import base64
    import re

    create_function(emulator, "runtime-timeout-report", SLOW_HANDLER, Timeout=1,
                    env={"RECORD_FILE": str(tmp_path / "records")})  # fmt: skip
    response = emulator.client("lambda").invoke(
        FunctionName="runtime-timeout-report", Payload=b'{"sleep": 30}', LogType="Tail"
    )
    tail = base64.b64decode(response["LogResult"]).decode()
    report = next(line for line in tail.splitlines() if line.startswith("REPORT"))
    assert "Status: timeout" in report
    assert re.search(r"Max Memory Used: [1-9][0-9]* MB", report), report


def test_event_invocations_return_at_once_and_are_retried_twice(emulator, tmp_path):
    records = tmp_path / "attempts"
    create_function(emulator, "runtime-retry", FLAKY_HANDLER, env={"RECORD_FILE": str(records)})
    response = emulator.client("lambda").invoke(
        FunctionName="runtime-retry", InvocationType="Event", Payload=b"{}"
    )
    assert response["StatusCode"] == 202
    attempts = poll(lambda: len(read_records(records)) == 3 and read_records(records))
    assert [a["attempt"] for a in attempts] == [1, 2, 3]
    assert len({a["request_id"] for a in attempts}) == 3


# Each invocation's span, written as it ends: how many ran at once is read from the spans.
SPAN_HANDLER = """
import json, os, time

def handler(event, context):
    start = time.time()
    time.sleep(event.get("sleep", 0))
    with open(os.environ["RECORD_FILE"], "a") as f:
        f.write(json.dumps({"pid": os.getpid(), "start": start, "end": time.time()}) + "\\n")
    return {}
"""


def test_concurrency_per_function_is_bounded(emulator, tmp_path):
    # GIVEN the default bound of 4 workers per function, and 8 slow events at once
    records = tmp_path / "spans"
    create_function(emulator, "runtime-bound", SPAN_HANDLER, env={"RECORD_FILE": str(records)})
    for _ in range(8):
        emulator.client("lambda").invoke(
            FunctionName="runtime-bound", InvocationType="Event", Payload=b'{"sleep": 0.3}'
        )
    # THEN all run, side by side, but never more than 4 at once. (Counting worker processes
    # instead would count a worker replaced meanwhile, say when the function's configuration
    # settled, which is not a fifth one at once.)
    poll(lambda: len(read_records(records)) == 8)
    spans = read_records(records)
    at_once = max(sum(1 for s in spans if s["start"] <= t["start"] < s["end"]) for t in spans)
    assert 2 <= at_once <= 4


LAYER_HANDLER = """
import importlib.util

def handler(event, context):
    import from_pure_layer
    return {
        "pure": from_pure_layer.VALUE,
        "incompatible": importlib.util.find_spec("from_incompatible_layer") is not None,
    }
"""


def test_layers_are_used_where_they_can_run_here(emulator):
    lam = emulator.client("lambda")
    pure = lam.publish_layer_version(
        LayerName="emulator-pure",
        Content={"ZipFile": zip_bytes({"python/from_pure_layer.py": "VALUE = 'from the layer'"})},
    )["LayerVersionArn"]
    incompatible = lam.publish_layer_version(
        LayerName="emulator-incompatible",
        Content={"ZipFile": zip_bytes({
            "python/from_incompatible_layer.py": "",
            "python/native.cpython-39-aarch64-linux-gnu.so": "not really a shared object",
        })},
    )["LayerVersionArn"]  # fmt: skip
    create_function(emulator, "runtime-layers", LAYER_HANDLER, Layers=[pure, incompatible])
    assert invoke(emulator, "runtime-layers")["Body"] == {
        "pure": "from the layer",
        "incompatible": False,
    }
    events = emulator.client("logs").filter_log_events(logGroupName="/aws/lambda/runtime-layers")
    notes = [e["message"] for e in events["events"] if "skipped" in e["message"]]
    assert len(notes) == 1 and "emulator-incompatible" in notes[0]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_deleting_a_function_stops_its_workers_and_a_re_created_one_starts_cold(emulator):
    create_function(emulator, "runtime-recreated", COUNTING_HANDLER)
    first = invoke(emulator, "runtime-recreated")["Body"]["pid"]
    emulator.client("lambda").delete_function(FunctionName="runtime-recreated")
    assert not _alive(first)
    create_function(emulator, "runtime-recreated", COUNTING_HANDLER)
    assert invoke(emulator, "runtime-recreated")["Body"]["invocations"] == 1


def test_variables_that_lambda_reserves_are_refused(emulator):
    with pytest.raises(ClientError) as refused:
        create_function(emulator, "runtime-reserved", COUNTING_HANDLER, env={"AWS_REGION": "x"})
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "Reserved keys used in this request: AWS_REGION" in str(refused.value)


ECHO_HANDLER = """
def handler(event, context):
    return {"event": event, "version": context.function_version}
"""


def test_any_json_payload_reaches_the_handler_and_a_qualifier_picks_the_version(emulator):
    lam = emulator.client("lambda")
    create_function(emulator, "runtime-echo", ECHO_HANDLER)
    for payload in (None, "a plain string", [1, 2], {"qualifier": "not a version"}):
        response = lam.invoke(FunctionName="runtime-echo", Payload=json.dumps(payload).encode())
        assert json.loads(response["Payload"].read()) == {"event": payload, "version": "$LATEST"}
    version = lam.publish_version(FunctionName="runtime-echo")["Version"]
    response = lam.invoke(FunctionName="runtime-echo", Qualifier=version, Payload=b"{}")
    assert json.loads(response["Payload"].read())["version"] == version
