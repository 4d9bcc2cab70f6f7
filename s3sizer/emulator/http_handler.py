"""The emulator's HTTP request handler: werkzeug's, quiet, and keeping connections open.

werkzeug closes every connection: http.server cannot tell where an unread body ends, so after
each answer werkzeug discards whatever else the client sent. Here the body is read whole before
the application runs, so the connection can serve the client's next request, as AWS's endpoints
keep theirs open, and a client's thousands of requests cost no connection and no server thread
each.
"""

from __future__ import annotations

import contextlib
import io
import os
import socket
import threading


class _EndOfFile:
    """A descriptor that is always readable and always at its end: a pipe whose writer is gone."""

    def __init__(self) -> None:
        self._read, write = os.pipe()
        os.close(write)

    def fileno(self) -> int:
        return self._read


_AT_END_OF_FILE = _EndOfFile()


MALFORMED = object()  # a chunked body whose framing does not parse
_LARGEST_CHUNK = 5 * 2**30  # S3's largest single upload; any chunk beyond is not one


def _read_body(stream, headers):
    """The request's body as it came, chunked framing included; None when its end is unknown,
    MALFORMED when its chunks do not parse."""
    if headers.get("Transfer-Encoding", "").strip().lower() == "chunked":
        return _read_chunked(stream)
    length = headers.get("Content-Length")
    if length is None:
        return b""  # HTTP/1.1: no length and no chunks means no body
    try:
        size = int(length)
    except ValueError:
        return None
    return stream.read(size) if size > 0 else b""


def _read_chunked(stream):
    """A chunked body, framing and trailers included, up to its last empty line."""
    parts = []
    while True:
        size_line = stream.readline(65537)
        parts.append(size_line)
        try:
            size = int(size_line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            return MALFORMED
        if not 0 <= size <= _LARGEST_CHUNK:
            return MALFORMED
        if size == 0:
            break
        parts.append(stream.read(size + 2))  # the chunk and its CRLF
    while True:  # trailers, then the empty line
        line = stream.readline(65537)
        parts.append(line)
        if line in (b"\r\n", b"\n", b""):
            return b"".join(parts)


_open_lock = threading.Lock()


def close_connections(server) -> None:
    """End every connection a stopped server still holds open for its clients' next request."""
    with _open_lock:
        connections = list(getattr(server, "open_connections", ()))
    for connection in connections:
        with contextlib.suppress(OSError):  # the client closed it meanwhile
            connection.shutdown(socket.SHUT_RDWR)


def request_handler():
    from werkzeug.serving import WSGIRequestHandler

    class QuietRequestHandler(WSGIRequestHandler):
        """No line per request on stderr; errors are still logged."""

        def log_request(self, *args, **kwargs) -> None:
            pass

        # werkzeug closes every connection: http.server cannot tell where an unread body
        # ends, so after each answer werkzeug discards whatever else the client sent. Here the
        # body is read whole before the application runs, so the connection can serve the
        # client's next request, as AWS's endpoints keep theirs open, and a client's thousands
        # of requests cost no connection and no server thread each.

        def setup(self) -> None:
            super().setup()
            # An answer leaves in several writes (status, headers, body): without this, Nagle's
            # algorithm holds the last one for the client's delayed ACK.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with _open_lock:
                vars(self.server).setdefault("open_connections", set()).add(self.connection)

        def finish(self) -> None:
            with _open_lock:
                vars(self.server).get("open_connections", set()).discard(self.connection)
            super().finish()

        def run_wsgi(self) -> None:
            body = _read_body(self.rfile, self.headers)
            if body is None:  # a body of no declared length: read to the end, then close
                super().run_wsgi()
                return
            if body is MALFORMED:  # where it ends is unknown: answer, and close
                self.send_error(400, "Malformed chunked request body")
                return
            stream, connection = self.rfile, self.connection
            # The application reads the body from memory, and werkzeug's discard finds the
            # buffer's end at once: a descriptor always at end of file, over an empty stream.
            self.rfile, self.connection = io.BytesIO(body), _AT_END_OF_FILE
            self.body_read = True
            try:
                super().run_wsgi()
            finally:
                self.rfile, self.connection, self.body_read = stream, connection, False

        def send_header(self, keyword: str, value: str) -> None:
            keep = getattr(self, "body_read", False) and not self.close_connection
            if keep and keyword.lower() == "connection" and value.lower() == "close":
                return
            super().send_header(keyword, value)

    return QuietRequestHandler
