"""The first-party plugin packages under plugins/, loaded through their entry points.

Each package is made discoverable the way an editable install does it: a
``.dist-info`` folder written from the package's ``pyproject.toml`` next to
its source folder on ``sys.path`` (no pip, no network, nothing changed in the
environment). Then a project's config.yml uses the component, ``dialogflowlite
plugins`` lists it, and the package's own tests pass.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from plugin_packages import assert_package_tests_pass

from dialogflowlite.cli.main import main
from dialogflowlite.components.nlu.pipeline import NluPipeline, pipeline_problems
from dialogflowlite.io.loader import load_project
from dialogflowlite.plugins.manager import get_plugin_manager, reset_plugin_manager
from dialogflowlite.plugins.registry import get_registry

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"


def _pyproject(package: str) -> dict:
    return tomllib.loads((PLUGINS / package / "pyproject.toml").read_text(encoding="utf-8"))


def make_discoverable(package: str, site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Put ``plugins/<package>`` on sys.path with the metadata an editable install writes."""
    project = _pyproject(package)["project"]
    dist_info = site / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n",
        encoding="utf-8",
    )
    points = project["entry-points"]["dialogflowlite"]
    lines = "".join(f"{name} = {target}\n" for name, target in points.items())
    (dist_info / "entry_points.txt").write_text(f"[dialogflowlite]\n{lines}", encoding="utf-8")
    monkeypatch.syspath_prepend(str(PLUGINS / package))
    monkeypatch.syspath_prepend(str(site))


@pytest.fixture
def first_party(tmp_path, monkeypatch):
    monkeypatch.delenv("DFL_DISABLE_PLUGINS", raising=False)
    for package in ("dialogflowlite-jieba", "dialogflowlite-lookup"):
        make_discoverable(package, tmp_path / "site", monkeypatch)
    reset_plugin_manager()
    try:
        yield
    finally:
        reset_plugin_manager()


@pytest.mark.parametrize(
    ("package", "plugin", "component", "kind"),
    [
        ("dialogflowlite-jieba", "jieba", "JiebaTokenizer", "tokenizer"),
        ("dialogflowlite-lookup", "lookup", "FuzzyLookupEntityExtractor", "entity_extractor"),
    ],
)
def test_each_package_registers_its_component(
    first_party, capsys, package, plugin, component, kind
) -> None:
    project = _pyproject(package)["project"]
    assert list(project["entry-points"]["dialogflowlite"]) == [plugin]
    info = get_plugin_manager().info(plugin)
    assert (info.builtin, info.package, info.version) == (False, package, project["version"])
    entry = get_registry().entries[component]
    assert (entry.plugin, entry.kind) == (plugin, kind)

    assert main(["plugins", "--json"]) == 0
    listed = {p["name"]: p for p in json.loads(capsys.readouterr().out)}
    assert listed[plugin]["contributes"] == {f"{kind}s": [component]}
    assert (PLUGINS / package / "README.md").is_file()


PROJECT = {
    "domain": """
        version: "3.1"
        intents: [greet, order]
        entities: [product]
        """,
    "nlu": """
        version: "3.1"
        nlu:
        - intent: greet
          examples: |
            - 你好
            - 您好
        - intent: order
          examples: |
            - 我想买[华为手机](product)
            - 有没有[小米手环](product)
        - lookup: product
          examples: |
            - 华为手机
            - 小米手环
            - 蓝牙耳机
        """,
    "config": """
        language: zh
        pipeline:
          - name: JiebaTokenizer
          - name: FuzzyLookupEntityExtractor
            threshold: 0.75
        """,
}


def test_a_project_uses_both_components_from_config_yml(first_party, write_project) -> None:
    project = load_project(write_project(**PROJECT), strict=True)
    assert pipeline_problems(project.config, project.nlu) == []
    pipeline = NluPipeline.from_config(project.config, training_data=project.nlu)
    assert [c.name for c in pipeline.components] == ["JiebaTokenizer", "FuzzyLookupEntityExtractor"]
    pipeline.train(project.nlu)
    text = "有蓝牙耳机吗，还有小米手环"
    parsed = pipeline.parse(text)
    assert [t.text for t in parsed.tokens][:3] == ["有", "蓝牙耳机", "吗"]
    assert [(e.entity, e.value, text[e.start : e.end]) for e in parsed.entities] == [
        ("product", "蓝牙耳机", "蓝牙耳机"),
        ("product", "小米手环", "小米手环"),
    ]


def test_a_misspelt_setting_names_its_line(first_party, write_project) -> None:
    files = dict(PROJECT)
    files["config"] = files["config"].replace("threshold", "treshold")
    project = load_project(write_project(**files), strict=True)
    (problem,) = pipeline_problems(project.config, project.nlu)
    assert "treshold" in problem.message
    assert str(problem.position).endswith("config.yml:4:5")  # the component entry
    assert "threshold" in problem.hint


def test_the_lookup_packages_own_tests_pass() -> None:
    assert_package_tests_pass(PLUGINS / "dialogflowlite-lookup")
