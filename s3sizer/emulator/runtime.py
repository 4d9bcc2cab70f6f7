"""The Lambda runtime: a function's handler runs from its uploaded zip, in warm worker processes.

Each function (each published version) has a pool of workers, bounded by the concurrency setting;
extra invocations wait for a free slot. A worker stays warm between invocations, so its handler
module is imported once; any change of code or configuration retires the pool's workers, and so
do deleting the function and five idle minutes, as Lambda reclaims execution environments.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import lambda_logs
from .code_store import CodeStore, layer_search_paths
from .worker import Outcome, Worker, WorkerSpec

# Placeholder credentials: the emulator accepts any, and the host's must never leak in.
FUNCTION_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "ASIAEMULATORFUNCTION",
    "AWS_SECRET_ACCESS_KEY": "emulator-function-secret",
    "AWS_SESSION_TOKEN": "emulator-function-session",
}
HOST_VARIABLES = ("PATH", "HOME", "LANG", "TMPDIR", "SYSTEMROOT")
LOG_TAIL_BYTES = 4096
IDLE_WORKER_SECONDS = 300.0


@dataclass(frozen=True)
class Invocation:
    """The result of one invocation, as Lambda's Invoke API returns it."""

    request_id: str
    payload: bytes
    function_error: str | None  # "Unhandled" when the function failed
    log_tail: str  # base64 of the last 4 KB of this invocation's log, for X-Amz-Log-Result


class _Pool:
    def __init__(self, concurrency: int):
        self.slots = threading.BoundedSemaphore(concurrency)
        self.lock = threading.Lock()
        self.idle: list[Worker] = []
        self.fingerprint: object = None


