"""The process's Sessions share one botocore data loader, and still read what each user's
environment names: a missing profile, or a data path of their own. A command's Aws, with its
clients, goes when the command does."""

from __future__ import annotations

import gc
import weakref

import pytest
from moto import mock_aws

from s3sizer.aws import Aws
from s3sizer.errors import ConfigError
from s3sizer.settings import Settings
from s3sizer.stack.state import Stack


def session_of(**settings):
    return Aws(Settings(stack="s3sizer", region="us-east-1", **settings)).session


def test_two_sessions_share_one_loader_so_models_are_parsed_once():
    first, second = session_of(), session_of()

    loaders = [s._session.get_component("data_loader") for s in (first, second)]
    assert first is not second and loaders[0] is loaders[1]
    paths = loaders[0].search_paths
    assert len(paths) == len(set(paths))  # boto3's own directory added once, not per Session


def test_a_data_path_of_the_users_own_is_searched_first(monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path))

    loader = session_of()._session.get_component("data_loader")

    assert loader.search_paths[0] == str(tmp_path)


@pytest.mark.parametrize("where", ["option", "environment"])
def test_a_missing_profile_is_named_in_one_line(monkeypatch, where):
    if where == "environment":
        monkeypatch.setenv("AWS_PROFILE", "nowhere")
    with pytest.raises(ConfigError, match="AWS profile 'nowhere' not found"):
        session_of(profile="nowhere" if where == "option" else None)


def test_each_client_is_built_once_and_goes_with_its_aws():
    """A process that runs many commands (a test suite, a long-lived server) kept every Aws and
    every client it built while the clients were cached on the method: millions of botocore
    objects that each full collection then walked."""
    aws = Aws(Settings(stack="s3sizer", region="us-east-1"))
    client = aws.client("s3")
    assert aws.client("s3") is client and aws.client("s3", validate=False) is not client
    owner, built = weakref.ref(aws), weakref.ref(client)

    del aws, client
    gc.collect()

    assert owner() is None and built() is None


def test_a_stack_whose_table_was_read_goes_with_its_command():
    with mock_aws():
        stack = Stack(Aws(Settings(stack="s3sizer", region="us-east-1")))
        assert stack.table_description() is None
        assert stack.table_description() is None  # read once: the first answer is kept
        gone = weakref.ref(stack)

        del stack
        gc.collect()

        assert gone() is None
