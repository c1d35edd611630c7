"""The linear-chain CRF against brute force over every tag path."""

from __future__ import annotations

import itertools

import torch

from dialogflowlite.models.crf import ConditionalRandomField, bio_transition_mask


@torch.no_grad()
def path_score(crf: ConditionalRandomField, emissions: torch.Tensor, path: list[int]) -> float:
    transitions, start = crf._scores()
    total = start[path[0]] + emissions[0, path[0]]
    for t in range(1, len(path)):
        total = total + transitions[path[t - 1], path[t]] + emissions[t, path[t]]
    return float(total + crf.end_transitions[path[-1]])


def random_crf(num_tags: int, allowed: torch.Tensor | None = None) -> ConditionalRandomField:
    torch.manual_seed(0)
    crf = ConditionalRandomField(num_tags, allowed)
    with torch.no_grad():
        for p in crf.parameters():
            p.normal_()
    return crf


def test_nll_matches_brute_force_with_padding() -> None:
    crf = random_crf(3)
    emissions = torch.randn(2, 4, 3)
    tags = torch.tensor([[0, 2, 1, 1], [1, 0, -100, -100]])
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]], dtype=torch.bool)
    expected = []
    for b, n in ((0, 4), (1, 2)):
        scores = [
            path_score(crf, emissions[b], list(p)) for p in itertools.product(range(3), repeat=n)
        ]
        log_z = torch.logsumexp(torch.tensor(scores), 0)
        expected.append(float(log_z) - path_score(crf, emissions[b], tags[b, :n].tolist()))
    nll = crf(emissions, tags, mask)
    assert torch.isclose(nll, torch.tensor(sum(expected) / 2), atol=1e-4)


def test_viterbi_matches_brute_force() -> None:
    crf = random_crf(4)
    emissions = torch.randn(3, 5, 4)
    mask = torch.tensor([[1] * 5, [1] * 3 + [0] * 2, [1] + [0] * 4], dtype=torch.bool)
    paths = crf.decode(emissions, mask)
    for b, n in enumerate((5, 3, 1)):
        best = max(
            itertools.product(range(4), repeat=n),
            key=lambda p, b=b: path_score(crf, emissions[b], list(p)),
        )
        assert paths[b] == list(best)


def test_bio_constraints_are_never_broken() -> None:
    tags = ["O", "B-city", "I-city", "B-date", "I-date"]
    allowed = bio_transition_mask(tags)
    assert not allowed[0, 2]  # O -> I-city
    assert allowed[1, 2]  # B-city -> I-city
    assert not allowed[3, 2]  # B-date -> I-city
    assert not allowed[len(tags), 4]  # start -> I-date
    crf = ConditionalRandomField(len(tags), allowed)
    emissions = torch.zeros(1, 3, len(tags))
    emissions[0, :, 2] = 5.0  # every position wants I-city
    [path] = crf.decode(emissions, torch.ones(1, 3, dtype=torch.bool))
    assert path[0] != 2
    for prev, nxt in itertools.pairwise(path):
        assert allowed[prev, nxt]


def test_bilou_constraints_close_every_span() -> None:
    tags = ["O", "B-city", "I-city", "L-city", "U-city", "U-date"]
    allowed = bio_transition_mask(tags)
    start = len(tags)
    assert not allowed[start, 2] and not allowed[start, 3]  # no span starts inside
    assert allowed[1, 2] and allowed[1, 3] and allowed[2, 3]  # B -> I -> L
    assert not allowed[1, 0] and not allowed[2, 5]  # an open span may not stop or switch
    assert allowed[3, 0] and allowed[4, 5] and allowed[0, 1]  # after L or U anything new
    assert not allowed[4, 3]  # U-city -> L-city: a closed span does not go on
    crf = ConditionalRandomField(len(tags), allowed)
    emissions = torch.zeros(1, 4, len(tags))
    emissions[0, 1, 1] = 5.0  # B-city wanted at the second word ...
    emissions[0, 2, 0] = 5.0  # ... then O
    [path] = crf.decode(emissions, torch.ones(1, 4, dtype=torch.bool))
    for prev, nxt in itertools.pairwise(path):
        assert allowed[prev, nxt]


def test_training_the_crf_lowers_its_loss() -> None:
    torch.manual_seed(0)
    crf = ConditionalRandomField(3)
    emissions = torch.randn(8, 6, 3)
    tags = torch.randint(0, 3, (8, 6))
    mask = torch.ones(8, 6, dtype=torch.bool)
    optimizer = torch.optim.Adam(crf.parameters(), lr=0.1)
    first = float(crf(emissions, tags, mask).detach())
    for _ in range(50):
        optimizer.zero_grad()
        loss = crf(emissions, tags, mask)
        loss.backward()
        optimizer.step()
    assert float(loss.detach()) < first


def test_sequences_without_positions() -> None:
    crf = ConditionalRandomField(2)
    emissions = torch.randn(2, 3, 2)
    mask = torch.tensor([[1, 1, 0], [0, 0, 0]], dtype=torch.bool)
    assert crf.decode(emissions, mask)[1] == []
    loss = crf(emissions, torch.zeros(2, 3, dtype=torch.long), mask)
    assert torch.isfinite(loss)


def test_batched_viterbi_matches_brute_force_for_every_length_mix() -> None:
    torch.manual_seed(3)
    for _ in range(10):
        crf = random_crf(3)
        lengths = torch.randint(0, 6, (7,)).tolist()
        emissions = torch.randn(7, 6, 3)
        mask = torch.tensor([[1] * n + [0] * (6 - n) for n in lengths], dtype=torch.bool)
        paths = crf.decode(emissions, mask)
        for b, n in enumerate(lengths):
            if n == 0:
                assert paths[b] == []
                continue
            best = max(
                itertools.product(range(3), repeat=n),
                key=lambda p, b=b: path_score(crf, emissions[b], list(p)),
            )
            assert paths[b] == list(best)
