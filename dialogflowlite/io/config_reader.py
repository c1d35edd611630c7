"""Reading ``config.yml``: language, NLU pipeline, policies and response generators."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dialogflowlite.errors import Position
from dialogflowlite.io import formats
from dialogflowlite.io.problems import ProblemLog
from dialogflowlite.io.yaml import position, to_plain, value_position

#: the recipe of Rasa 3 configs, the only one read here
DEFAULT_RECIPE = "default.v1"

#: config.yml sections that list components
COMPONENT_SECTIONS = ("pipeline", "policies", "generators")


@dataclass
class ComponentConfig:
    """One entry of a component list: its name, its settings and where it was written."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)
    position: Position | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, **self.params}


@dataclass
class ProjectConfig:
    """The parsed ``config.yml``. Empty component lists mean "use the defaults"."""

    language: str = "en"
    pipeline: list[ComponentConfig] = field(default_factory=list)
    policies: list[ComponentConfig] = field(default_factory=list)
    generators: list[ComponentConfig] = field(default_factory=list)
    train: dict[str, Any] = field(default_factory=dict)
    assistant_id: str | None = None
    recipe: str | None = None
    file: Path | None = None

    def section(self, name: str) -> list[ComponentConfig]:
        return getattr(self, name)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form (stored in the trained model's manifest)."""
        return {
            "language": self.language,
            "pipeline": [c.to_dict() for c in self.pipeline],
            "policies": [c.to_dict() for c in self.policies],
            "generators": [c.to_dict() for c in self.generators],
            "train": dict(self.train),
            "assistant_id": self.assistant_id,
            "recipe": self.recipe,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProjectConfig:
        def components(items: list | None) -> list[ComponentConfig]:
            return [
                ComponentConfig(i["name"], {k: v for k, v in i.items() if k != "name"})
                for i in items or []
            ]

        return cls(
            language=data.get("language") or "en",
            pipeline=components(data.get("pipeline")),
            policies=components(data.get("policies")),
            generators=components(data.get("generators")),
            train=dict(data.get("train") or {}),
            assistant_id=data.get("assistant_id"),
            recipe=data.get("recipe"),
        )


#: an ISO 639 code, optionally with a region or script (en, de, zh, pt-BR, zh_Hant)
LANGUAGE_CODE = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*")


def read_config(file: Path, data: Any, log: ProblemLog) -> ProjectConfig:
    """Build a :class:`ProjectConfig` from a parsed ``config.yml``; problems go to ``log``."""
    config = ProjectConfig(file=file)
    if data is None:
        return config
    if not log.expect(file, data, None, data, dict, "config.yml"):
        return config
    log.check_keys(file, data, formats.CONFIG_KEYS, "config.yml")
    language = data.get("language")
    if language is not None:
        where = value_position(file, data, "language")
        hint = ("write an ISO 639 code such as `language: en`, `language: de` or "
                "`language: zh` (one code, not a list)")
        if not isinstance(language, str):
            log.error(where, f"language must be a language code, not {language!r}", hint)
        else:
            config.language = language
            if not LANGUAGE_CODE.fullmatch(language):
                # a warning, as Rasa trains such a config; but spaCy and Duckling read
                # the code, and a name such as "english" fails there much later
                log.warning(where, f"language {language!r} is not a language code", hint)
    config.assistant_id = None if data.get("assistant_id") is None else str(data["assistant_id"])
    config.recipe = None if data.get("recipe") is None else str(data["recipe"])
    if config.recipe not in (None, DEFAULT_RECIPE):
        log.warning(value_position(file, data, "recipe"),
                    f"recipe {config.recipe!r} is not read here: the model is built from "
                    "`pipeline:` and `policies:`, as with Rasa's default.v1",
                    "Rasa's graph recipes (train_schema, predict_schema) have no counterpart; "
                    "list the components under pipeline and policies")
    train = data.get("train")
    if train is not None and log.expect(file, data, "train", train, dict, "'train'"):
        config.train = to_plain(train)
    for section in COMPONENT_SECTIONS:
        items = data.get(section)
        if items is None:
            continue
        if section == "pipeline" and isinstance(items, str):
            log.error(value_position(file, data, section),
                      f"pipeline {items!r} is a Rasa 1 template name, which Rasa 2 and this "
                      "framework no longer read",
                      "list the components: `pipeline:` then `- name: WhitespaceTokenizer`, "
                      "`- name: DIETClassifier`, ... (or leave pipeline out for the default)")
            continue
        if not log.expect(file, data, section, items, list, f"'{section}'"):
            continue
        for index, item in enumerate(items):
            where = position(file, items, index)
            if isinstance(item, str):
                config.section(section).append(ComponentConfig(item, {}, where))
                continue
            if not isinstance(item, dict) or not item.get("name"):
                log.error(
                    where,
                    f"an entry of '{section}' has no `name`",
                    "write `- name: ComponentName` followed by its settings",
                )
                continue
            params = {str(k): to_plain(v) for k, v in item.items() if k != "name"}
            config.section(section).append(ComponentConfig(str(item["name"]), params, where))
    return config
