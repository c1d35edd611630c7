"""docs/components.md is generated from the registry, and stays in step with the code."""

from __future__ import annotations

from typing import Any, ClassVar

from dialogflowlite import docs_gen, hookimpl
from dialogflowlite.components.base import NluComponent
from dialogflowlite.docs_gen import (
    COMPONENTS_DOC,
    builtin_registry,
    components_markdown,
    setting_notes,
)


class _Documented(NluComponent):
    """A component only this test knows.

    Its second paragraph.
    """

    name = "DocumentedForTests"
    kind = "entity_extractor"
    requires = ("tokens",)
    provides = ("entities",)
    defaults: ClassVar[dict[str, Any]] = {
        # how many things
        # (said over two lines)
        "count": 3,
        "mode": "fast",  # the speed
        "plain": None,
        #: Sphinx style
        "sphinx": [1, "a|b"],
    }
    compatible_keys = ("old_key",)


def test_docs_components_md_is_up_to_date() -> None:
    expected = components_markdown()
    current = COMPONENTS_DOC.read_text(encoding="utf-8") if COMPONENTS_DOC.is_file() else ""
    assert current == expected, (
        "docs/components.md is out of date: run `python -m dialogflowlite.docs_gen`"
    )


def test_every_builtin_component_has_a_section_with_each_setting() -> None:
    registry = builtin_registry()
    text = components_markdown(registry)
    assert registry.names(), "no built-in components registered"
    for name in registry.names():
        cls = registry.entries[name].cls
        section = text.split(f"\n### {name}\n", 1)[1].split("\n### ", 1)[0]
        assert f"| kind | `{cls.kind}` |" in section
        for key in cls.defaults:
            assert f"| `{key}` |" in section, (name, key)
    for alias, target in registry.aliases.items():
        assert f"| `{alias}` | [{target}](#{target.lower()}) |" in text


def test_outside_plugins_and_the_environment_do_not_change_the_file(
    register_plugin, monkeypatch
) -> None:
    class Plugin:
        @hookimpl
        def dfl_register_components(self):
            return [_Documented]

    register_plugin(Plugin(), "documented")
    monkeypatch.setenv("DFL_DISABLE_PLUGINS", "masking,nlu")
    text = components_markdown()
    assert "DocumentedForTests" not in text
    assert "### RegexFeaturizer" in text
    assert text == COMPONENTS_DOC.read_text(encoding="utf-8")


def test_setting_notes_come_from_the_comments_next_to_the_defaults() -> None:
    assert setting_notes(_Documented) == {
        "count": "how many things (said over two lines)",
        "mode": "the speed",
        "sphinx": "Sphinx style",
    }
    # Keys shared through a module-level dict of a base class are found too.
    from dialogflowlite.components.tokenizers.whitespace import WhitespaceTokenizer

    assert "intent names" in setting_notes(WhitespaceTokenizer)["intent_tokenization_flag"]


def test_a_component_section_shows_everything_the_class_declares() -> None:
    lines = docs_gen.component_section("DocumentedForTests", _Documented, "documented")
    text = "\n".join(lines)
    assert text.startswith("### DocumentedForTests\n\nA component only this test knows.")
    assert "Its second paragraph." in text
    assert "| requires | `tokens` |" in text and "| provides | `entities` |" in text
    assert "| `count` | `3` | how many things (said over two lines) |" in text
    assert '| `mode` | `"fast"` | the speed |' in text
    assert "| `plain` | `null` |  |" in text
    assert '| `sphinx` | `[1, "a\\|b"]` | Sphinx style |' in text
    assert "Accepted and ignored (settings of other frameworks): `old_key`." in text


def test_check_mode_reports_a_stale_file(tmp_path, capsys) -> None:
    stale = tmp_path / "components.md"
    stale.write_text("# old\n", encoding="utf-8")
    assert docs_gen.main(["--check", "--out", str(stale)]) == 1
    assert "out of date" in capsys.readouterr().err
    assert docs_gen.main(["--out", str(stale)]) == 0
    assert docs_gen.main(["--check", "--out", str(stale)]) == 0
    assert stale.read_text(encoding="utf-8") == components_markdown()
