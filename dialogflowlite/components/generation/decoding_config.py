"""The decoding settings of a generator (strategy, beams, sampling, penalties, length).

Kept apart from the decoding code so that reading and checking a config does
not import torch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from dialogflowlite.errors import ComponentConfigError

STRATEGIES = ("greedy", "beam", "sample")
#: settings that count tokens or beams: whole numbers
WHOLE_SETTINGS = ("beam_size", "top_k", "max_length", "no_repeat_ngram_size")
#: settings that scale or cut a distribution: any finite number
REAL_SETTINGS = ("temperature", "top_p", "repetition_penalty", "length_penalty")


@dataclass
class DecodingConfig:
    """How to decode; every setting with its default."""

    strategy: str = "beam"
    beam_size: int = 4
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    max_length: int = 64
    repetition_penalty: float = 1.0
    length_penalty: float = 1.0
    #: no n-gram of this many tokens twice in a reply (0: no limit)
    no_repeat_ngram_size: int = 0
    #: a reply may not end before it holds every slot value it must copy
    require_values: bool = False
    seed: int | None = None

    def __post_init__(self) -> None:
        self._check_kinds()
        if self.strategy not in STRATEGIES:
            raise ComponentConfigError(f"decoding strategy '{self.strategy}' is not known",
                                       hint=f"use one of {', '.join(STRATEGIES)}")
        if self.temperature <= 0:
            raise ComponentConfigError("decoding temperature must be above 0",
                                       hint="use 1.0 for the model's own distribution")
        if not 0 < self.top_p <= 1:
            raise ComponentConfigError("decoding top_p must be in (0, 1]")
        for name, least in (("beam_size", 1), ("max_length", 1), ("top_k", 0)):
            value = getattr(self, name)
            if value < least:
                raise ComponentConfigError(
                    f"decoding {name} must be at least {least}, not {value}",
                    hint="top_k 0 samples from every token" if name == "top_k" else None)
        if self.no_repeat_ngram_size < 0 or self.no_repeat_ngram_size == 1:
            raise ComponentConfigError("decoding no_repeat_ngram_size must be 0 (off) or at "
                                       "least 2", hint="3 forbids repeating any three tokens")
        if self.repetition_penalty <= 0:
            raise ComponentConfigError("decoding repetition_penalty must be above 0",
                                       hint="1.0 means no penalty")

    def _check_kinds(self) -> None:
        """Each setting is of its kind, before any range check compares it.

        YAML hands over what was written (``beam_size: "4"``, ``seed: abc``);
        without this a quoted number fails deep in decoding, on the first reply.
        """
        for name in WHOLE_SETTINGS:
            setattr(self, name, _whole_number(name, getattr(self, name)))
        for name in REAL_SETTINGS:
            value = getattr(self, name)
            if not _is_number(value) or not math.isfinite(value):
                raise ComponentConfigError(
                    f"decoding {name} must be a number, not {value!r}",
                    hint=f"write `{name}: {getattr(DecodingConfig, name)}` or another number")
        if not isinstance(self.require_values, bool):
            raise ComponentConfigError(
                f"decoding require_values must be true or false, not {self.require_values!r}",
                hint="write `require_values: true` (no quotes)")
        if self.seed is not None:
            self.seed = _whole_number("seed", self.seed)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> DecodingConfig:
        """The settings of a ``decoding:`` mapping (null or empty: every default)."""
        if data is not None and not isinstance(data, Mapping):
            raise ComponentConfigError(
                f"decoding must be a mapping of settings, not {data!r}",
                hint="for example `decoding: {strategy: beam, beam_size: 4}`")
        data = dict(data or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ComponentConfigError(f"unknown decoding setting '{unknown[0]}'",
                                       hint=f"known settings: {', '.join(sorted(known))}")
        return cls(**data)


def _is_number(value: Any) -> bool:
    # YAML's true/false are Python ints: a flag is no number here
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _whole_number(name: str, value: Any) -> int:
    """``value`` as an int when it is a whole number (``4`` or ``4.0``), else an error."""
    if _is_number(value) and math.isfinite(value) and value == int(value):
        return int(value)
    raise ComponentConfigError(f"decoding {name} must be a whole number, not {value!r}",
                               hint=f"for example `{name}: 4`")
