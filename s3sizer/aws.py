"""The one boto3 Session of the process, its clients, and AWS errors in the user's words."""

from __future__ import annotations

import functools
import re
import threading
from typing import Any

from s3sizer.errors import AwsError, ConfigError, S3SizerError, StackError
from s3sizer.settings import DEFAULT_REGION, Settings

PLACEHOLDER_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


class Aws:
    """Builds the Session once from the global options; every command shares it."""

    def __init__(self, settings: Settings, *, placeholder_credentials: bool = False):
        self.settings = settings
        self.placeholder_credentials = placeholder_credentials
        self._clients: dict[tuple[str, bool], Any] = {}
        self._clients_lock = threading.Lock()  # a baseline's workers ask for theirs at once

    @functools.cached_property
    def session(self):
        import botocore.exceptions

        region = self.settings.region or DEFAULT_REGION
        _check_region(region)
        try:
            session = new_session(profile_name=self.settings.profile, region_name=region)
        except botocore.exceptions.ProfileNotFound as err:
            raise ConfigError(
                f"AWS profile {err.kwargs.get('profile', self.settings.profile)!r} not found",
                "check --profile / AWS_PROFILE against ~/.aws/config",
            ) from None
        local = self.settings.is_local
        if local and (self.placeholder_credentials or session.get_credentials() is None):
            # A local endpoint needs no account: any key pair is accepted there.
            session = new_session(region_name=region, **PLACEHOLDER_CREDENTIALS)
        # A listing page carries a thousand LastModified values, and botocore reads each with
        # dateutil's general parser: most of a baseline's own time went there.
        factory = session._session.get_component("response_parser_factory")
        factory.set_parser_defaults(timestamp_parser=parse_timestamp)
        return session

    @property
    def region(self) -> str:
        return self.session.region_name

    def client(self, service: str, *, validate: bool = True):
        """The command's client of ``service``, built once; ``validate=False`` skips botocore's
        check of each request against the model, for a writer whose requests the code builds
        itself (a baseline's thousands of BatchWriteItems spent a quarter of their time there).

        Kept on this object, not in a cache of the method: that would hold every Aws ever
        made, with its clients, for the life of the process."""
        key = (service, validate)
        with self._clients_lock:
            if key not in self._clients:
                self._clients[key] = self._new_client(service, validate)
            return self._clients[key]

    def _new_client(self, service: str, validate: bool):
        from botocore.config import Config

        # The driver's invocation runs for many seconds; nothing else waits that long.
        read_timeout = 900 if service == "lambda" else 60
        config = Config(
            retries={"max_attempts": 3, "mode": "standard"},
            connect_timeout=5,
            read_timeout=read_timeout,
            # A baseline's workers share the client: one connection each.
            max_pool_connections=32,
            parameter_validation=validate,
        )
        return self.session.client(
            service, endpoint_url=self.settings.endpoint_url or None, config=config
        )

    @functools.cached_property
    def account_id(self) -> str:
        return self.client("sts").get_caller_identity()["Account"]

    @property
    def partition(self) -> str:
        return self.session.get_partition_for_region(self.region)


def parse_timestamp(value):
    """An AWS timestamp as botocore gives it (an aware datetime in UTC): the ISO 8601 form of
    XML and JSON answers read directly, any other form (epoch seconds, RFC 1123) by botocore."""
    from datetime import datetime

    if isinstance(value, str) and value.endswith("Z"):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    from botocore.utils import parse_timestamp as general

    return general(value)


@functools.cache
def _shared_loader(data_path: str | None):
    """The process's botocore data loader (one per AWS_DATA_PATH). Each Session would otherwise
    parse the service models and the endpoints again: a process that builds several (the
    region check, the demo's, a test suite's thousands) spent most of a client's creation
    there."""
    from botocore.loaders import create_loader

    return create_loader(data_path)


def _core_session():
    import botocore.exceptions
    import botocore.session

    core = botocore.session.get_session()
    try:  # extra models or endpoints a user keeps, as botocore's own loader would read them
        data_path = core.get_config_variable("data_path")
    except botocore.exceptions.ProfileNotFound:
        data_path = None  # the Session's own check names the profile, with the fix
    core.register_component("data_loader", _shared_loader(data_path))
    return core


def new_session(**kwargs):
    """A boto3 Session on the process's one data loader (``kwargs``: boto3.Session's)."""
    import boto3

    session = boto3.Session(botocore_session=_core_session(), **kwargs)
    # A named profile that does not exist raises ProfileNotFound here, as a Session of its own
    # would when it built its loader from the profile's settings.
    session._session.get_scoped_config()
    # boto3 adds its own data directory to the loader's search paths on every Session: once is
    # enough for the shared loader.
    paths = session._session.get_component("data_loader").search_paths
    paths[:] = list(dict.fromkeys(paths))
    return session


def _check_region(region: str) -> None:
    core = _core_session()
    known = {
        name
        for partition in core.get_available_partitions()
        for name in core.get_available_regions("s3", partition_name=partition)
    }
    if region not in known:
        raise ConfigError(
            f"Unknown AWS region {region!r}",
            "pass a region such as us-east-1 with --region or AWS_REGION",
        )


def translate(exc: BaseException) -> S3SizerError | None:
    """An AWS or network failure as an S3SizerError with a fix, or None if it is not one."""
    import botocore.exceptions as bx

    if isinstance(exc, S3SizerError):
        return exc
    if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError):
        return ConfigError(
            "No AWS credentials found",
            "set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run `aws configure`",
        )
    if isinstance(exc, bx.EndpointConnectionError | bx.ConnectTimeoutError):
        url = getattr(exc, "kwargs", {}).get("endpoint_url", "the AWS endpoint")
        return ConfigError(
            f"Cannot reach {url}",
            "check the network, or start the local AWS with `s3sizer emulator` and point "
            "--endpoint-url / AWS_ENDPOINT_URL at it",
        )
    if isinstance(exc, bx.ClientError):
        return _client_error(exc)
    if isinstance(exc, bx.BotoCoreError):
        return AwsError(f"AWS request failed: {exc}", "retry with --debug for details")
    return None


def _client_error(exc: Any) -> S3SizerError:
    error = exc.response.get("Error", {})
    code = error.get("Code", "")
    message = error.get("Message", "") or code
    operation = exc.operation_name
    if code in {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "403"}:
        named = re.search(r"perform: ([\w-]+:\w+)", message)
        action = named.group(1) if named else operation
        return AwsError(
            f"Access denied for {action}",
            "grant that action to your credentials, or use --profile with a role that has it",
        )
    if code in {"InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch"}:
        return ConfigError(
            "The AWS credentials were rejected", "check AWS_PROFILE or the access key in use"
        )
    if code == "ExpiredToken" or code == "ExpiredTokenException":
        return ConfigError("The AWS session token has expired", "refresh your credentials")
    if code == "BucketAlreadyExists":
        return StackError(
            "That bucket name is taken by another AWS account",
            "choose another name with --bucket (bucket names are global)",
        )
    return AwsError(f"{operation} failed: {code}: {message}", "retry with --debug for details")
