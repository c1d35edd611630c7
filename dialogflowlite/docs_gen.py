"""Generated documentation: the components reference in ``docs/components.md``.

The reference is built from the component registry of the built-in plugins
only, so outside plugins installed on one machine never make the file differ
from another machine's. For every component it gives the name, kind, plugin,
docstring, what it requires and provides, and every setting with its default;
a setting's meaning is the comment written next to it in the ``defaults``
dict of the component's source (above the key, or after it on the same line).

Regenerate with ``python -m dialogflowlite.docs_gen``; ``--check`` exits with 1
when the file is stale (a test does the same).
"""

from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import io
import json
import sys
import tokenize
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from dialogflowlite.components.base import KINDS, Component
from dialogflowlite.plugins.manager import BUILTIN_PLUGINS, PluginInfo, PluginManager, short_name
from dialogflowlite.plugins.registry import ComponentRegistry

DOCS = Path(__file__).resolve().parents[1] / "docs"
COMPONENTS_DOC = DOCS / "components.md"

KIND_TITLES = {
    "tokenizer": "Tokenizers",
    "featurizer": "Featurizers",
    "intent_classifier": "Intent classifiers",
    "entity_extractor": "Entity extractors",
    "response_selector": "Response selectors",
    "policy": "Policies",
    "generator": "Response generators",
}
KIND_SECTIONS = {"policy": "policies:", "generator": "generators:"}
_PRAGMAS = ("noqa", "type:", "pragma", "fmt:")


def builtin_registry() -> ComponentRegistry:
    """The registry of the built-in plugins alone (no entry points, no DFL_DISABLE_PLUGINS)."""
    pm = PluginManager()
    for module_name in BUILTIN_PLUGINS:
        module = importlib.import_module(module_name)
        pm.register_plugin(module, module_name, PluginInfo(module_name, builtin=True))
    return ComponentRegistry(pm)


# ---------------------------------------------------------------- setting notes


def _comments(source: str) -> tuple[dict[int, str], set[int]]:
    """Comment text by line, and the lines that hold nothing but a comment."""
    comments: dict[int, str] = {}
    alone: set[int] = set()
    lines = source.splitlines()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type != tokenize.COMMENT:
            continue
        line = token.start[0]
        # "#:" is the Sphinx form of a comment that documents the next line
        text = token.string.lstrip("#").lstrip(":").strip()
        if text.startswith(_PRAGMAS):
            continue
        comments[line] = text
        if not lines[line - 1][: token.start[1]].strip():
            alone.add(line)
    return comments, alone


def _note(line: int, comments: dict[int, str], alone: set[int]) -> str:
    """The comment that belongs to the key on ``line``: after it, or the block above it."""
    if line in comments and line not in alone:
        return comments[line]
    above: list[str] = []
    previous = line - 1
    while previous in alone:
        above.insert(0, comments[previous])
        previous -= 1
    return " ".join(above)


def _dict_key_notes(
    nodes: list[ast.AST], comments: dict[int, str], alone: set[int]
) -> dict[str, str]:
    notes: dict[str, str] = {}
    for node in nodes:
        for child in ast.walk(node):
            if not isinstance(child, ast.Dict):
                continue
            for key in child.keys:
                if isinstance(key, ast.Constant) and isinstance(key.value, str):
                    note = _note(key.lineno, comments, alone)
                    if note and key.value not in notes:
                        notes[key.value] = note
    return notes


@cache
def _module_notes(module_name: str) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """Per class of the module, and for the module's top level: key -> note."""
    module: ModuleType = sys.modules[module_name]
    try:
        source = inspect.getsource(module)
    except (OSError, TypeError):
        return {}, {}
    tree = ast.parse(source)
    comments, alone = _comments(source)
    classes = {
        node.name: _dict_key_notes([node], comments, alone)
        for node in tree.body
        if isinstance(node, ast.ClassDef)
    }
    top = [node for node in tree.body if not isinstance(node, ast.ClassDef | ast.FunctionDef)]
    return classes, _dict_key_notes(top, comments, alone)


def setting_notes(cls: type[Component]) -> dict[str, str]:
    """What each setting of ``cls`` means, from the comments next to its defaults."""
    notes: dict[str, str] = {}
    for klass in cls.__mro__:
        if not (isinstance(klass, type) and issubclass(klass, Component)):
            continue
        classes, top = _module_notes(klass.__module__)
        for source in (classes.get(klass.__name__, {}), top):
            for key, note in source.items():
                notes.setdefault(key, note)
    return {key: notes[key] for key in cls.defaults if key in notes}


# ---------------------------------------------------------------- rendering


