"""``dialogflowlite plugin new``: the skeleton it writes installs, passes its tests and loads.

The end-to-end test installs the new package in editable mode (``pip install
-e``, as its README says) into a fresh virtual environment. That environment
sees this one's packages through a ``.pth`` file that calls
``site.addsitedir`` (so editable installs here, dialogflowlite among them,
work there too) and nothing from it leaks back. pip runs offline:
``--no-deps --no-build-isolation``.
"""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from plain_data import files_under

from dialogflowlite.cli import plugin_new
from dialogflowlite.cli.main import main
from dialogflowlite.cli.plugin_new import create_plugin, plugin_names, skeleton_files
from dialogflowlite.errors import PluginError

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

REPO_ROOT = Path(__file__).resolve().parents[2]
EXPECTED_FILES = {
    "pyproject.toml",
    "README.md",
    "dialogflowlite_order_lookup/__init__.py",
    "dialogflowlite_order_lookup/plugin.py",
    "dialogflowlite_order_lookup/component.py",
    "tests/test_dialogflowlite_order_lookup.py",
}


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            "sentiment",
            (
                "sentiment",
                "dialogflowlite-sentiment",
                "dialogflowlite_sentiment",
                "SentimentClassifier",
            ),
        ),
        (
            "dialogflowlite-order-lookup",
            (
                "order-lookup",
                "dialogflowlite-order-lookup",
                "dialogflowlite_order_lookup",
                "OrderLookupClassifier",
            ),
        ),
        (
            "Order_Lookup",
            (
                "order-lookup",
                "dialogflowlite-order-lookup",
                "dialogflowlite_order_lookup",
                "OrderLookupClassifier",
            ),
        ),
        (
            "faq-classifier",
            (
                "faq-classifier",
                "dialogflowlite-faq-classifier",
                "dialogflowlite_faq_classifier",
                "FaqClassifier",
            ),
        ),
    ],
)
def test_names_derived_from_the_plugin_name(given: str, expected: tuple[str, ...]) -> None:
    names = plugin_names(given)
    assert (names.entry_point, names.distribution, names.module, names.class_name) == expected


@pytest.mark.parametrize("bad", ["", "9lives", "my plugin", "a--b", "plugin!", "-x", "über"])
def test_a_name_that_cannot_be_a_package_is_refused(bad: str) -> None:
    with pytest.raises(PluginError, match="cannot name a plugin") as info:
        plugin_names(bad)
    assert "lowercase letters" in info.value.hint


def test_the_package_is_written_with_every_placeholder_filled(tmp_path) -> None:
    target = create_plugin("order-lookup", tmp_path)
    assert target == tmp_path / "dialogflowlite-order-lookup"
    assert files_under(target) == EXPECTED_FILES
    for name in EXPECTED_FILES:
        text = (target / name).read_text(encoding="utf-8")
        assert "{{" not in text and "__module__" not in text, name
        if name.endswith(".py"):
            compile(text, name, "exec")
    pyproject = tomllib.loads((target / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["name"] == "dialogflowlite-order-lookup"
    assert pyproject["project"]["entry-points"]["dialogflowlite"] == {
        "order-lookup": "dialogflowlite_order_lookup.plugin"
    }
    assert pyproject["project"]["dependencies"] == ["dialogflowlite>=0.1"]
    component = (target / "dialogflowlite_order_lookup" / "component.py").read_text("utf-8")
    assert 'name = "OrderLookupClassifier"' in component


def test_a_folder_with_files_is_refused_unless_forced(tmp_path, capsys) -> None:
    target = tmp_path / "dialogflowlite-order-lookup"
    target.mkdir()
    (target / "notes.txt").write_text("mine", encoding="utf-8")
    assert main(["plugin", "new", "order-lookup", "--dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert f"folder {target} is not empty" in err and "--force" in err
    assert "Traceback" not in err
    assert files_under(target) == {"notes.txt"}

    assert main(["plugin", "new", "order-lookup", "--dir", str(tmp_path), "--force"]) == 0
    assert files_under(target) == EXPECTED_FILES | {"notes.txt"}
    assert (target / "notes.txt").read_text(encoding="utf-8") == "mine"


def test_cli_prints_the_next_steps(tmp_path, capsys) -> None:
    assert main(["plugin", "new", "order-lookup", "--dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    target = tmp_path / "dialogflowlite-order-lookup"
    assert f"Created the plugin package dialogflowlite-order-lookup in {target}" in out
    assert f"pip install -e {target}" in out
    assert "OrderLookupClassifier" in out
    assert main(["plugin", "new", "Not A Name"]) == 1
    assert "error: 'Not A Name' cannot name a plugin" in capsys.readouterr().err


def test_the_skeleton_ships_as_package_data() -> None:
    """Every skeleton file matches a package-data pattern of pyproject.toml."""
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["dialogflowlite"]
    package = REPO_ROOT / "dialogflowlite"
    shipped = {
        Path(found).resolve()
        for pattern in patterns
        for found in glob.glob(str(package / pattern), recursive=True)
    }
    files = skeleton_files()
    assert len(files) == len(EXPECTED_FILES)
    for relative in files:
        assert (plugin_new.SKELETON / relative).resolve() in shipped, relative


def _venv_with_this_environment(root: Path) -> Path:
    run = {"capture_output": True, "text": True, "timeout": 300}
    made = subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], **run)
    assert made.returncode == 0, made.stderr
    python = root / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], **run
    )
    assert purelib.returncode == 0, purelib.stderr
    here = sysconfig.get_paths()["purelib"]
    Path(purelib.stdout.strip(), "outer_environment.pth").write_text(
        f"import site; site.addsitedir({here!r})\n", encoding="utf-8"
    )
    return python


def test_a_new_plugin_installs_passes_its_tests_and_is_listed(tmp_path) -> None:
    pytest.importorskip("setuptools")
    target = create_plugin("order-lookup", tmp_path / "src")
    python = _venv_with_this_environment(tmp_path / "venv")
    run = {"capture_output": True, "text": True, "timeout": 600}
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DFL_DISABLE_PLUGINS")}

    installed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--no-build-isolation",
            "--disable-pip-version-check",
            "-e",
            str(target),
        ],
        env=env,
        **run,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr

    tested = subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=target, env=env, **run
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "6 passed" in tested.stdout

    listed = subprocess.run(
        [str(python), "-m", "dialogflowlite.cli.main", "plugins", "--json"],
        cwd=tmp_path,
        env=env,
        **run,
    )
    assert listed.returncode == 0, listed.stderr
    plugins = {p["name"]: p for p in json.loads(listed.stdout)}
    assert plugins["order-lookup"]["origin"] == "dialogflowlite-order-lookup 0.1.0"
    assert plugins["order-lookup"]["contributes"] == {
        "intent_classifiers": ["OrderLookupClassifier"]
    }
    # This environment is untouched: the plugin lives only in the temporary one.
    here = subprocess.run(
        [sys.executable, "-m", "dialogflowlite.cli.main", "plugins", "--json"],
        cwd=tmp_path,
        env=env,
        **run,
    )
    assert "order-lookup" not in {p["name"] for p in json.loads(here.stdout)}


def test_the_new_package_is_lint_clean(tmp_path) -> None:
    ruff = subprocess.run([sys.executable, "-m", "ruff", "--version"], capture_output=True)
    if ruff.returncode != 0:
        pytest.skip("ruff is not installed")
    target = create_plugin("order-lookup", tmp_path)
    for args in (["check", "--no-cache", "."], ["format", "--check", "--no-cache", "."]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *args],
            cwd=target,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stdout + result.stderr
