"""`s3sizer metrics`: the stack's figures as an OpenMetrics/Prometheus endpoint.

A scrape reads the table, never the bucket's objects: the stack's config and its buckets afresh
(a GetItem and a Query, so that a deploy, track or untrack since shows), one BatchGetItem for
every bucket's totals and unfinished uploads, one Query of each bucket's prefixes, and the two
queues' attributes. The result is kept for a few seconds, so scrapers polling together cost one
read. Each routed bucket's notification configuration is read at most once a minute
(s3sizer_bucket_routed), and so are the waits status shows on a fold stack or the direct route
(s3sizer_fold_lag_seconds, s3sizer_delivery_lag_seconds). A read that fails is answered with
s3sizer_up 0 alone.
"""

from __future__ import annotations

import math
import socket
import threading
import time
from collections.abc import Callable, Iterator
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from s3sizer.costs import billing
from s3sizer.costs import storage as st
from s3sizer.settings import is_loopback_host

CACHE_SECONDS = 5.0
# A bucket's notification entry is read at most once a minute: one GET a bucket, which at a
# scrape every 15 s would cost each bucket about $0.07 a month.
ROUTE_CHECK_SECONDS = 60.0
DEFAULT_PORT = 9108
# status's waits where no queue counts them, as gauges (read as often as the routes: one
# GetMetricStatistics each a minute, about $0.43 a month each at CloudWatch's $0.01 per 1,000).
LAG_GAUGES = {
    "fold_lag_s": (
        "s3sizer_fold_lag_seconds",
        "The most the fold ran behind the table's stream in the last 5 minutes: the age of the "
        "newest change of each batch it was sent (Lambda's IteratorAge); no sample when none came.",
    ),
    "delivery_lag_s": (
        "s3sizer_delivery_lag_seconds",
        "The most an asynchronous invocation of the tracker waited in Lambda's queue in the last "
        "5 minutes, on the direct route (Lambda's AsyncEventAge); no sample when none came.",
    ),
}