def _value(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    except TypeError:
        text = repr(value)
    return f"`{text}`"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _names(items: tuple[str, ...] | list[str]) -> str:
    return ", ".join(f"`{item}`" for item in items) or "—"


def _docstring(cls: type) -> str:
    return (inspect.getdoc(cls) or "").strip()


def component_section(name: str, cls: type[Component], plugin: str) -> list[str]:
    """The Markdown of one component."""
    lines = [f"### {name}", ""]
    doc = _docstring(cls)
    if doc:
        lines += [doc, ""]
    lines += [
        "| | |",
        "|---|---|",
        f"| kind | `{cls.kind}` |",
        f"| plugin | `{short_name(plugin)}` (built-in) |",
        f"| config.yml section | `{KIND_SECTIONS.get(cls.kind, 'pipeline:')}` |",
        f"| requires | {_names(cls.requires)} |",
        f"| provides | {_names(cls.provides)} |",
        "",
    ]
    if cls.defaults:
        notes = setting_notes(cls)
        lines += ["| setting | default | meaning |", "|---|---|---|"]
        for key, value in cls.defaults.items():
            lines.append(f"| `{key}` | {_cell(_value(value))} | {_cell(notes.get(key, ''))} |")
        lines.append("")
    else:
        lines += ["No settings.", ""]
    if cls.compatible_keys:
        lines += [
            f"Accepted and ignored (settings of other frameworks): {_names(cls.compatible_keys)}.",
            "",
        ]
    return lines


def components_markdown(registry: ComponentRegistry | None = None) -> str:
    """The whole components reference, as Markdown."""
    registry = registry or builtin_registry()
    by_kind: dict[str, list[str]] = {kind: registry.names(kind) for kind in KINDS}
    lines = [
        "# Components reference",
        "",
        "<!-- Generated from the component registry by `python -m dialogflowlite.docs_gen`;",
        "     do not edit by hand. tests/docs/test_components_doc.py fails when it is stale. -->",
        "",
        "Every component that `config.yml` can name, as the built-in plugins register it:",
        "its kind, what it needs from the components before it (`requires`) and adds for",
        "the ones after it (`provides`), and every setting with its default. Settings",
        "left out of `config.yml` take these defaults; an unknown setting is an error that",
        "names the closest known one. Components of outside plugins are listed by",
        "`dialogflowlite plugins` and documented in their own READMEs (for example",
        "[`JiebaTokenizer`](../plugins/dialogflowlite-jieba/README.md) and",
        "[`FuzzyLookupEntityExtractor`](../plugins/dialogflowlite-lookup/README.md)).",
        "",
        "How the pipeline runs is in [nlu.md](nlu.md), the policies in",
        "[policies.md](policies.md), response generation in [responses.md](responses.md).",
        "",
    ]
    for kind in KINDS:
        if by_kind[kind]:
            links = ", ".join(f"[{n}](#{n.lower()})" for n in by_kind[kind])
            lines.append(f"- {KIND_TITLES.get(kind, kind)}: {links}")
    if registry.aliases:
        lines.append("- [Other names](#other-names)")
    lines.append("")
    for kind in KINDS:
        if not by_kind[kind]:
            continue
        lines += [f"## {KIND_TITLES.get(kind, kind)}", ""]
        for name in by_kind[kind]:
            entry = registry.entries[name]
            lines += component_section(name, entry.cls, entry.plugin)
    if registry.aliases:
        lines += [
            "## Other names",
            "",
            "Names from other frameworks that config.yml may use; each stands for a",
            "component above and prints a one-line notice when used.",
            "",
            "| name | stands for |",
            "|---|---|",
        ]
        for alias, target in sorted(registry.aliases.items()):
            lines.append(f"| `{alias}` | [{target}](#{target.lower()}) |")
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def write_components_doc(path: str | Path = COMPONENTS_DOC) -> Path:
    """Write the components reference to ``path`` and return it."""
    path = Path(path)
    path.write_text(components_markdown(), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dialogflowlite.docs_gen",
        description="Write docs/components.md from the component registry.",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="do not write; exit with 1 when the file is out of date",
    )
    parser.add_argument("--out", default=str(COMPONENTS_DOC), help="the file to write")
    args = parser.parse_args(argv)
    if args.check:
        path = Path(args.out)
        current = path.read_text(encoding="utf-8") if path.is_file() else ""
        if current != components_markdown():
            print(f"{path} is out of date: run python -m dialogflowlite.docs_gen", file=sys.stderr)
            return 1
        print(f"{path} is up to date")
        return 0
    print(f"wrote {write_components_doc(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
