"""Scoring response generators on held-out pairs: BLEU, perplexity, slot error rate.

:func:`evaluate_generator` scores one trained generator on a list of pairs;
:func:`run_generation_test` is what ``dialogflowlite test`` runs: it scores
every generator of a model on the project's held-out pairs (``*.jsonl``
files under ``tests/``, in the pair format of docs/responses.md), prints a
table and writes ``generation_report.json``.

* BLEU: corpus BLEU as sacreBLEU computes it, on the lexicalised replies
  against the reference replies.
* Perplexity: of the reference replies under the model, per sub-word token
  of the delexicalised reply (end-of-reply token included).
* Slot error rate: the fraction of replies that drop or change a slot value
  they should contain. Unless given, a pair's expected values are the input's
  slot values that its reference reply contains.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dialogflowlite.components.generation.data import (
    GenerationExample,
    pair_files,
    read_pairs_file,
)
from dialogflowlite.components.generation.metrics import (
    corpus_bleu,
    perplexity,
    slot_errors,
    value_present,
)
from dialogflowlite.components.generation.templates import format_value

if TYPE_CHECKING:
    from dialogflowlite.components.generation.decoding_config import DecodingConfig

REPORT_FILE = "generation_report.json"


@dataclass
class GenerationReport:
    """How a generator did on held-out pairs."""

    generator: str
    pairs: int
    bleu: float
    bleu_detail: str
    perplexity: float
    slot_error_rate: float
    slot_value_error_rate: float
    accepted_rate: float
    latency_ms_p50: float
    latency_ms_p95: float
    samples: list[dict[str, Any]] = field(default_factory=list)
    #: every generated reply, in the order of the pairs (for scoring parts of them)
    replies: list[str] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The scores and samples (not every reply), for a JSON report."""
        return {k: v for k, v in self.__dict__.items() if k != "replies"}

    def table(self) -> str:
        """The report as a small text table."""
        rows = [
            ("pairs", str(self.pairs)),
            ("BLEU", f"{self.bleu:.2f}"),
            ("perplexity", f"{self.perplexity:.2f}"),
            ("slot error rate", f"{100 * self.slot_error_rate:.2f}%"),
            ("passed guardrails", f"{100 * self.accepted_rate:.1f}%"),
            ("latency p50 / p95", f"{self.latency_ms_p50:.1f} / {self.latency_ms_p95:.1f} ms"),
        ]
        width = max(len(name) for name, _ in rows)
        lines = [f"Generation: {self.generator}"]
        lines += [f"  {name.ljust(width)}  {value}" for name, value in rows]
        return "\n".join(lines)


def expected_values(example: GenerationExample) -> list[str]:
    """The input's slot values that the reference reply contains (what a reply must copy)."""
    found = []
    for _, value in example.slot_values():
        if isinstance(value, bool):
            continue
        text = format_value(value).strip()
        if text and example.target and value_present(example.target, text) and text not in found:
            found.append(text)
    return found


