"""The first-party outside plugin ``plugins/dialogflowlite-keywords``, loaded as users load it.

How the plugin gets loaded: the fixture ``keywords_plugin`` puts the
package's source folder on ``sys.path`` and next to it a ``.dist-info``
folder whose ``METADATA`` and ``entry_points.txt`` are written from the
plugin's own ``pyproject.toml``; that is what an editable install leaves
behind. The plugin manager then finds it through
``importlib.metadata.entry_points(group="dialogflowlite")``, the code path
every installed plugin takes, with no pip, no network and no change to the
environment, so the test runs the same on a clean CI machine (where the
plugin is not installed) as on a development machine (where it usually is:
the fixture's copy comes first on ``sys.path`` then). A slower test also
installs the package with pip into a folder and loads that.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from plugin_packages import assert_package_tests_pass

from dialogflowlite.artifact import ComponentStorage
from dialogflowlite.cli.main import main
from dialogflowlite.components.base import NluContext
from dialogflowlite.errors import ComponentConfigError, UnknownComponentError
from dialogflowlite.io.loader import load_project
from dialogflowlite.plugins.manager import get_plugin_manager, reset_plugin_manager
from dialogflowlite.plugins.registry import get_registry
from dialogflowlite.shared.message import Message

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

REPO_ROOT = Path(__file__).resolve().parents[2]
PLUGIN_ROOT = REPO_ROOT / "plugins" / "dialogflowlite-keywords"
PYPROJECT = tomllib.loads((PLUGIN_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PACKAGE = PYPROJECT["project"]["name"]
VERSION = PYPROJECT["project"]["version"]
ENTRY_POINTS = PYPROJECT["project"]["entry-points"]["dialogflowlite"]


def _fresh_manager() -> None:
    reset_plugin_manager()
    import importlib

    importlib.invalidate_caches()


@pytest.fixture
def keywords_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The plugin made discoverable through its entry point, as an editable install does."""
    site = tmp_path / "site"
    dist_info = site / f"{PACKAGE.replace('-', '_')}-{VERSION}.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {PACKAGE}\nVersion: {VERSION}\n", encoding="utf-8"
    )
    lines = "".join(f"{name} = {target}\n" for name, target in ENTRY_POINTS.items())
    (dist_info / "entry_points.txt").write_text(f"[dialogflowlite]\n{lines}", encoding="utf-8")
    monkeypatch.syspath_prepend(str(PLUGIN_ROOT))
    monkeypatch.syspath_prepend(str(site))
    _fresh_manager()
    try:
        yield site
    finally:
        _fresh_manager()


PROJECT = {
    "domain": """
        version: "3.1"
        intents: [greet, goodbye, book_table, faq]
        responses:
          utter_greet:
          - text: hi
        """,
    "nlu": """
        version: "3.1"
        nlu:
        - intent: greet
          examples: |
            - hello
            - good morning
        - intent: goodbye
          examples: |
            - bye
            - see you later
        - intent: book_table
          examples: |
            - book a table
            - a table for [4](party_size)
            - see you later
        - intent: faq/ask_hours
          examples: |
            - when are you open?
        """,
}


def _project(write_project, pipeline: str) -> Path:
    return write_project(config=f"language: en\npipeline:\n{pipeline}", **PROJECT)


def test_entry_point_loads_the_plugin_with_its_package_and_version(keywords_plugin) -> None:
    # The entry point comes from the fixture's metadata, also where a copy is installed.
    (entry_point,) = [
        e for e in metadata.entry_points(group="dialogflowlite") if e.name == "keywords"
    ]
    assert Path(str(entry_point.dist.locate_file(""))) == keywords_plugin
    pm = get_plugin_manager()
    assert list(ENTRY_POINTS) == ["keywords"]
    info = pm.info("keywords")
    assert not info.builtin
    assert (info.package, info.version) == (PACKAGE, VERSION)
    assert pm.get_plugin("keywords").__name__ == "dialogflowlite_keywords.plugin"


