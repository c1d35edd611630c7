"""The edit that docs/getting-started.md ("Change the bot") asks a new user to make.

Each ``yaml`` block of that section starts with a comment naming its file
(``# data/nlu.yml: ...``); its top-level keys name the list or section of that
file the entries go into. :func:`apply_getting_started_edit` adds them as a
user would, as lines at the end of that section, so the comments and layout of
the template's files stay as they are.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
GUIDE = REPO_ROOT / "docs" / "getting-started.md"
SECTION = "## Change the bot"
YAML_BLOCK = re.compile(r"^```yaml\n(.*?)^```", re.MULTILINE | re.DOTALL)
TOP_LEVEL_KEY = re.compile(r"^([A-Za-z_]+):\s*$")


def guide_edits() -> list[tuple[str, str]]:
    """(file, block) for each yaml block of the guide's "Change the bot" section."""
    text = GUIDE.read_text(encoding="utf-8")
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    edits = []
    for block in YAML_BLOCK.findall(text[start:end if end != -1 else None]):
        first, _, body = block.partition("\n")
        file = first.removeprefix("# ").split(":", 1)[0].strip()
        edits.append((file, body))
    return edits


def _sections(block: str) -> list[tuple[str, list[str]]]:
    """The block's top-level keys, each with the lines under it."""
    sections: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        key = TOP_LEVEL_KEY.match(line)
        if key:
            sections.append((key.group(1), []))
        elif sections:
            sections[-1][1].append(line)
    return sections


def _section_end(lines: list[str], key: str) -> int:
    """The index after the last non-blank line of the file's ``key:`` section."""
    start = next(i for i, line in enumerate(lines) if line.rstrip() == f"{key}:")
    end = start + 1
    for i in range(start + 1, len(lines)):
        if TOP_LEVEL_KEY.match(lines[i]):
            break
        if lines[i].strip():
            end = i + 1
    return end


def apply_getting_started_edit(project: Path) -> list[str]:
    """Add the guide's entries to the project's files; return the files changed."""
    changed = []
    for file, block in guide_edits():
        path = project / file
        lines = path.read_text(encoding="utf-8").splitlines()
        for key, entries in _sections(block):
            end = _section_end(lines, key)
            lines[end:end] = ["", *entries]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        changed.append(file)
    return changed
