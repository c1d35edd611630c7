"""The decoding settings of a generator (strategy, beams, sampling, penalties, length).

Kept apart from the decoding code so that reading and checking a config does
not import torch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from dialogflowlite.errors import ComponentConfigError

STRATEGIES = ("greedy", "beam", "sample")


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
        if self.strategy not in STRATEGIES:
            raise ComponentConfigError(f"decoding strategy '{self.strategy}' is not known",
                                       hint=f"use one of {', '.join(STRATEGIES)}")
        if self.temperature <= 0:
            raise ComponentConfigError("decoding temperature must be above 0",
                                       hint="use 1.0 for the model's own distribution")
        if not 0 < self.top_p <= 1:
            raise ComponentConfigError("decoding top_p must be in (0, 1]")
        if self.beam_size < 1 or self.max_length < 1 or self.top_k < 0:
            raise ComponentConfigError("decoding beam_size and max_length must be at least 1, "
                                       "top_k at least 0")
        if self.no_repeat_ngram_size < 0 or self.no_repeat_ngram_size == 1:
            raise ComponentConfigError("decoding no_repeat_ngram_size must be 0 (off) or at "
                                       "least 2", hint="3 forbids repeating any three tokens")
        if self.repetition_penalty <= 0:
            raise ComponentConfigError("decoding repetition_penalty must be above 0",
                                       hint="1.0 means no penalty")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> DecodingConfig:
        data = dict(data or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ComponentConfigError(f"unknown decoding setting '{unknown[0]}'",
                                       hint=f"known settings: {', '.join(sorted(known))}")
        return cls(**data)