class LambdaRuntime:
    def __init__(self, endpoint_url: str, concurrency: int, crash_hook: bool):
        self.endpoint_url = endpoint_url
        self.concurrency = concurrency
        self.crash_hook = crash_hook
        self.code = CodeStore()
        self._pools: dict[str, _Pool] = {}
        self._live: set[Worker] = set()
        self._lock = threading.Lock()
        self._stopping = False
        self._stopped = threading.Event()
        self._host_path = tuple(_host_path())
        threading.Thread(target=self._reap_idle_workers, name="idle-workers", daemon=True).start()

    def invoke(
        self,
        fn: Any,
        event: Any,
        crash_rate: float = 0.0,
        crash_seed: int = 0,
        on_start: Callable[[], None] = lambda: None,
    ) -> Invocation:
        """Run one invocation of moto's LambdaFunction `fn` and write its log lines;
        `on_start` is called once it holds one of the function's concurrency slots."""
        request_id = str(uuid.uuid4())
        try:
            spec, notes = self._spec_for(fn)
        except _CannotRun as error:
            return _failed(request_id, error.document)
        fingerprint = (spec, fn.timeout, _identity(fn))
        pool = self._pool(fn.function_arn)
        with pool.slots:
            on_start()  # the wait for a slot is part of an event's age, as Lambda counts it
            worker, cold_failure = self._check_out(pool, fingerprint, spec)
            started = time.monotonic()
            started_ms = int(time.time() * 1000)
            outcome = cold_failure or worker.invoke(
                {
                    "request_id": request_id,
                    "event": event,
                    "invoked_function_arn": fn.function_arn,
                    "deadline_ms": time.time() * 1000 + fn.timeout * 1000,
                    "crash_rate": crash_rate,
                    "crash_seed": crash_seed,
                },
                fn.timeout,
            )
            duration_ms = (time.monotonic() - started) * 1000
            memory = worker.max_memory_mb()
            self._check_in(pool, fingerprint, worker, outcome)
        cold = worker.init_ms if worker.invocations == 1 or cold_failure else None
        timing = (started_ms, duration_ms, memory, cold)
        return self._finish(fn, worker, request_id, outcome, timing, notes)

    def retire(self, function_arn: str) -> None:
        """Stop a deleted function's workers (its versions' too); busy ones after their invocation."""
        with self._lock:
            pools = [
                pool for arn, pool in self._pools.items()
                if arn == function_arn or arn.startswith(function_arn + ":")
            ]  # fmt: skip
        for pool in pools:
            with pool.lock:
                idle, pool.idle, pool.fingerprint = pool.idle, [], None
            for worker in idle:
                self._retire(worker)

    def stop(self) -> None:
        self._stopped.set()
        with self._lock:
            self._stopping = True
            workers = list(self._live)
        for worker in workers:
            worker.kill()
        self.code.remove()

    def _finish(self, fn, worker, request_id, outcome, timing, notes):
        started_ms, duration_ms, memory, init_ms = timing
        from .patches.lambda_ import logging_config

        now = int(time.time() * 1000)
        config = logging_config(fn)
        lines = []
        if worker.invocations == 1:  # a cold start: what happened during init comes first
            lines += [(worker.started_ms, note) for note in notes]
            lines += lambda_logs.application_lines(config, worker.init_output)
        first = len(lines)  # where the invocation's START goes
        lines += lambda_logs.application_lines(config, outcome.output)
        status = None
        if outcome.kind == "ok":
            payload, function_error = outcome.payload.encode(), None
        else:
            document = _error_for(outcome, request_id, fn.timeout)
            payload, function_error = json.dumps(document).encode(), "Unhandled"
            status = "timeout" if outcome.kind == "timeout" else "error"
            message = outcome.error_log or _failure_log(outcome, request_id, fn.timeout, document)
            lines.append((now, message))
        report = {
            "duration_ms": duration_ms, "memory_size": fn.memory_size,
            "max_memory_mb": memory, "init_ms": init_ms, "status": status,
        }  # fmt: skip
        platform = lambda_logs.platform_lines(
            config, request_id, str(fn.version), report, started_ms, now
        )
        if platform:  # START before the invocation's own lines, END and REPORT after them
            lines = [*lines[:first], platform[0], *lines[first:], *platform[1:]]
        lambda_logs.write_log_events(
            fn.account_id, fn.region, lambda_logs.log_group_name(fn.function_name),
            worker.log_stream_name, lines, role_arn=fn.role,
        )  # fmt: skip
        text = "\n".join(message for _, message in lines) + "\n"
        tail = base64.b64encode(text.encode()[-LOG_TAIL_BYTES:]).decode()
        return Invocation(request_id, payload, function_error, tail)

    def _check_out(self, pool: _Pool, fingerprint, spec: WorkerSpec):
        """A warm worker of the current configuration, or a new one (and why it failed to start)."""
        with pool.lock:
            stale = []
            if pool.fingerprint != fingerprint:
                stale, pool.idle, pool.fingerprint = pool.idle, [], fingerprint
            warm = pool.idle.pop() if pool.idle else None
        for worker in stale:
            self._retire(worker)
        if warm is not None and warm.alive:
            warm.invocations += 1
            return warm, None
        worker = Worker(spec, _new_stream_name(spec))
        worker.invocations = 1
        with self._lock:
            self._live.add(worker)
            stopping = self._stopping
        if stopping:
            self._retire(worker)
            return worker, Outcome("crash", exit_description="the emulator is stopping")
        return worker, worker.wait_ready()

    def _check_in(self, pool: _Pool, fingerprint, worker: Worker, outcome: Outcome) -> None:
        with pool.lock:
            keep = (
                outcome.kind in ("ok", "error") and worker.alive
                and pool.fingerprint == fingerprint and not self._stopping
            )  # fmt: skip
            if keep:
                worker.idle_since = time.monotonic()
                pool.idle.append(worker)
        if not keep:
            self._retire(worker)

    def _reap_idle_workers(self) -> None:
        while not self._stopped.wait(IDLE_WORKER_SECONDS / 10):
            oldest_kept = time.monotonic() - IDLE_WORKER_SECONDS
            with self._lock:
                pools = list(self._pools.values())
            for pool in pools:
                with pool.lock:
                    expired = [w for w in pool.idle if w.idle_since < oldest_kept]
                    pool.idle = [w for w in pool.idle if w.idle_since >= oldest_kept]
                for worker in expired:
                    self._retire(worker)

    def _retire(self, worker: Worker) -> None:
        worker.kill()
        with self._lock:
            self._live.discard(worker)

    def _pool(self, function_arn: str) -> _Pool:
        with self._lock:
            return self._pools.setdefault(function_arn, _Pool(self.concurrency))

    def _spec_for(self, fn) -> tuple[WorkerSpec, list[str]]:
        if getattr(fn, "package_type", "Zip") != "Zip" or not fn.code_bytes:
            raise _CannotRun({
                "errorType": "Runtime.InvalidEntrypoint",
                "errorMessage": "The emulator runs only functions deployed as a .zip file archive",
            })  # fmt: skip
        task_root = self.code.function_dir(fn.code_bytes, getattr(fn, "code_digest", None))
        layer_paths, notes = self._layer_paths(fn)
        env = {name: os.environ[name] for name in HOST_VARIABLES if name in os.environ}
        env.update({str(k): str(v) for k, v in (fn.environment_vars or {}).items()})
        env.update(self._reserved_variables(fn, task_root))
        spec = WorkerSpec(
            env=tuple(sorted(env.items())),
            cwd=str(task_root),
            path=(str(task_root), *layer_paths, *self._host_path),
            crash_hook=self.crash_hook,
        )
        return spec, notes

    def _layer_paths(self, fn) -> tuple[list[str], list[str]]:
        from moto.awslambda.utils import get_backend

        backend = get_backend(fn.account_id, fn.region)
        paths: list[str] = []
        notes: list[str] = []
        # Lambda extracts layers into /opt in order, later ones overwriting: they come first here.
        for layer in reversed(fn.layers or []):
            version = backend.layers_versions_by_arn(layer["Arn"])
            if version is None or not version.code_bytes:
                notes.append(f"s3sizer emulator: layer {layer['Arn']} has no content here; skipped")
                continue
            directory, reason = self.code.layer_dir(
                version.code_bytes, getattr(version, "code_digest", None)
            )
            if reason:
                notes.append(
                    f"s3sizer emulator: layer {layer['Arn']} skipped ({reason}); "
                    "the host's site-packages serve instead"
                )
                continue
            paths += [str(path) for path in layer_search_paths(directory)]
        return paths, notes

    def _reserved_variables(self, fn, task_root: Path) -> dict[str, str]:
        from .patches.lambda_ import logging_config

        logging = logging_config(fn)
        levels = {}
        if logging["LogFormat"] == "JSON":
            levels = {"AWS_LAMBDA_LOG_LEVEL": logging["ApplicationLogLevel"]}
        return {
            **levels,
            "AWS_LAMBDA_LOG_FORMAT": logging["LogFormat"],
            **FUNCTION_CREDENTIALS,
            "AWS_REGION": fn.region,
            "AWS_DEFAULT_REGION": fn.region,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            # Nothing from the host's AWS configuration may reach the function.
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": str(fn.version),
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
            "AWS_LAMBDA_LOG_GROUP_NAME": lambda_logs.log_group_name(fn.function_name),
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.run_time}",
            "LAMBDA_TASK_ROOT": str(task_root),
            "_HANDLER": str(fn.handler),
            "TZ": ":UTC",
        }