class StackCollector:
    """A prometheus_client collector of one stack's figures, cached for ``cache_seconds``."""

    def __init__(
        self,
        ctx,
        prices,
        *,
        cache_seconds: float = CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        on_error: Callable[[str], None] = lambda line: None,
    ):
        self.ctx, self.prices = ctx, prices
        self.cache_seconds, self.clock = cache_seconds, clock
        self._lock = threading.Lock()
        self._families: list | None = None
        self._read_at = 0.0
        self._routes: dict = {}
        self._routes_at = -math.inf
        self._lags: dict = {}
        self._lags_at, self._lags_route = -math.inf, None
        self.on_error = on_error
        self._failure: str | None = None

    def describe(self) -> list:
        return []  # no read at registration: the families are known only by reading the table

    def collect(self) -> Iterator:
        with self._lock:
            if self._families is None or self.clock() - self._read_at >= self.cache_seconds:
                self._families = self._read_or_down()
                self._read_at = self.clock()
            families = self._families
        yield from families

    def _read_or_down(self) -> list:
        """The stack's families and s3sizer_up 1; or, when a read fails (the stack torn down,
        a permission gone, AWS unreachable), s3sizer_up 0 alone, as exporters report a target
        they cannot read, and one line on stderr each time the failure changes."""
        from prometheus_client.core import GaugeMetricFamily

        up = GaugeMetricFamily("s3sizer_up", "1 when the last read of the stack succeeded.")
        try:
            self.ctx = _reopened(self.ctx)  # what deploy, track or untrack changed since
            found = self._read()
        except Exception as exc:  # a scrape is answered; the error is shown
            line = _one_line(exc)
            if line != self._failure:
                self.on_error(line)
            self._failure = line
            up.add_metric([], 0)
            return [up]
        self._failure = None
        up.add_metric([], 1)
        return [up, *found]

    def _read(self) -> list:
        from prometheus_client.core import GaugeMetricFamily

        from s3sizer import reports
        from s3sizer.lambdas.usage import usage_items

        def gauge(name: str, doc: str, labels: list[str] | None = None):
            return GaugeMetricFamily(name, doc, labels=labels)

        size = gauge(
            "s3sizer_bucket_size_bytes",
            "Bytes of the current objects, as a listing shows them (status' total_size).",
            ["bucket"],
        )
        objects = gauge("s3sizer_bucket_objects", "Current objects in the bucket.", ["bucket"])
        prefixes = gauge(
            "s3sizer_prefix_size_bytes",
            "Bytes of the current objects under each tracked prefix.",
            ["bucket", "prefix"],
        )
        stored = gauge(
            "s3sizer_storage_bytes",
            "Bytes stored by storage class and state (current, noncurrent, uploads: the parts of "
            "unfinished multipart uploads); class STANDARD when classes are not tracked.",
            ["bucket", "class", "state"],
        )
        cost = gauge(
            "s3sizer_monthly_cost_usd",
            "The storage's monthly cost at the price table's rates (README, What you pay for).",
            ["bucket"],
        )
        history = self.ctx.history.history
        tracked = self.ctx.buckets
        depths = {b.bucket: b.prefix_depth for b in tracked}
        items = usage_items(history, list(depths))
        for bucket, depth in depths.items():
            totals, uploads = items[bucket].get("TOTALS"), items[bucket].get("UPLOADS")
            size.add_metric([bucket], st.number(totals, "total_size"))
            objects.add_metric([bucket], st.number(totals, "object_count"))
            for found in history.prefix_totals(bucket) if depth else []:
                prefixes.add_metric([bucket, found.prefix], found.total_size)
            for storage_class, state, amount in storage_samples(totals, uploads):
                stored.add_metric([bucket, storage_class, state], amount)
            usage = st.usage_of(totals, uploads)
            cost.add_metric([bucket], billing.monthly_cost(usage.billed(), self.prices))
        delivery = reports.delivery_state(self.ctx)
        dead = gauge("s3sizer_dead_letters", "Events waiting in the dead-letter queue.")
        if delivery["dead_letters"] is not None:  # no sample while the queue is gone
            dead.add_metric([], delivery["dead_letters"])
        queued = gauge(
            "s3sizer_queued", "Events waiting in the tracker's queue (none on the direct route)."
        )
        if delivery["queued"] is not None:
            queued.add_metric([], delivery["queued"])
        found = [size, objects, prefixes, stored, cost, dead, queued]
        if any(b.delivery for b in tracked):  # deployed, since the server started too
            routed = gauge(
                "s3sizer_bucket_routed",
                "1 while the bucket's events reach the tracker; 0 once s3sizer's notification "
                "entry, the queue's policy or the stack's rule lost them (run `s3sizer deploy`).",
                ["bucket"],
            )
            for bucket, intact in self._routes_of(tracked).items():
                if intact is not None:  # not known: AWS refused the check
                    routed.add_metric([bucket], int(intact))
            found.append(routed)
        if "fold_dead_letters" in delivery:  # a stack on the fold write path
            fold_dead = gauge(
                "s3sizer_fold_dead_letters",
                "Stream batches the fold gave up on, waiting in its dead-letter queue for redrive.",
            )
            if delivery["fold_dead_letters"] is not None:  # no sample while the queue is gone
                fold_dead.add_metric([], delivery["fold_dead_letters"])
            found.append(fold_dead)
        for field, value in self._lags_of(delivery["delivery"]).items():
            family = gauge(*LAG_GAUGES[field])
            if value is not None:  # no sample: nothing came in the last five minutes
                family.add_metric([], value)
            found.append(family)
        return found

    def _lags_of(self, route: str | None) -> dict:
        """status's fold_lag_s and delivery_lag_s (stack/lag.py), read at most once a minute."""
        if self.clock() - self._lags_at >= ROUTE_CHECK_SECONDS or self._lags_route != route:
            from s3sizer.stack import lag

            self._lags = lag.status_rows(self.ctx.stack, self.ctx.config, route)
            self._lags_at, self._lags_route = self.clock(), route
        return self._lags

    def _routes_of(self, tracked: list) -> dict:
        if self.clock() - self._routes_at >= ROUTE_CHECK_SECONDS or set(self._routes) != {
            b.bucket for b in tracked if b.delivery is not None
        }:
            from s3sizer.stack.delivery import routes_in_place

            self._routes = routes_in_place(self.ctx.stack, self.ctx.config, tracked)
            self._routes_at = self.clock()
        return self._routes