def test_component_from_config_yml_trains_on_project_data(
    keywords_plugin, write_project, tmp_path, caplog
) -> None:
    root = _project(write_project, "  - name: KeywordIntentClassifier\n    case_sensitive: false\n")
    project = load_project(root, strict=True)
    (entry,) = project.config.pipeline
    registry = get_registry()
    cls = registry.get(entry.name, entry.position)
    assert registry.entries[cls.name].plugin == "keywords"
    assert cls.kind == "intent_classifier"

    component = cls(entry.params, position=entry.position)
    with caplog.at_level("WARNING"):
        component.train(
            project.nlu, NluContext(language=project.config.language, domain=project.domain)
        )
    # "see you later" is an example of two intents, so it is no keyword.
    assert "keyword 'see you later'" in caplog.text
    assert "see you later" not in component.keywords

    texts = [
        "Hello! A TABLE FOR 4 please",
        "bye for now",
        "so, when are you open",
        "see you later",
        "hellooo",
    ]
    messages = [Message(text) for text in texts]
    component.process(messages)
    assert [(m.intent, m.confidence) for m in messages] == [
        ("book_table", 1.0),  # the longer keyword wins over "hello"
        ("goodbye", 1.0),
        ("faq", 1.0),
        (None, None),
        (None, None),
    ]

    storage = ComponentStorage(tmp_path / "model" / "keywords")
    component.persist(storage)
    loaded = cls.load(component.config, storage)
    again = [Message(text) for text in texts]
    loaded.process(again)
    assert [m.intent for m in again] == [m.intent for m in messages]


def test_a_wrong_setting_in_config_yml_names_the_line(keywords_plugin, write_project) -> None:
    root = _project(write_project, "  - name: KeywordIntentClassifier\n    case_sensitiv: true\n")
    project = load_project(root, strict=True)
    (entry,) = project.config.pipeline
    with pytest.raises(ComponentConfigError) as info:
        get_registry().get(entry.name)(entry.params, position=entry.position)
    assert "case_sensitive" in info.value.hint
    assert str(info.value.position).endswith("config.yml:3:5")


def test_plugins_command_lists_the_plugin(keywords_plugin, capsys) -> None:
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert f"keywords  ({PACKAGE} {VERSION})" in out
    block = out.split(f"keywords  ({PACKAGE} {VERSION})", 1)[1].split("\n\n")[0]
    assert "intent_classifiers: KeywordIntentClassifier" in block

    assert main(["plugins", "--json"]) == 0
    listed = {p["name"]: p for p in json.loads(capsys.readouterr().out)}
    assert listed["keywords"]["origin"] == f"{PACKAGE} {VERSION}"
    assert listed["keywords"]["builtin"] is False
    assert listed["keywords"]["contributes"] == {"intent_classifiers": ["KeywordIntentClassifier"]}


def test_disable_plugins_hides_it(keywords_plugin, monkeypatch, capsys) -> None:
    monkeypatch.setenv("DFL_DISABLE_PLUGINS", "keywords")
    _fresh_manager()
    assert "keywords" not in get_plugin_manager().infos
    with pytest.raises(UnknownComponentError):
        get_registry().get("KeywordIntentClassifier")
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "KeywordIntentClassifier" not in out
    assert PACKAGE not in out


def test_the_plugins_own_tests_pass() -> None:
    assert_package_tests_pass(PLUGIN_ROOT, timeout=300)


def test_pip_installed_copy_is_found_through_its_entry_point(tmp_path) -> None:
    """A real ``pip install`` of the package (into a folder, not the environment)."""
    pytest.importorskip("setuptools")
    source = tmp_path / "source"
    shutil.copytree(
        PLUGIN_ROOT,
        source,
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build", ".pytest_cache"),
    )
    target = tmp_path / "site"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--no-build-isolation",
            "--disable-pip-version-check",
            "--target",
            str(target),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # A fresh process with the installed folder first on sys.path, as a site folder is.
    env = {**os.environ, "PYTHONPATH": str(target)}
    env.pop("DFL_DISABLE_PLUGINS", None)
    code = (
        "import json\n"
        "from dialogflowlite.plugins.manager import get_plugin_manager\n"
        "pm = get_plugin_manager()\n"
        "info = pm.info('keywords')\n"
        "print(json.dumps([pm.get_plugin('keywords').__file__, info.package, info.version]))\n"
    )
    found = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert found.returncode == 0, found.stderr
    module_file, package, version = json.loads(found.stdout.strip().splitlines()[-1])
    assert Path(module_file).resolve().parent == (target / "dialogflowlite_keywords").resolve()
    assert (package, version) == (PACKAGE, VERSION)
    listed = subprocess.run(
        [sys.executable, "-m", "dialogflowlite.cli.main", "plugins"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert listed.returncode == 0, listed.stderr
    assert f"keywords  ({PACKAGE} {VERSION})" in listed.stdout
