"""The matplotlib layer: built from local wheels (no download), cached, uploaded via S3 if large."""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import boto3
import pytest

from s3sizer.stack.package import build_layer, code_sha256


def make_wheel(directory: Path, name: str = "matplotlib", version: str = "9.9.9") -> Path:
    """A real, installable pure-Python wheel, so pip resolves it with no network."""
    wheel = directory / f"{name}-{version}-py3-none-any.whl"
    dist_info = f"{name}-{version}.dist-info"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(f"{name}/__init__.py", "__version__ = '9.9.9'\n")
        archive.writestr(
            f"{dist_info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        )
        archive.writestr(
            f"{dist_info}/WHEEL",
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        archive.writestr(f"{dist_info}/RECORD", "")
    return wheel


@pytest.fixture
def wheels(tmp_path):
    directory = tmp_path / "wheels"
    directory.mkdir()
    make_wheel(directory)
    return directory


def test_layer_is_built_from_local_wheels_for_the_lambda_platform(wheels, tmp_path):
    calls = []

    def recording_run(command, **kwargs):
        calls.append(command)
        return subprocess.run(command, **kwargs)

    layer = build_layer(
        "python3.12", "x86_64", wheel_dir=wheels, cache_dir=tmp_path, run=recording_run
    )

    names = zipfile.ZipFile(layer.path).namelist()
    assert "python/matplotlib/__init__.py" in names
    [command] = calls
    assert "--only-binary=:all:" in command
    assert command[command.index("--python-version") + 1] == "3.12"
    assert "manylinux2014_x86_64" in command


def test_second_build_comes_from_the_cache_without_running_pip(wheels, tmp_path):
    first = build_layer("python3.12", "x86_64", wheel_dir=wheels, cache_dir=tmp_path)

    def no_pip(*args, **kwargs):
        raise AssertionError("pip ran again")

    second = build_layer("python3.12", "x86_64", wheel_dir=wheels, cache_dir=tmp_path, run=no_pip)

    assert second == first
    assert code_sha256(second.path.read_bytes()) == first.sha256


def test_a_failed_download_says_how_to_avoid_it(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    from s3sizer.stack.package import LayerBuildError

    with pytest.raises(LayerBuildError, match="--layer-arn"):
        build_layer("python3.12", "arm64", wheel_dir=empty, cache_dir=tmp_path)


def test_deploy_publishes_the_layer_once_and_attaches_it_to_plotting(cli, aws, wheels):
    cli("setup")
    cli("deploy", "--wheel-dir", str(wheels))
    lam = boto3.client("lambda")

    again = cli("deploy", "--wheel-dir", str(wheels))

    versions = lam.list_layer_versions(LayerName="s3sizer-matplotlib")["LayerVersions"]
    plotting = lam.get_function_configuration(FunctionName="s3sizer-plotting")
    driver = lam.get_function_configuration(FunctionName="s3sizer-driver")
    assert len(versions) == 1
    assert [layer["Arn"] for layer in plotting["Layers"]] == [versions[0]["LayerVersionArn"]]
    assert "Layers" not in driver or not driver["Layers"]
    assert "Nothing to do" in again.stdout


def test_a_layer_over_the_direct_upload_limit_goes_through_s3(cli, aws, wheels, monkeypatch):
    from s3sizer.stack import plan_deploy

    monkeypatch.setattr(plan_deploy, "DIRECT_UPLOAD_LIMIT", 10)
    cli("setup")

    result = cli("deploy", "--wheel-dir", str(wheels))

    listing = boto3.client("s3").list_objects_v2(Bucket="s3sizer-123456789012-us-east-1")
    assert "publish layer: s3sizer-matplotlib (through s3://" in result.stdout
    assert boto3.client("lambda").list_layer_versions(LayerName="s3sizer-matplotlib")[
        "LayerVersions"
    ]
    # Once Lambda has the layer, the upload is gone: it was s3sizer's, not the user's.
    assert not [o for o in listing.get("Contents", []) if o["Key"].startswith(".s3sizer/")]


def existing_layer_without_building(monkeypatch) -> str:
    """A layer the user already has; building one fails the test."""
    from s3sizer.stack import package

    monkeypatch.setattr(package, "build_layer", lambda *a, **k: pytest.fail("built a layer"))
    empty_zip = b"PK\x05\x06" + b"\0" * 18
    return boto3.client("lambda").publish_layer_version(
        LayerName="shared-matplotlib", Content={"ZipFile": empty_zip}
    )["LayerVersionArn"]


def test_layer_arn_uses_an_existing_layer_without_building(cli, aws, monkeypatch):
    arn = existing_layer_without_building(monkeypatch)
    cli("setup")

    cli("deploy", "--layer-arn", arn)

    plotting = boto3.client("lambda").get_function_configuration(FunctionName="s3sizer-plotting")
    assert [layer["Arn"] for layer in plotting["Layers"]] == [arn]


def test_a_dry_run_after_a_layer_deploy_has_nothing_to_do(cli, aws, wheels, monkeypatch):
    monkeypatch.setenv("S3SIZER_WHEEL_DIR", str(wheels))
    cli("setup")
    cli("deploy", "--layer")

    dry = cli("deploy", "--dry-run")
    plain = cli("deploy")

    assert "Nothing to do" in dry.stdout
    assert "Nothing to do" in plain.stdout


def test_a_plain_deploy_keeps_the_layer_arn_given_before(cli, aws, monkeypatch):
    arn = existing_layer_without_building(monkeypatch)
    cli("setup")
    cli("deploy", "--layer-arn", arn)

    again = cli("deploy")

    assert "Nothing to do" in again.stdout


@pytest.mark.parametrize("flag", ["--no-layer", "--layer"])
def test_a_layer_arn_and_a_layer_flag_together_are_a_usage_error(cli, aws, flag):
    from tests.checks import one_clean_error_line
    from tests.cli.conftest import inventory

    cli("setup")
    before = inventory()
    arn = "arn:aws:lambda:us-east-1:123456789012:layer:shared:1"

    line = one_clean_error_line(cli("deploy", flag, "--layer-arn", arn, "--dry-run", code=2))

    assert f"--layer-arn and {flag} ask for two different layers" in line
    assert inventory() == before


def test_a_no_layer_flag_overrides_a_layer_arn_from_the_environment(cli, aws, monkeypatch):
    monkeypatch.setenv("S3SIZER_LAYER_ARN", "arn:aws:lambda:us-east-1:123456789012:layer:gone:1")
    cli("setup")

    cli("deploy", "--no-layer")

    plotting = boto3.client("lambda").get_function_configuration(FunctionName="s3sizer-plotting")
    assert plotting.get("Layers", []) == []


def stored_config():
    from s3sizer.aws import Aws
    from s3sizer.settings import Settings
    from s3sizer.stack.state import Stack

    return Stack(Aws(Settings(stack="s3sizer", region="us-east-1"))).config


@pytest.mark.parametrize(
    "arn",
    [
        "bogus",
        "arn:aws:lambda:us-east-1:123456789012:function:s3sizer-plotting",
        "arn:aws:lambda:us-east-1:123456789012:layer:no-version",
        "arn:aws:sns:us-east-1:123456789012:layer:x:1",
    ],
)
def test_a_malformed_layer_arn_is_a_usage_error_before_any_request(cli, aws, arn):
    from tests.checks import one_clean_error_line
    from tests.cli.conftest import inventory

    cli("setup")
    before, config = inventory(), stored_config()

    result = cli("deploy", "--layer-arn", arn, code=2)

    line = one_clean_error_line(result)
    assert "is not a Lambda layer version ARN" in line and "--no-layer" in line
    assert "Value error" not in line
    assert inventory() == before and stored_config() == config


def test_an_absent_layer_is_refused_before_anything_changes_and_the_next_deploy_works(
    cli, aws, monkeypatch
):
    from tests.checks import one_clean_error_line
    from tests.cli.conftest import inventory

    existing_layer_without_building(monkeypatch)
    cli("setup")
    cli("deploy", "--no-layer")
    before, config = inventory(), stored_config()
    absent = "arn:aws:lambda:us-east-1:123456789012:layer:shared-matplotlib:7"

    result = cli("deploy", "--layer-arn", absent, code=1)

    line = one_clean_error_line(result)
    assert f"Layer version {absent} does not exist" in line
    assert "Use --no-layer" in line
    assert inventory() == before and stored_config() == config
    assert "Nothing to do" in cli("deploy").stdout


def test_a_layer_of_another_region_is_refused_with_the_fix(cli, aws):
    from tests.checks import one_clean_error_line

    cli("setup")

    result = cli("deploy", "--layer-arn", "arn:aws:lambda:eu-west-1:123456789012:layer:m:1", code=1)

    assert "only layers of its own region (us-east-1)" in one_clean_error_line(result)


@pytest.mark.parametrize("make", ["missing", "file"])
def test_wheel_dir_must_be_an_existing_directory(cli, aws, tmp_path, make):
    from tests.checks import one_clean_error_line

    path = tmp_path / "wheels"
    if make == "file":
        path.write_text("not a directory")
    cli("setup")

    result = cli("deploy", "--wheel-dir", str(path), code=2)

    assert "'--wheel-dir'" in one_clean_error_line(result)
