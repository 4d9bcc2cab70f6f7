"""moto's WSGI dispatcher, behind a thin layer that makes some services atomic as on AWS.

moto's backends are plain Python objects without locks, and the HTTP server runs each request in
its own thread. DynamoDB requests run one at a time, so that a conditional write or a
TransactWriteItems cannot interleave with another client's; CloudWatch Logs requests too, since
the Lambda runtime writes to the same log streams from other threads. S3 writes hold their own
lock (see patches/s3.py) so that each key's changes and their event sequencers happen in one order.

No lock is ever held while a Lambda handler runs: a handler calls back into this server.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

DYNAMODB_LOCK = threading.Lock()
LOGS_LOCK = threading.RLock()
S3_WRITE_LOCK = threading.RLock()  # re-entrant: a copy or a multipart completion calls put_object

CONTROL_PREFIX = "/_s3sizer/"  # the emulator's own test controls (see lifecycle.py)

_request = threading.local()


@contextmanager
def service_lock(lock) -> Iterator[None]:
    with lock:
        _request.locks_held = getattr(_request, "locks_held", 0) + 1
        try:
            yield
        finally:
            _request.locks_held -= 1


def holding_service_lock() -> bool:
    """True inside a serialized request: a Lambda invoked from here must not run synchronously."""
    return getattr(_request, "locks_held", 0) > 0


def client_address() -> str:
    """The address of the client whose request this thread is serving."""
    return getattr(_request, "remote_addr", "127.0.0.1")


class SerializingApp:
    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        _request.remote_addr = environ.get("REMOTE_ADDR", "127.0.0.1")
        if environ.get("PATH_INFO", "").startswith(CONTROL_PREFIX):  # no bucket name starts so
            return _control(environ["PATH_INFO"])(environ, start_response)
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target.startswith("DynamoDB"):
            lock = DYNAMODB_LOCK
        elif target.startswith("Logs_"):
            lock = LOGS_LOCK
        else:
            return self.app(environ, start_response)
        with service_lock(lock):
            # Build the whole response inside the lock: moto may compute it lazily.
            result = self.app(environ, start_response)
            try:
                body = b"".join(result)
            finally:
                if hasattr(result, "close"):
                    result.close()
        return [body]


def _control(path: str):
    """The emulator's own control that serves this path (lifecycle's answers unknown ones)."""
    if path.startswith(CONTROL_PREFIX + "schedules/"):
        from .scheduler import serve_control
    elif path.startswith(CONTROL_PREFIX + "s3/"):
        from .transitions import serve_control
    else:
        from .lifecycle import serve_control
    return serve_control


def make_app():
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    return SerializingApp(DomainDispatcherApplication(create_backend_app))