class _CannotRun(Exception):
    def __init__(self, document: dict):
        super().__init__(document["errorMessage"])
        self.document = document


def _failed(request_id: str, document: dict) -> Invocation:
    return Invocation(request_id, json.dumps(document).encode(), "Unhandled", "")


def _error_for(outcome: Outcome, request_id: str, timeout: float) -> dict:
    """The payload Lambda returns for a failed invocation."""
    if outcome.kind == "error":
        return outcome.error
    if outcome.kind == "timeout":
        return {
            "errorType": "Sandbox.Timedout",
            "errorMessage": f"RequestId: {request_id} Error: Task timed out after {timeout:.2f} seconds",
        }
    return {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: {outcome.exit_description}",
    }


def _failure_log(outcome: Outcome, request_id: str, timeout: float, document: dict) -> str:
    if outcome.kind == "timeout":
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
        return f"{stamp}Z {request_id} Task timed out after {timeout:.2f} seconds"
    return f"{document['errorMessage']}\n{document['errorType']}"


def _identity(fn) -> str:
    """A token per function object: a deleted and re-created function never gets old workers."""
    if not hasattr(fn, "_emulator_identity"):
        fn._emulator_identity = uuid.uuid4().hex
    return fn._emulator_identity


def _new_stream_name(spec: WorkerSpec) -> str:
    version = dict(spec.env).get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
    return lambda_logs.log_stream_name(version, uuid.uuid4().hex)


def _host_path() -> list[str]:
    """The host's import path, without the current directory or an s3sizer source checkout.

    The function must import its own code from its zip, never s3sizer's modules on disk.
    """
    source_root = Path(__file__).resolve().parents[2]
    excluded = {Path.cwd().resolve()}
    if source_root.name not in ("site-packages", "dist-packages"):
        excluded.add(source_root)
    return [entry for entry in sys.path if entry and Path(entry).resolve() not in excluded]