def _percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def evaluate_generator(generator: Any, examples: Sequence[GenerationExample], *,
                       expected: Sequence[Sequence[str]] | None = None,
                       decoding: DecodingConfig | None = None, name: str | None = None,
                       samples: int = 20,
                       progress: Callable[[int, int], None] | None = None) -> GenerationReport:
    """Generate a reply for every pair and score the replies against the references.

    ``generator`` is a trained :class:`NeuralResponseGenerator` (anything with
    ``generate(example, decoding)`` and ``token_nll(examples)``). ``expected``
    gives the values each reply must contain (default: :func:`expected_values`).
    """
    examples = [e for e in examples if e.target]
    if expected is None:
        expected = [expected_values(e) for e in examples]
    if len(expected) != len(examples):
        raise ValueError(f"{len(examples)} pairs but {len(expected)} expected-value lists")
    replies: list[str] = []
    latencies: list[float] = []
    accepted = 0
    kept: list[dict[str, Any]] = []
    for index, example in enumerate(examples):
        started = time.perf_counter()
        reply = generator.generate(example, decoding)
        latencies.append((time.perf_counter() - started) * 1000)
        replies.append(reply.text)
        accepted += 1 if reply.accepted else 0
        if len(kept) < samples:
            kept.append({"reference": example.target, "generated": reply.text,
                         "accepted": reply.accepted, "reason": reply.reason,
                         "score": round(reply.score, 4), "origin": example.origin})
        if progress is not None:
            progress(index + 1, len(examples))
    bleu = corpus_bleu(replies, [e.target or "" for e in examples])
    errors = slot_errors(replies, expected)
    total_nll, tokens = generator.token_nll(list(examples))
    return GenerationReport(
        generator=name or getattr(generator, "name", type(generator).__name__),
        pairs=len(examples), bleu=bleu.score, bleu_detail=str(bleu),
        perplexity=perplexity(total_nll, tokens), slot_error_rate=errors.rate,
        slot_value_error_rate=errors.value_rate,
        accepted_rate=accepted / len(examples) if examples else 0.0,
        latency_ms_p50=statistics.median(latencies) if latencies else float("nan"),
        latency_ms_p95=_percentile(latencies, 0.95), samples=kept, replies=replies)


def held_out_pairs(project_dir: str | Path) -> list[GenerationExample]:
    """The project's held-out pairs: every ``*.jsonl`` file under ``tests/``."""
    examples: list[GenerationExample] = []
    for path in pair_files(project_dir, "tests"):
        examples += read_pairs_file(path)
    return examples


def run_generation_test(project_dir: str | Path, model: str | Path | None,
                        output_dir: str | Path | None = None, *,
                        echo: Callable[[str], None] = print) -> int:
    """Score every generator of the model on the held-out pairs; write the report into
    ``output_dir`` (from the working folder; without it, the project's results/).

    Returns the exit code (0: the test ran or there was nothing to test).
    """
    from dialogflowlite.artifact import latest_model, latest_model_with, open_model
    from dialogflowlite.errors import ModelLoadError
    from dialogflowlite.io.loader import resolve_output
    from dialogflowlite.plugins.registry import get_registry

    root = Path(project_dir)
    where = Path(model) if model is not None else root / "models"
    if not where.is_absolute() and not where.exists():
        where = root / where
    # without --model, the newest model that has a generator (not a newer `train nlu` one)
    model_path = (latest_model_with(where, "generation") if model is None else None) \
        or latest_model(where)
    if model_path is None:
        raise ModelLoadError(f"no model found for {root}",
                             hint="train one with `dialogflowlite train`, or pass --model")
    with open_model(model_path) as archive:
        records = [r for r in archive.manifest.components
                   if r.section == "generation" and r.kind == "generator"]
        pairs = held_out_pairs(root)
        if not records:
            if pairs:  # (a bot without a generator or held-out pairs hears nothing of it)
                echo("Generation: the model has no response generator to test the held-out "
                     "pairs of tests/ on")
            return 0
        if not pairs:
            echo("Generation: no held-out pairs (add *.jsonl pair files under tests/)")
            return 0
        reports = []
        registry = get_registry()
        for record in records:
            generator = registry.get(record.name).load(record.config,
                                                       archive.storage(record.key))
            modes = set(getattr(generator, "modes", []))
            usable = [p for p in pairs if not modes or p.mode in modes]
            if not usable:
                echo(f"Generation: {record.key} has no held-out pairs of its modes")
                continue
            report = evaluate_generator(generator, usable, name=record.key)
            echo(report.table())
            reports.append(report.to_dict())
    out = resolve_output(output_dir, root)
    out.mkdir(parents=True, exist_ok=True)
    (out / REPORT_FILE).write_text(json.dumps(reports, indent=1, ensure_ascii=False),
                                   encoding="utf-8")
    echo(f"Generation report written to {out / REPORT_FILE}")
    return 0
