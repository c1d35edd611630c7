"""Fixtures of the dialogue tests (the doubles live in ``dialogue_doubles``)."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from dialogue_doubles import FakeResponder, say

from dialogflowlite.dialogue.custom_actions import CustomActionExecutor
from dialogflowlite.dialogue.processor import MessageProcessor, TurnResult
from dialogflowlite.io.loader import load_project
from dialogflowlite.shared.domain import Domain


@pytest.fixture
def domain_from(tmp_path: Path) -> Callable[[str], Domain]:
    """Read a domain from YAML text through the real loader."""
    counter = iter(range(1000))

    def read(text: str) -> Domain:
        root = tmp_path / f"domain{next(counter)}"
        root.mkdir()
        (root / "domain.yml").write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return load_project(root, strict=True).domain

    return read


@pytest.fixture
def bot(domain_from) -> Callable[..., MessageProcessor]:
    def build(domain: str | Domain, policy: Any = None, **kwargs: Any) -> MessageProcessor:
        if isinstance(domain, str):
            domain = domain_from(domain)
        kwargs.setdefault("executor", CustomActionExecutor())
        return MessageProcessor(domain, policies=policy, responder=FakeResponder(domain),
                                **kwargs)

    return build


@pytest.fixture
def chat() -> Callable[..., TurnResult]:
    return say
