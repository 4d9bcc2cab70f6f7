"""The local AWS: moto's HTTP server on a port of its own, with the emulator's Lambda runtime."""

from __future__ import annotations

import errno
import ipaddress
import logging
import os
import signal
import socket
import sys
import tempfile
import threading
import time
from typing import TextIO

from s3sizer import collector
from s3sizer.errors import EmulatorError

from .config import FaultDice, load_settings

logger = logging.getLogger("s3sizer.emulator")
logger.addHandler(logging.NullHandler())  # a library stays quiet unless its user configures logging

_active_lock = threading.Lock()
_active: Emulator | None = None  # moto's state is process-wide: one emulator per process
# Rarer young collections: s3sizer.collector says why. And a full collection only after 100
# collections of the middle generation, not 10: a full one walks every object moto holds (two
# of them, 1.4 s, in a setup of a bucket of 100,000 objects whose key items the emulator was
# storing, against its 16.9 s in all), and what the emulator frees is freed by reference
# counts, or young: a request's own cycles die in the young collections.
COLLECTOR_THRESHOLD = (10_000, 10, 100)


class Emulator:
    """A local AWS endpoint for any AWS client: S3, DynamoDB, Lambda, SQS, EventBridge, CloudWatch,
    IAM, STS, Logs and more.

    Example:
        with Emulator() as aws:
            boto3.client("s3", endpoint_url=aws.endpoint_url).list_buckets()
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        concurrency: int | None = None,
        retry_backoff: float | None = None,
        faults: str | None = None,
        lifecycle_day_seconds: float | None = None,
        schedule_minute_seconds: float | None = None,
    ):
        self.host = host
        self.port = port
        self.settings = load_settings(
            concurrency, retry_backoff, faults, lifecycle_day_seconds, schedule_minute_seconds
        )
        self.endpoint_url = ""
        self._server = None
        self._thread: threading.Thread | None = None
        self._warm_up: threading.Thread | None = None
        self._runtime = None
        self._delivery = None
        self._event_sources = None
        self._stream_sources = None
        self._lifecycle = None
        self._scheduler = None

    def start(self) -> Emulator:
        global _active
        # moto's request recorder (moto-api/recorder) writes into the working directory unless
        # told otherwise; a recording belongs with the process's other temporary files.
        os.environ.setdefault(
            "MOTO_RECORDER_FILEPATH",
            os.path.join(tempfile.gettempdir(), f"s3sizer-emulator-{os.getpid()}.recording"),
        )
        from werkzeug.serving import make_server

        from . import http_handler, lifecycle, patches, scheduler, warmup
        from .delivery import AsyncDelivery
        from .runtime import LambdaRuntime
        from .s3_events import Sequencer
        from .sqs_poller import SqsEventSources
        from .stream_poller import StreamEventSources
        from .wsgi import make_app

        with _active_lock:
            if _active is self:
                return self
            if _active is not None:
                raise EmulatorError(
                    f"An emulator already runs in this process at {_active.endpoint_url}",
                    "stop it first, or start the new one in another process",
                )
            listener = _listen(self.host, self.port)
            try:
                server = make_server(
                    self.host, 0, make_app(), threaded=True,
                    request_handler=http_handler.request_handler(), fd=listener.fileno(),
                )  # fmt: skip
            finally:
                listener.close()  # the server holds its own duplicate of the socket
            try:
                self.port = server.port
                self.endpoint_url = f"http://{_url_host(_connect_host(self.host))}:{self.port}"
                _reset_moto()
                dice = FaultDice(self.settings.faults)
                runtime = LambdaRuntime(
                    self.endpoint_url, self.settings.concurrency, crash_hook=dice.rates.crash > 0
                )
                delivery = AsyncDelivery(self.settings.retry_backoff, dice)
                event_sources = SqsEventSources(runtime, dice, self.settings.retry_backoff)
                stream_sources = StreamEventSources(runtime, dice, self.settings.retry_backoff)
                patches.activate(
                    patches.Hooks(
                        runtime, delivery, dice, Sequencer(), event_sources, stream_sources
                    )
                )
                engine = lifecycle.LifecycleEngine(
                    lifecycle.LifecycleClock(self.settings.lifecycle_day_seconds)
                )
                schedules = scheduler.Scheduler(self.settings.schedule_minute_seconds)
            except BaseException:
                server.server_close()
                raise
            self._server, self._runtime, self._delivery = server, runtime, delivery
            self._event_sources = event_sources
            self._stream_sources = stream_sources
            self._lifecycle = engine
            lifecycle.set_engine(engine)
            engine.start()
            self._scheduler = schedules
            scheduler.set_scheduler(schedules)
            schedules.start()
            self._collector = collector.slower(COLLECTOR_THRESHOLD)
            _active = self
        # A short poll interval: stop() waits for the serving loop to notice the shutdown.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
            name="s3sizer-emulator-http", daemon=True,
        )  # fmt: skip
        self._thread.start()
        self._stopping = threading.Event()
        self._warm_up = threading.Thread(
            target=warmup.warm, args=(self.endpoint_url, self._stopping.is_set),
            name="s3sizer-emulator-warm-up", daemon=True,
        )  # fmt: skip
        self._warm_up.start()
        return self

    def stop(self) -> None:
        """Stop delivering events, kill every worker process, and close the HTTP server."""
        global _active
        from . import http_handler, lifecycle, patches, scheduler

        with _active_lock:
            if _active is not self:
                return
            self._stopping.set()  # the warm-up sends nothing more
            scheduler.set_scheduler(None)
            self._scheduler.stop()
            lifecycle.set_engine(None)
            self._lifecycle.stop()
            self._event_sources.stop()
            self._stream_sources.stop()
            self._delivery.stop()
            self._server.shutdown()  # no new requests; requests in flight end with their workers
            self._runtime.stop()
            self._thread.join(timeout=5)
            self._warm_up.join(timeout=5)  # ends at its next request, or with its request's answer
            self._server.server_close()
            http_handler.close_connections(self._server)  # a stopped emulator answers nobody
            patches.deactivate()
            collector.restore(self._collector)
            _active = None

    def run_lifecycle(self, days: float = 0.0) -> dict:
        """Run every bucket's lifecycle rules once, as of `days` lifecycle days from now; what
        it did, as `POST /_s3sizer/lifecycle/advance?days=N` answers it."""
        from dataclasses import asdict

        if self._lifecycle is None:
            raise EmulatorError("The emulator is not running", "start it first")
        return asdict(self._lifecycle.run(days))

    def advance_schedules(self, minutes: float) -> dict:
        """Move the schedule clock `minutes` forward, firing every scheduled rule due on the
        way; what it did, as `POST /_s3sizer/schedules/advance?minutes=N` answers it."""
        if self._scheduler is None:
            raise EmulatorError("The emulator is not running", "start it first")
        return self._scheduler.advance(minutes)

    def transition(
        self, bucket: str, key: str, storage_class: str, version_id: str | None = None
    ) -> dict:
        """Move one object version to a colder storage class and send S3's transition events,
        as `POST /_s3sizer/s3/transition` does."""
        from .transitions import transition

        return transition(bucket, key, storage_class, version_id)

    def wait_idle(self, timeout: float) -> bool:
        """True once no event is queued, waiting to be retried, or running, no queue that an
        event source mapping reads holds a message, and every enabled stream mapping has
        processed every record of its stream."""
        if self._delivery is None:
            return False
        deadline = time.monotonic() + timeout
        while True:
            if not self._delivery.wait_idle(max(deadline - time.monotonic(), 0)):
                return False
            sources_idle = self._event_sources.idle() and self._stream_sources.idle()
            if sources_idle and self._delivery.wait_idle(0):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


def serve(
    host: str = "127.0.0.1",
    port: int = 4566,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> None:
    """Run the emulator in the foreground until SIGINT or SIGTERM, then shut it down cleanly."""
    out = out or sys.stdout
    err = err or sys.stderr
    if not _is_loopback(host):
        print(
            f"Warning: the emulator listens on {host}, so other machines can reach it, and it "
            "checks no credentials. Use --host 127.0.0.1 to keep it on this machine.",
            file=err,
            flush=True,
        )
    stopped = threading.Event()
    previous = _on_signals(lambda *_: stopped.set())
    log_handler = logging.StreamHandler(err)
    log_handler.setFormatter(logging.Formatter("s3sizer emulator: %(message)s"))
    logger.addHandler(log_handler)
    try:
        with Emulator(host, port) as emulator:
            print(f"export AWS_ENDPOINT_URL={emulator.endpoint_url}", file=out, flush=True)
            # Waking now and then: a signal the kernel gave another thread runs its Python
            # handler only once the main thread runs bytecode again.
            while not stopped.wait(0.25):
                pass
        _drop_state()
    finally:
        logger.removeHandler(log_handler)
        _restore_signals(previous)


def _drop_state() -> None:
    """Leave little for the interpreter's exit to do: it would otherwise walk and collect every
    object moto holds, which after a long run took tens of seconds (linear in the objects)."""
    import gc

    _reset_moto()  # frees what the emulator stored, cheaply, while it is known garbage
    gc.collect()
    gc.freeze()  # the interpreter's last collections skip everything still alive


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket, or an EmulatorError that says why there is none."""
    from werkzeug.serving import get_sockaddr, select_address_family

    family = select_address_family(host, port)
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        if os.name == "posix":  # a restart may bind while old connections linger in TIME_WAIT
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(get_sockaddr(host, port, family))
        listener.listen(128)
    except OSError as error:
        listener.close()
        if error.errno == errno.EADDRINUSE:
            raise EmulatorError(
                f"Port {port} on {host} is already in use",
                "choose another with --port, or stop the process that holds it",
            ) from None
        raise EmulatorError(
            f"Cannot listen on {host}:{port}: {error.strerror or error}",
            "check the --host address and the --port number",
        ) from None
    return listener


def _reset_moto() -> None:
    """Each emulator starts from an empty account, whatever ran in this process before."""
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.reset()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _connect_host(host: str) -> str:
    """The address clients use: a wildcard bind is reached through loopback."""
    return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _on_signals(handler):
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}


def _restore_signals(previous) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)