def _reopened(ctx):
    """The context read afresh: the stack's config (write path, route) and its buckets, as a
    command started now would read them (context.open_stack's reads, and one Query)."""
    from s3sizer.context import open_stack

    return open_stack(ctx.aws)


def _one_line(exc: Exception) -> str:
    """What the CLI would print for ``exc``: its problem and fix, or its type and text."""
    from s3sizer.aws import translate
    from s3sizer.errors import S3SizerError

    error = exc if isinstance(exc, S3SizerError) else translate(exc)
    text = str(error) if error is not None else f"{type(exc).__name__}: {exc}"
    return "Error: " + " ".join(text.split())


def storage_samples(totals: dict | None, uploads: dict | None) -> list[tuple[str, str, int]]:
    """(class, state, bytes) for s3sizer_storage_bytes."""
    classes = st.classes_of(totals)
    upload_bytes = st.number(uploads, "bytes")
    if classes is None:
        return [
            ("STANDARD", "current", st.number(totals, "total_size")),
            ("STANDARD", "noncurrent", st.number(totals, "noncurrent_bytes")),
            ("STANDARD", "uploads", upload_bytes),
        ]
    found = []
    for name, counters in sorted(classes.items()):
        found.append((name, "current", st.number(counters, "current_bytes")))
        found.append((name, "noncurrent", st.number(counters, "noncurrent_bytes")))
    return [*found, ("STANDARD", "uploads", upload_bytes)]


def exposure_warning(host: str) -> str | None:
    """The one line `metrics` prints when other machines can reach it."""
    if is_loopback_host(host):
        return None
    return (
        f"Warning: the metrics endpoint listens on {host}, so other machines can read the "
        "stack's sizes and costs, with no credentials. Use --host 127.0.0.1 to keep it on this "
        "machine."
    )


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Quiet(WSGIRequestHandler):
    def log_message(self, format, *args) -> None:  # one line per scrape would drown stderr
        pass


def make(
    ctx,
    prices,
    host: str,
    port: int,
    *,
    cache_seconds: float = CACHE_SECONDS,
    on_error: Callable[[str], None] = lambda line: None,
):
    """A WSGI server (not yet serving) that answers every path with the stack's metrics."""
    from prometheus_client import CollectorRegistry, make_wsgi_app

    registry = CollectorRegistry(auto_describe=False)
    registry.register(StackCollector(ctx, prices, cache_seconds=cache_seconds, on_error=on_error))
    server_class = _Server6 if ":" in host else _Server
    return make_server(
        host, port, make_wsgi_app(registry), server_class=server_class, handler_class=_Quiet
    )


def serve(
    ctx,
    prices,
    host: str,
    port: int,
    on_ready: Callable[[str], None],
    on_error: Callable[[str], None] = lambda line: None,
) -> None:
    """Serve until interrupted (Ctrl-C, or SIGTERM, which the caller turns into one)."""
    from s3sizer.errors import S3SizerError

    try:
        server = make(ctx, prices, host, port, on_error=on_error)
    except OSError as exc:
        raise S3SizerError(
            f"Cannot listen on {host}:{port}: {exc.strerror or exc}",
            "pass another --port (or --host)",
        ) from None
    bound_host, bound_port = server.server_address[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    on_ready(f"http://{shown}:{bound_port}/metrics")
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()
