"""The lean layer's strip rules and the wheel platform of each runtime, on fake wheels: no pip,
no download."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import pytest

from s3sizer.stack import package
from s3sizer.stack.model import RUNTIME_WHEEL_PLATFORMS
from s3sizer.stack.package import build_layer, is_dead_weight, pip_platforms

# What a layer must keep: everything matplotlib's Agg rendering and numpy import or open.
KEPT = [
    "numpy/__init__.py",
    "numpy/_core/_multiarray_umath.cpython-312-x86_64-linux-gnu.so",
    "numpy/testing/__init__.py",  # a public module that numpy itself imports, not a test suite
    "numpy/_core/tests_helpers.py",  # only a directory named "tests" is a test suite
    "numpy.libs/libscipy_openblas64_-ff651d7f.so",
    "numpy-2.5.5.dist-info/METADATA",
    "numpy-2.5.5.dist-info/RECORD",
    "matplotlib/backends/backend_agg.py",
    "matplotlib/mpl-data/matplotlibrc",
    "matplotlib/mpl-data/fonts/ttf/DejaVuSans.ttf",
    "matplotlib/mpl-data/stylelib/ggplot.mplstyle",
    "PIL/_imaging.cpython-312-x86_64-linux-gnu.so",
    "fontTools/misc/bezierTools.py",
    "kiwisolver/_cext.cpython-312-x86_64-linux-gnu.so",
    "pylab.py",
]
DEAD = [
    "numpy/_core/tests/test_multiarray.py",
    "numpy/_core/tests/data/umath-validation-set-log.csv",
    "matplotlib/tests/baseline_images/test_axes/bar.png",
    "numpy/__init__.pyi",
    "matplotlib/pyplot.pyi",
    "numpy/py.typed",
    "numpy/_core/include/numpy/ndarraytypes.h",
    "numpy/_core/lib/pkgconfig/numpy.pc",
    "numpy/random/lib/libnpyrandom.a",
    "numpy/random/_examples/cython/extending.pyx",
    "numpy/__init__.pxd",
    "numpy/f2py/src/fortranobject.c",
    "contourpy/util/_build_config.hpp",
    "matplotlib/mpl-data/sample_data/goog.npz",
    "matplotlib/__pycache__/__init__.cpython-312.pyc",
    "fonttools-4.68.0.data/data/share/man/man1/ttx.1",
]


@pytest.mark.parametrize("name", KEPT)
def test_what_runs_is_kept(name):
    assert not is_dead_weight(name)


@pytest.mark.parametrize("name", DEAD)
def test_tests_sources_headers_stubs_and_sample_data_are_dead_weight(name):
    assert is_dead_weight(name)


def fake_pip(files: list[str]):
    """Stands in for `pip download`: writes one wheel holding `files` into its --dest."""
    calls = []

    def run(command, **_):
        calls.append(command)
        dest = Path(command[command.index("--dest") + 1])
        with zipfile.ZipFile(dest / "fake-1.0-py3-none-any.whl", "w") as wheel:
            for name in files:
                wheel.writestr(name, f"# contents of {name}\n")
        return _Done()

    run.calls = calls
    return run


class _Done:
    returncode, stdout, stderr = 0, "", ""


def layer_names(layer) -> set[str]:
    return set(zipfile.ZipFile(layer.path).namelist())


def test_the_layer_leaves_the_dead_weight_out(tmp_path):
    # GIVEN wheels holding files that run and files that never do
    run = fake_pip(KEPT + DEAD)

    # WHEN the layer is built
    layer = build_layer("python3.12", "x86_64", cache_dir=tmp_path, run=run)

    # THEN it holds exactly the files that run, under python/
    assert layer_names(layer) == {f"python/{name}" for name in KEPT}


def test_an_unstripped_layer_keeps_everything_and_is_cached_apart(tmp_path):
    lean = build_layer("python3.12", "x86_64", cache_dir=tmp_path, run=fake_pip(KEPT + DEAD))
    full = build_layer(
        "python3.12", "x86_64", cache_dir=tmp_path, run=fake_pip(KEPT + DEAD), strip=False
    )

    assert layer_names(full) == {f"python/{name}" for name in KEPT + DEAD}
    assert full.path != lean.path
    assert package.cached_layer("python3.12", "x86_64", cache_dir=tmp_path) == lean
    assert package.cached_layer("python3.12", "x86_64", cache_dir=tmp_path, strip=False) == full


def test_new_strip_rules_build_a_new_layer_instead_of_reusing_the_cached_one(tmp_path, monkeypatch):
    # GIVEN a layer built and cached under the current rules
    build_layer("python3.12", "x86_64", cache_dir=tmp_path, run=fake_pip(KEPT))

    # WHEN the rules' version changes
    monkeypatch.setattr(package, "STRIP_RULES_VERSION", package.STRIP_RULES_VERSION + 1)

    # THEN the cache has no layer for the new recipe, and a build runs pip again
    assert package.cached_layer("python3.12", "x86_64", cache_dir=tmp_path) is None
    run = fake_pip(KEPT)
    build_layer("python3.12", "x86_64", cache_dir=tmp_path, run=run)
    assert len(run.calls) == 1


@pytest.mark.parametrize("runtime", ["python3.12", "python3.13", "python3.14"])
@pytest.mark.parametrize("architecture,machine", [("x86_64", "x86_64"), ("arm64", "aarch64")])
def test_amazon_linux_2023_runtimes_take_wheels_up_to_manylinux_2_28(
    runtime, architecture, machine
):
    tags = pip_platforms(runtime, architecture)
    assert tags[0] == f"manylinux_2_28_{machine}"
    assert f"manylinux_2_17_{machine}" in tags and f"manylinux2014_{machine}" in tags
    assert not any("2_29" in tag or "2_34" in tag for tag in tags)


def test_every_supported_runtime_has_platforms_and_others_are_refused():
    for runtime in RUNTIME_WHEEL_PLATFORMS:
        assert pip_platforms(runtime, "x86_64")
    for retired in ("python3.10", "python3.11"):  # Amazon Linux 2: AWS refuses new functions
        with pytest.raises(ValueError, match=retired.replace(".", r"\.")):
            pip_platforms(retired, "x86_64")


def test_pip_is_asked_for_the_runtimes_platforms(tmp_path):
    run = fake_pip(KEPT)
    build_layer("python3.13", "arm64", cache_dir=tmp_path, run=run)

    [command] = run.calls
    platforms = [command[i + 1] for i, arg in enumerate(command) if arg == "--platform"]
    assert platforms == pip_platforms("python3.13", "arm64")
    assert command[command.index("--python-version") + 1] == "3.13"


def test_byte_code_compiled_for_the_runtime_ships_beside_each_module(tmp_path, monkeypatch):
    # GIVEN a runtime of the Python running the tests, and a wheel with one module
    runtime = f"python{sys.version_info.major}.{sys.version_info.minor}"
    monkeypatch.setitem(RUNTIME_WHEEL_PLATFORMS, runtime, "manylinux_2_28")
    run = fake_pip(["pkg/__init__.py", "pkg/tests/test_pkg.py"])

    # WHEN the layer is built with byte code from that interpreter
    python = package.runtime_python(runtime)
    layer = build_layer(runtime, "x86_64", cache_dir=tmp_path, run=run, compile_with=python)

    # THEN each kept module has its unchecked-hash .pyc (PEP 552: flags 0b01), tests have none
    tag = sys.implementation.cache_tag
    with zipfile.ZipFile(layer.path) as archive:
        names = set(archive.namelist())
        pyc = archive.read(f"python/pkg/__pycache__/__init__.{tag}.pyc")
    assert names == {"python/pkg/__init__.py", f"python/pkg/__pycache__/__init__.{tag}.pyc"}
    assert int.from_bytes(pyc[4:8], "little") == 0b01
    # and it is cached apart from the layer without byte code
    plain = build_layer(runtime, "x86_64", cache_dir=tmp_path, run=fake_pip(["pkg/__init__.py"]))
    assert plain.path != layer.path


def test_byte_code_from_another_python_version_is_refused(tmp_path):
    other = "python3.13" if sys.version_info[:2] != (3, 13) else "python3.12"
    with pytest.raises(package.LayerBuildError, match="byte code is specific"):
        build_layer(other, "x86_64", cache_dir=tmp_path, run=fake_pip(KEPT),
                    compile_with=sys.executable)  # fmt: skip
