"""How the processor gets parse results: the trained NLU pipeline, or intent syntax alone.

A parser is anything with ``async parse(texts) -> list[Message]``. The agent
wraps its NLU pipeline in :class:`PipelineParser`; a server may swap in one
that batches concurrent requests. A model trained without NLU still
understands ``/intent{"entity": "value"}`` messages through
:class:`IntentSyntaxParser`.
"""

from __future__ import annotations

from typing import Any, Protocol

from dialogflowlite.shared.message import Message


class MessageParser(Protocol):
    """Parses texts into messages (intent, entities, ...), several at once."""

    async def parse(self, texts: list[str]) -> list[Message]:
        """One message per text, in order."""


class IntentSyntaxParser:
    """Understands only ``/intent{...}`` messages (models trained without NLU)."""

    async def parse(self, texts: list[str]) -> list[Message]:
        from dialogflowlite.components.nlu.intent_shortcut import parse_intent_shortcut

        messages = []
        for text in texts:
            parsed = parse_intent_shortcut(text)
            messages.append(parsed if parsed is not None else Message(text=text))
        return messages


class PipelineParser:
    """The trained NLU pipeline (its ``parse_batch`` runs one batched forward pass)."""

    def __init__(self, pipeline: Any) -> None:
        self.pipeline = pipeline

    async def parse(self, texts: list[str]) -> list[Message]:
        if not texts:
            return []
        return list(self.pipeline.parse_batch(list(texts)))
