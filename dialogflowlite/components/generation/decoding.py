"""Decoding: turning a model's next-token distributions into a reply.

Strategies: ``greedy``, ``beam`` (beam search with a length penalty) and
``sample`` (temperature, top-k, top-p). All of them apply the repetition
penalty (CTRL's: logits of tokens already generated are divided by it when
positive, multiplied when negative), can forbid repeating any n-gram of
``no_repeat_ngram_size`` tokens (a beam that starts looping, "a restaurant
you have a restaurant you have", cannot go round again), and stop at
``max_length``.

Every hypothesis also carries the *model's* log-probability of its tokens
(temperature 1, no penalties), whose length-normalised value is the score the
guardrails judge: it says how sure the model is, whatever way it was decoded.

A model takes part through the small :class:`StepModel` interface, so the
from-scratch Transformer and pretrained Hugging Face models share this code.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch

from dialogflowlite.components.generation.decoding_config import DecodingConfig


@dataclass
class Hypothesis:
    """A decoded token sequence (without BOS and EOS) and how likely the model finds it."""

    tokens: list[int]
    #: sum of the model's log-probabilities of the tokens and of EOS when finished
    log_prob: float
    finished: bool
    #: the value the search ranked by (penalties, temperature, length penalty applied)
    rank_score: float = 0.0
    token_log_probs: list[float] = field(default_factory=list)

    @property
    def length(self) -> int:
        """Scored positions: the tokens plus EOS when the hypothesis finished."""
        return len(self.tokens) + (1 if self.finished else 0)

    @property
    def score(self) -> float:
        """Length-normalised log-probability (the guardrails' score); 0 is certain."""
        return self.log_prob / max(1, self.length)


class StepModel(Protocol):
    """What decoding needs from a model.

    ``start`` encodes one source for ``batch`` parallel hypotheses and returns
    a state; ``step`` feeds the newest token of each hypothesis and returns
    next-token logits (batch, vocab) and the new state; ``reorder`` keeps the
    given rows of the state.
    """

    bos_id: int
    eos_id: int

    def start(self, source: Any, batch: int) -> Any: ...

    def step(self, state: Any, tokens: torch.Tensor) -> tuple[torch.Tensor, Any]: ...

    def reorder(self, state: Any, index: torch.Tensor) -> Any: ...


def apply_repetition_penalty(logits: torch.Tensor, history: list[list[int]],
                             penalty: float) -> torch.Tensor:
    """Penalise tokens each row has produced before (rows of ``logits`` <-> ``history``)."""
    if penalty == 1.0:
        return logits
    logits = logits.clone()
    for row, seen in enumerate(history):
        if not seen:
            continue
        index = torch.tensor(sorted(set(seen)), dtype=torch.long)
        values = logits[row, index]
        logits[row, index] = torch.where(values > 0, values / penalty, values * penalty)
    return logits


def block_repeated_ngrams(logits: torch.Tensor, history: list[list[int]],
                          size: int) -> torch.Tensor:
    """Forbid each row the tokens that would repeat an n-gram of ``size`` it already has."""
    if size < 2:
        return logits
    blocked = []
    for row, seen in enumerate(history):
        if len(seen) < size:
            continue
        prefix = tuple(seen[len(seen) - size + 1:])
        tokens = {seen[i + size - 1] for i in range(len(seen) - size + 1)
                  if tuple(seen[i:i + size - 1]) == prefix}
        blocked += [(row, token) for token in tokens]
    if not blocked:
        return logits
    logits = logits.clone()
    rows, tokens = zip(*blocked, strict=True)
    logits[list(rows), list(tokens)] = float("-inf")
    return logits


def hold_end(logits: torch.Tensor, history: list[list[int]], required: frozenset[int],
             eos_id: int) -> torch.Tensor:
    """Forbid ending each row that lacks one of the ``required`` tokens."""
    if not required:
        return logits
    rows = [row for row, seen in enumerate(history) if not required.issubset(seen)]
    if not rows:
        return logits
    logits = logits.clone()
    logits[rows, eos_id] = float("-inf")
    return logits


def filter_top_k_top_p(logits: torch.Tensor, top_k: int, top_p: float) -> torch.Tensor:
    """Keep the ``top_k`` best tokens and the smallest set whose probability reaches ``top_p``."""
    logits = logits.clone()
    if top_k > 0 and top_k < logits.shape[-1]:
        threshold = torch.topk(logits, top_k, dim=-1).values[..., -1, None]
        logits[logits < threshold] = float("-inf")
    if top_p < 1.0:
        ordered, order = torch.sort(logits, descending=True, dim=-1)
        cumulative = torch.softmax(ordered, dim=-1).cumsum(dim=-1)
        # drop a token when the tokens before it already reach top_p
        drop = cumulative - torch.softmax(ordered, dim=-1) >= top_p
        drop[..., 0] = False
        logits.scatter_(-1, order, ordered.masked_fill(drop, float("-inf")))
    return logits


@torch.no_grad()
def decode(model: StepModel, source: Any, config: DecodingConfig,
           n_best: int = 1, required: Iterable[int] = ()) -> list[Hypothesis]:
    """Decode ``source`` with ``config``; up to ``n_best`` hypotheses, best first.

    ``required`` tokens (the placeholders of the values a reply must copy)
    must all be written before a hypothesis may end when the config's
    ``require_values`` is set.
    """
    needed = frozenset(required) if config.require_values else frozenset()
    if config.strategy == "beam" and config.beam_size > 1:
        return beam_search(model, source, config, needed)[:max(1, n_best)]
    return [greedy_or_sample(model, source, config, needed)]


@torch.no_grad()
def greedy_or_sample(model: StepModel, source: Any, config: DecodingConfig,
                     required: frozenset[int] = frozenset()) -> Hypothesis:
    """One hypothesis, token by token: the best token (greedy) or a sampled one."""
    sampling = config.strategy == "sample"
    generator = None
    if sampling:
        generator = torch.Generator()
        if config.seed is None:
            # no seed asks for variety: a fixed one would sample the same reply every time
            generator.seed()
        else:
            generator.manual_seed(int(config.seed))
    state = model.start(source, 1)
    tokens: list[int] = []
    token_log_probs: list[float] = []
    rank = 0.0
    last = torch.tensor([model.bos_id])
    finished = False
    for _ in range(config.max_length):
        logits, state = model.step(state, last)
        logits = logits.float()
        model_log_probs = torch.log_softmax(logits, dim=-1)[0]
        processed = apply_repetition_penalty(logits, [tokens], config.repetition_penalty)
        processed = block_repeated_ngrams(processed, [tokens], config.no_repeat_ngram_size)
        processed = hold_end(processed, [tokens], required, model.eos_id)
        if sampling:
            processed = filter_top_k_top_p(processed / config.temperature, config.top_k,
                                           config.top_p)
            probs = torch.softmax(processed, dim=-1)
            choice = int(torch.multinomial(probs[0], 1, generator=generator))
        else:
            choice = int(torch.argmax(processed[0]))
        rank += float(torch.log_softmax(processed, dim=-1)[0, choice])
        token_log_probs.append(float(model_log_probs[choice]))
        if choice == model.eos_id:
            finished = True
            break
        tokens.append(choice)
        last = torch.tensor([choice])
    return Hypothesis(tokens, sum(token_log_probs), finished, rank, token_log_probs)


@dataclass
class _Beam:
    tokens: list[int]
    rank: float
    log_prob: float
    token_log_probs: list[float]


def _normalised(rank: float, length: int, penalty: float) -> float:
    return rank / (max(1, length) ** penalty)


@torch.no_grad()
def beam_search(model: StepModel, source: Any, config: DecodingConfig,
                required: frozenset[int] = frozenset()) -> list[Hypothesis]:
    """Beam search; finished hypotheses ranked by log-probability / length ** length_penalty.

    Stops when ``beam_size`` hypotheses have finished and no open beam, as it
    stands, beats the worst of them, or at ``max_length`` (open beams are
    then returned unfinished, after the finished ones).
    """
    width = config.beam_size
    state = model.start(source, 1)
    beams = [_Beam([], 0.0, 0.0, [])]
    finished: list[Hypothesis] = []
    last = torch.tensor([model.bos_id])
    for step in range(config.max_length):
        logits, state = model.step(state, last)
        logits = logits.float()
        model_log_probs = torch.log_softmax(logits, dim=-1)
        processed = apply_repetition_penalty(logits, [b.tokens for b in beams],
                                             config.repetition_penalty)
        processed = block_repeated_ngrams(processed, [b.tokens for b in beams],
                                          config.no_repeat_ngram_size)
        processed = hold_end(processed, [b.tokens for b in beams], required, model.eos_id)
        processed = torch.log_softmax(processed, dim=-1)
        totals = processed + torch.tensor([b.rank for b in beams])[:, None]
        vocab = totals.shape[-1]
        candidates = torch.topk(totals.view(-1), min(2 * width, totals.numel()))
        # the candidates' own log-probabilities in one call, not one per candidate
        candidate_lps = model_log_probs.view(-1)[candidates.indices].tolist()
        survivors: list[_Beam] = []
        rows: list[int] = []
        for total, flat, token_lp in zip(candidates.values.tolist(),
                                         candidates.indices.tolist(), candidate_lps,
                                         strict=True):
            row, token = divmod(flat, vocab)
            beam = beams[row]
            if token == model.eos_id:
                length = len(beam.tokens) + 1
                finished.append(Hypothesis(
                    list(beam.tokens), beam.log_prob + token_lp, True,
                    _normalised(total, length, config.length_penalty),
                    [*beam.token_log_probs, token_lp]))
                continue
            survivors.append(_Beam([*beam.tokens, token], total, beam.log_prob + token_lp,
                                   [*beam.token_log_probs, token_lp]))
            rows.append(row)
            if len(survivors) == width:
                break
        beams = survivors
        if not beams:
            break
        if len(finished) >= width:
            finished.sort(key=lambda h: h.rank_score, reverse=True)
            worst = finished[width - 1].rank_score
            # The usual heuristic: stop when no open beam, scored at the length it would
            # have if it ended next, beats the worst kept hypothesis. (The exact bound,
            # over the longest length a beam can reach, keeps searching to max_length
            # almost always and makes decoding several times slower for no gain.)
            best_open = max(_normalised(b.rank, len(b.tokens) + 1, config.length_penalty)
                            for b in beams)
            if best_open <= worst:
                break
        if step == config.max_length - 1:
            break
        state = model.reorder(state, torch.tensor(rows))
        last = torch.tensor([b.tokens[-1] for b in beams])
    finished.sort(key=lambda h: h.rank_score, reverse=True)
    open_ones = [Hypothesis(b.tokens, b.log_prob, False,
                            _normalised(b.rank, len(b.tokens), config.length_penalty),
                            b.token_log_probs) for b in beams]
    open_ones.sort(key=lambda h: h.rank_score, reverse=True)
    return finished + open_ones
