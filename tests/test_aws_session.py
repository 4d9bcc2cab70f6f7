"""The process's Sessions share one botocore data loader, and still read what each user's
environment names: a missing profile, or a data path of their own."""

from __future__ import annotations

import pytest

from s3sizer.aws import Aws
from s3sizer.errors import ConfigError
from s3sizer.settings import Settings


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
