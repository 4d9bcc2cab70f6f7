"""The emulator keeps a client's connection open, as AWS's endpoints do, whatever the bodies."""

from __future__ import annotations

import http.client
import json
import uuid

import pytest
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

CREDENTIALS = Credentials("testing", "testing")
DYNAMODB_HEADERS = {
    "X-Amz-Target": "DynamoDB_20120810.ListTables",
    "Content-Type": "application/x-amz-json-1.0",
}


def _connection(emulator) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=30)


def _send(conn, method: str, path: str, body=b"", headers=None, service: str = "s3") -> None:
    """One request signed as an SDK signs it, on this connection."""
    url = f"http://127.0.0.1:{conn.port}{path}"
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    signer = S3SigV4Auth if service == "s3" else SigV4Auth
    signer(CREDENTIALS, service, "us-east-1").add_auth(request)
    conn.request(method, path, body=body or None, headers=dict(request.headers.items()))


def _answer(conn: http.client.HTTPConnection) -> tuple[int, bytes, str | None]:
    response = conn.getresponse()
    return response.status, response.read(), response.getheader("Connection")


def test_one_connection_serves_many_requests_of_every_service(emulator):
    bucket = f"conn-{uuid.uuid4().hex[:12]}"
    emulator.client("s3").create_bucket(Bucket=bucket)
    conn = _connection(emulator)
    _send(conn, "POST", "/", b"{}", DYNAMODB_HEADERS, service="dynamodb")
    status, body, connection = _answer(conn)
    assert status == 200 and "TableNames" in json.loads(body) and connection is None
    socket_before = conn.sock

    _send(conn, "PUT", f"/{bucket}/k", b"twelve bytes")
    assert _answer(conn)[0] == 200
    _send(conn, "GET", f"/{bucket}/k")
    assert _answer(conn)[:2] == (200, b"twelve bytes")
    _send(conn, "HEAD", f"/{bucket}/missing")
    assert _answer(conn)[0] == 404
    _send(conn, "GET", f"/{bucket}?list-type=2")
    status, body, _ = _answer(conn)
    assert status == 200 and b"<Key>k</Key>" in body
    assert conn.sock is socket_before  # every answer came on the first connection


def test_a_body_nobody_reads_does_not_leak_into_the_next_request(emulator):
    bucket = f"conn-{uuid.uuid4().hex[:12]}"
    emulator.client("s3").create_bucket(Bucket=bucket)
    conn = _connection(emulator)
    # ListObjectsV2 ignores any body; its bytes must not be read as the next request line.
    _send(conn, "GET", f"/{bucket}?list-type=2", b"GET /not-a-request HTTP/1.1\r\n\r\n")
    assert _answer(conn)[0] == 200
    _send(conn, "PUT", f"/{bucket}/after", b"abc")
    assert _answer(conn)[0] == 200
    head = emulator.client("s3").head_object(Bucket=bucket, Key="after")
    assert head["ContentLength"] == 3


def test_a_chunked_body_arrives_whole_and_the_connection_goes_on(emulator):
    bucket = f"conn-{uuid.uuid4().hex[:12]}"
    emulator.client("s3").create_bucket(Bucket=bucket)
    conn = _connection(emulator)
    parts = [b"a" * 70_000, b"b" * 5, b"c" * 1]
    conn.request("PUT", f"/{bucket}/chunked", body=iter(parts), encode_chunked=True)
    assert _answer(conn)[0] == 200
    _send(conn, "GET", f"/{bucket}/chunked")
    assert _answer(conn)[:2] == (200, b"".join(parts))


def test_a_client_that_asks_to_close_is_answered_and_closed(emulator):
    conn = _connection(emulator)
    headers = {**DYNAMODB_HEADERS, "Connection": "close"}
    _send(conn, "POST", "/", b"{}", headers, service="dynamodb")
    status, _, connection = _answer(conn)
    assert status == 200 and connection == "close"


def test_a_chunked_body_that_does_not_parse_is_refused_and_closed(emulator):
    bucket = f"conn-{uuid.uuid4().hex[:12]}"
    conn = _connection(emulator)
    # Said to be chunked, sent raw: "aaaa" is no chunk size a client would send.
    conn.putrequest("PUT", f"/{bucket}/raw")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders(b"a" * 70_000)
    status, _, connection = _answer(conn)
    assert status == 400 and connection == "close"


def test_a_stopped_emulator_answers_no_kept_connection():
    from s3sizer.emulator import Emulator

    with Emulator(port=0) as aws:
        conn = http.client.HTTPConnection("127.0.0.1", aws.port, timeout=30)
        _send(conn, "POST", "/", b"{}", DYNAMODB_HEADERS, service="dynamodb")
        assert _answer(conn)[0] == 200
    with pytest.raises((ConnectionError, http.client.HTTPException)):
        _send(conn, "POST", "/", b"{}", DYNAMODB_HEADERS, service="dynamodb")
        _answer(conn)
