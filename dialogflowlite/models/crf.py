"""A linear-chain conditional random field over tag emissions.

Scores a tag sequence as the sum of per-position emission scores and
tag-to-tag transition scores (plus start and end scores). Training minimises
the negative log-likelihood (forward algorithm); decoding is Viterbi. An
optional ``allowed`` matrix forbids transitions outright (BIO: ``I-x`` only
after ``B-x`` or ``I-x``), so decoded sequences are always well formed.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

#: the score of a forbidden transition (finite: Viterbi and the partition function add scores up)
FORBIDDEN_SCORE = -1e4


def bio_transition_mask(tags: Sequence[str]) -> torch.Tensor:
    """``allowed[i, j]`` is True when tag ``j`` may follow tag ``i`` in BIO (or BILOU).

    Row ``len(tags)`` is the start of the sequence: ``I-x`` (and ``L-x``) may
    not begin it. In BILOU (tags with ``L-`` or ``U-``) a span that ``B-x``
    or ``I-x`` opened must go on with ``I-x`` or close with ``L-x``.
    """
    n = len(tags)
    bilou = any(tag[:2] in ("L-", "U-") for tag in tags)
    allowed = torch.ones(n + 1, n, dtype=torch.bool)
    for j, tag in enumerate(tags):
        if tag[:2] in ("I-", "L-"):
            kind = tag[2:]
            for i, prev in enumerate(tags):
                allowed[i, j] = prev in (f"B-{kind}", f"I-{kind}")
            allowed[n, j] = False
        elif bilou:
            for i, prev in enumerate(tags):
                allowed[i, j] = prev[:2] not in ("B-", "I-")
    return allowed


class ConditionalRandomField(nn.Module):
    """Linear-chain CRF: ``forward`` gives the NLL, ``decode`` the best tag paths."""

    def __init__(self, num_tags: int, allowed: torch.Tensor | None = None) -> None:
        super().__init__()
        self.num_tags = num_tags
        self.transitions = nn.Parameter(torch.zeros(num_tags, num_tags))
        self.start_transitions = nn.Parameter(torch.zeros(num_tags))
        self.end_transitions = nn.Parameter(torch.zeros(num_tags))
        if allowed is None:
            allowed = torch.ones(num_tags + 1, num_tags, dtype=torch.bool)
        if allowed.shape != (num_tags + 1, num_tags):
            raise ValueError(f"allowed must have shape ({num_tags + 1}, {num_tags})")
        # a buffer, so the constraint travels with the weights
        self.register_buffer("allowed", allowed.clone(), persistent=True)

    def _scores(self) -> tuple[torch.Tensor, torch.Tensor]:
        penalty = (~self.allowed).to(self.transitions.dtype) * FORBIDDEN_SCORE
        return self.transitions + penalty[:-1], self.start_transitions + penalty[-1]

    def forward(
        self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """Mean negative log-likelihood of ``tags`` (batch, length) given emissions.

        ``mask`` (batch, length) marks real positions; every sequence must
        start with a real position (sequences without any are ignored).
        """
        mask = mask.bool()
        has_any = mask[:, 0]
        if not bool(has_any.any()):
            return emissions.sum() * 0.0
        emissions, tags, mask = emissions[has_any], tags[has_any], mask[has_any]
        transitions, start = self._scores()
        tags = tags.clamp(min=0)
        batch, length, _ = emissions.shape
        rows = torch.arange(batch, device=emissions.device)

        # score of the gold path
        score = start[tags[:, 0]] + emissions[rows, 0, tags[:, 0]]
        for t in range(1, length):
            step = transitions[tags[:, t - 1], tags[:, t]] + emissions[rows, t, tags[:, t]]
            score = score + step * mask[:, t]
        last = mask.sum(1) - 1
        score = score + self.end_transitions[tags[rows, last]]

        # log partition function (forward algorithm)
        alpha = start + emissions[:, 0]
        for t in range(1, length):
            nxt = torch.logsumexp(alpha.unsqueeze(2) + transitions.unsqueeze(0), dim=1)
            nxt = nxt + emissions[:, t]
            alpha = torch.where(mask[:, t].unsqueeze(1), nxt, alpha)
        log_z = torch.logsumexp(alpha + self.end_transitions, dim=1)
        return (log_z - score).mean()

    @torch.no_grad()
    def decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> list[list[int]]:
        """The highest-scoring tag path of each sequence (only its real positions).

        Viterbi over the whole batch at once, one step per position: numpy on
        the CPU (a step is a few tiny operations, microseconds each in numpy,
        several times more as torch calls), and one loop for the batch rather
        than one per sequence (each step holds the interpreter lock, which a
        server's other thread is waiting for).
        """
        import numpy as np

        lengths = np.asarray(mask.bool().sum(1).tolist(), dtype=np.int64)
        transitions, start = self._scores()
        trans = transitions.detach().float().cpu().numpy()
        last = self.end_transitions.detach().float().cpu().numpy()
        scores = emissions.detach().float().cpu().numpy()
        batch, steps, _ = scores.shape
        steps = min(steps, int(lengths.max(initial=0)))
        if steps == 0:
            return [[] for _ in range(batch)]
        score = start.detach().float().cpu().numpy()[None, :] + scores[:, 0]
        # back[t][b, j]: the best tag at position t before tag j at position t + 1
        back = []
        for t in range(1, steps):
            total = score[:, :, None] + trans[None, :, :]
            best = total.argmax(1)
            stepped = np.take_along_axis(total, best[:, None, :], 1)[:, 0] + scores[:, t]
            score = np.where((t < lengths)[:, None], stepped, score)
            back.append(best)
        final = (score + last[None, :]).argmax(1)
        rows = np.arange(batch)
        paths = np.zeros((batch, steps), dtype=np.int64)
        current = final
        for t in range(steps - 1, -1, -1):
            if t < steps - 1:
                current = np.where(t < lengths - 1, back[t][rows, current], current)
            current = np.where(t == lengths - 1, final, current)
            paths[:, t] = current
        return [row[:n] for row, n in zip(paths.tolist(), lengths.tolist(), strict=True)]
