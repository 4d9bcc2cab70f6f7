"""What the global options and the environment say, resolved once per process."""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass
from urllib.parse import urlparse

from s3sizer.errors import UsageError

DEFAULT_STACK = "s3sizer"
DEFAULT_REGION = "us-east-1"
_STACK_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,30}[a-z0-9]$")


@dataclass(frozen=True)
class Settings:
    """The global options, after the environment has filled the gaps."""

    stack: str = DEFAULT_STACK
    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None

    @property
    def is_local(self) -> bool:
        """True when the endpoint is on loopback: a local AWS such as `s3sizer emulator`."""
        return is_loopback_url(self.endpoint_url)


def resolve(
    stack: str | None = None,
    profile: str | None = None,
    region: str | None = None,
    endpoint_url: str | None = None,
) -> Settings:
    """Fill the options a user left out from S3SIZER_* and the standard AWS variables."""
    if stack is None:
        stack = os.environ.get("S3SIZER_STACK")
    if stack is not None and not stack.strip():
        # An unset variable in a script (`--stack "$STACK"`) must not act on the default stack.
        raise UsageError(
            "The stack name is empty (--stack or S3SIZER_STACK)",
            f"name the stack, or leave both out for {DEFAULT_STACK!r}",
        )
    stack = stack or DEFAULT_STACK
    if not _STACK_NAME.match(stack):
        raise UsageError(
            f"Invalid stack name {stack!r}",
            "use 2 to 32 lower-case letters, digits and hyphens, starting and ending with a "
            "letter or digit",
        )
    endpoint_url = endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
    if endpoint_url and not _valid_endpoint(endpoint_url):
        raise UsageError(
            f"Invalid endpoint URL {endpoint_url!r}", "give a URL such as http://127.0.0.1:4566"
        )
    return Settings(
        stack=stack,
        profile=profile or os.environ.get("AWS_PROFILE") or None,
        region=region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
        endpoint_url=endpoint_url,
    )


def _valid_endpoint(url: str) -> bool:
    """An http(s) URL with a host, and a port (if any) that is a number from 0 to 65535, which
    is what botocore needs before its first request."""
    try:
        parts = urlparse(url)  # raises ValueError for a bracketed host left open
        parts.port  # noqa: B018 - raises ValueError for a port that is not one
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def is_loopback_url(url: str | None) -> bool:
    """True when the URL's host is this machine: `localhost`, 127.0.0.0/8 or ::1."""
    return bool(url) and is_loopback_host(urlparse(url).hostname or "")


def is_loopback_host(host: str) -> bool:
    # A name such as 127.example.com is not loopback: only a literal address or localhost is.
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
