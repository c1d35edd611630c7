"""Generation metrics: corpus BLEU (sacreBLEU's definition), perplexity, slot error rate.

BLEU follows sacreBLEU's defaults exactly: the ``13a`` tokenisation (the
one of the WMT ``mteval-v13a`` script), case-sensitive, 4-gram precision
clipped by the references, the brevity penalty against the closest reference
length, and ``exp`` smoothing of zero counts. It is computed on detokenised,
lexicalised text: what the bot really says, against what people wrote.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

MAX_ORDER = 4

_13A_RULES = (
    # punctuation and symbols become tokens of their own
    (re.compile(r"([\{-\~\[-\` -\&\(-\+\:-\@\/])"), r" \1 "),
    # periods and commas, unless between digits
    (re.compile(r"([^0-9])([\.,])"), r"\1 \2 "),
    (re.compile(r"([\.,])([^0-9])"), r" \1 \2"),
    # a dash after a digit
    (re.compile(r"([0-9])(-)"), r"\1 \2 "),
)


def tokenize_13a(line: str) -> str:
    """Tokenise like ``mteval-v13a`` (sacreBLEU's default); tokens joined by spaces."""
    line = line.replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    if "&" in line:
        line = (line.replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<")
                .replace("&gt;", ">"))
    line = f" {line} "
    for pattern, replacement in _13A_RULES:
        line = pattern.sub(replacement, line)
    return " ".join(line.split())


def _ngrams(tokens: Sequence[str], order: int) -> Counter[tuple[str, ...]]:
    counts: Counter[tuple[str, ...]] = Counter()
    for n in range(1, order + 1):
        for i in range(len(tokens) - n + 1):
            counts[tuple(tokens[i:i + n])] += 1
    return counts


@dataclass
class BleuScore:
    """A corpus BLEU score with its parts (precisions in percent)."""

    score: float
    precisions: list[float]
    brevity_penalty: float
    system_length: int
    reference_length: int

    def __str__(self) -> str:
        parts = "/".join(f"{p:.1f}" for p in self.precisions)
        return (f"BLEU = {self.score:.2f} {parts} (BP = {self.brevity_penalty:.3f} "
                f"ratio = {self.system_length / max(1, self.reference_length):.3f} "
                f"hyp_len = {self.system_length} ref_len = {self.reference_length})")


def corpus_bleu(hypotheses: Sequence[str], references: Sequence[str] | Sequence[Sequence[str]],
                *, tokenize: bool = True) -> BleuScore:
    """Corpus BLEU of ``hypotheses`` against one reference each (or several per hypothesis).

    ``references`` is either one string per hypothesis, or one list of
    reference strings per hypothesis.
    """
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    correct = [0] * MAX_ORDER
    total = [0] * MAX_ORDER
    system_length = reference_length = 0
    for hypothesis, refs in zip(hypotheses, references, strict=True):
        ref_list = [refs] if isinstance(refs, str) else list(refs)
        prep = tokenize_13a if tokenize else (lambda s: " ".join(s.split()))
        hyp_tokens = prep(hypothesis).split()
        ref_tokens = [prep(r).split() for r in ref_list]
        system_length += len(hyp_tokens)
        # the closest reference length; on a tie the shorter one (as sacreBLEU)
        closest = min((abs(len(r) - len(hyp_tokens)), len(r)) for r in ref_tokens)[1]
        reference_length += closest
        hyp_counts = _ngrams(hyp_tokens, MAX_ORDER)
        max_ref: Counter[tuple[str, ...]] = Counter()
        for ref in ref_tokens:
            for gram, count in _ngrams(ref, MAX_ORDER).items():
                max_ref[gram] = max(max_ref[gram], count)
        for gram, count in hyp_counts.items():
            n = len(gram) - 1
            total[n] += count
            correct[n] += min(count, max_ref.get(gram, 0))
    return bleu_from_counts(correct, total, system_length, reference_length)


def bleu_from_counts(correct: Sequence[int], total: Sequence[int], system_length: int,
                     reference_length: int) -> BleuScore:
    """BLEU from n-gram match counts, with sacreBLEU's ``exp`` smoothing."""
    precisions = [0.0] * MAX_ORDER
    smooth = 1.0
    for n in range(MAX_ORDER):
        if total[n] == 0:
            break
        if correct[n] == 0:
            smooth *= 2
            precisions[n] = 100.0 / (smooth * total[n])
        else:
            precisions[n] = 100.0 * correct[n] / total[n]
    if system_length == 0:
        brevity = 0.0
    elif system_length < reference_length:
        brevity = math.exp(1 - reference_length / system_length)
    else:
        brevity = 1.0
    if min(precisions) <= 0:
        score = 0.0
    else:
        score = brevity * math.exp(sum(math.log(p) for p in precisions) / MAX_ORDER)
    return BleuScore(score, precisions, brevity, system_length, reference_length)


def perplexity(total_nll: float, token_count: int) -> float:
    """``exp`` of the mean negative log-likelihood per token."""
    if token_count <= 0:
        return float("nan")
    return math.exp(total_nll / token_count)


def value_present(text: str, value: str) -> bool:
    """Whether ``value`` appears in ``text`` as whole words (case-insensitive)."""
    if not value:
        return True
    pattern = r"(?<!\w)" + re.escape(value) + r"(?!\w)"
    return re.search(pattern, text, re.IGNORECASE) is not None


@dataclass
class SlotErrors:
    """Slot error rate: replies that drop or change a value, and values that went missing."""

    replies: int
    replies_with_error: int
    values: int
    values_missing: int

    @property
    def rate(self) -> float:
        """The fraction of replies with at least one missing value (0..1)."""
        return self.replies_with_error / self.replies if self.replies else 0.0

    @property
    def value_rate(self) -> float:
        """The fraction of all expected values that are missing (0..1)."""
        return self.values_missing / self.values if self.values else 0.0


def slot_errors(replies: Sequence[str], expected: Sequence[Iterable[str]]) -> SlotErrors:
    """Count replies missing any of their expected slot values (whole words, any case)."""
    if len(replies) != len(expected):
        raise ValueError(f"{len(replies)} replies but {len(expected)} value lists")
    with_error = values = missing = 0
    for reply, wanted in zip(replies, expected, strict=True):
        wanted = [w for w in wanted if w]
        gone = [w for w in wanted if not value_present(reply, w)]
        values += len(wanted)
        missing += len(gone)
        with_error += 1 if gone else 0
    return SlotErrors(len(replies), with_error, values, missing)
