"""The hand-written guides: links resolve, commands exist, shown output is real, code runs."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from dialogflowlite.cli.main import build_parser, main

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCS = REPO_ROOT / "docs"
GUIDES = ["index.md", "getting-started.md", "plugins.md", "writing-a-plugin.md", "components.md",
          "from-rasa.md"]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = path.read_text(encoding="utf-8")
    text = BLOCK.sub("", text)  # comments in code blocks are not headings
    return {_slug(m.group(1)) for m in re.finditer(r"^#+ (.+)$", text, re.MULTILINE)}


def _blocks(name: str, language: str) -> list[str]:
    text = (DOCS / name).read_text(encoding="utf-8")
    return [code for lang, code in BLOCK.findall(text) if lang == language]


@pytest.mark.parametrize("name", GUIDES)
def test_relative_links_and_anchors_resolve(name: str) -> None:
    page = DOCS / name
    text = BLOCK.sub("", page.read_text(encoding="utf-8"))
    for target in LINK.findall(text):
        if re.match(r"^[a-z]+:", target):
            continue  # an outside address
        file, _, anchor = target.partition("#")
        resolved = (page.parent / file).resolve() if file else page
        assert resolved.exists(), f"{name}: link to missing {target}"
        if anchor and resolved.suffix == ".md":
            assert anchor in _anchors(resolved), f"{name}: no heading for #{anchor} in {file}"


def test_the_index_links_every_page() -> None:
    text = (DOCS / "index.md").read_text(encoding="utf-8")
    linked = {target.partition("#")[0] for target in LINK.findall(text)}
    pages = {p.name for p in DOCS.glob("*.md")} - {"index.md"}
    missing = sorted(pages - linked)
    assert missing == [], f"docs/index.md does not link {missing}"


def _commands(name: str) -> list[list[str]]:
    found = []
    for code in _blocks(name, "bash"):
        for line in code.splitlines():
            line = line.split(" #", 1)[0].strip()
            for part in line.split("&&"):
                if part.strip().startswith("dialogflowlite "):
                    found.append(shlex.split(part)[1:])
    return found


@pytest.mark.parametrize("name", ["getting-started.md", "writing-a-plugin.md", "from-rasa.md"])
def test_every_command_shown_exists_with_its_options(name: str) -> None:
    commands = _commands(name)
    assert commands
    parser = build_parser()
    for words in commands:
        try:
            parser.parse_args(words)
        except SystemExit as e:  # argparse refuses with 2; --version exits with 0
            if e.code:
                pytest.fail(f"{name}: `dialogflowlite {' '.join(words)}` does not parse")


def _pip_install_words(text: str) -> set[str]:
    """Every argument of the ``pip install`` commands in the bash blocks of ``text``."""
    words: set[str] = set()
    for language, code in BLOCK.findall(text):
        if language != "bash":
            continue
        for line in code.splitlines():
            for part in line.split(" #", 1)[0].split("&&"):
                if part.strip().startswith("pip install "):
                    words.update(shlex.split(part)[2:])
    return words


def test_getting_started_installs_as_the_readme_does() -> None:
    readme = _pip_install_words((REPO_ROOT / "README.md").read_text(encoding="utf-8"))
    guide_text = (DOCS / "getting-started.md").read_text(encoding="utf-8")
    assert readme, "the README shows no pip install command"
    missing = sorted(readme - _pip_install_words(guide_text))
    assert missing == [], f"getting-started.md does not install {missing} as the README does"
    for step in ("init", "train", "shell", "test", "run"):
        assert f"dialogflowlite {step}" in guide_text


def test_the_plugin_new_output_shown_is_what_the_command_prints(
    tmp_path, monkeypatch, capsys
) -> None:
    (shown,) = _blocks("writing-a-plugin.md", "text")
    monkeypatch.chdir(tmp_path)
    assert main(["plugin", "new", "sentiment"]) == 0
    assert capsys.readouterr().out == shown
    names = {
        p.relative_to(tmp_path / "dialogflowlite-sentiment").as_posix()
        for p in (tmp_path / "dialogflowlite-sentiment").rglob("*")
        if p.is_file()
    }
    guide = (DOCS / "writing-a-plugin.md").read_text(encoding="utf-8")
    for file in names:
        assert f"`{file}`" in guide, f"writing-a-plugin.md does not describe {file}"


def test_the_guides_example_component_works() -> None:
    from dialogflowlite.errors import ComponentConfigError
    from dialogflowlite.shared.message import Message

    (code,) = [c for c in _blocks("writing-a-plugin.md", "python") if "class Email" in c]
    namespace: dict = {}
    exec(compile(code, "writing-a-plugin.md", "exec"), namespace)
    extractor = namespace["EmailEntityExtractor"]({"lowercase": True})
    message = Message("write to Ana.Lopez@Example.org or bo@x.io, thanks")
    extractor.process([message])
    assert [(e.entity, e.value, e.start, e.end, e.extractor) for e in message.entities] == [
        ("email", "ana.lopez@example.org", 9, 30, "EmailEntityExtractor"),
        ("email", "bo@x.io", 34, 41, "EmailEntityExtractor"),
    ]
    with pytest.raises(ComponentConfigError, match="lowercse"):
        namespace["EmailEntityExtractor"]({"lowercse": False})
