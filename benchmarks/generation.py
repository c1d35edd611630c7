"""Response generation: BLEU, slot error rate, perplexity, training time and reply latency.

Trains a ``NeuralResponseGenerator`` from scratch on CPU on one corpus split
and scores it on another:

* ``act2text``: SGD dialogue acts -> system utterance (``--train`` and
  ``--eval`` are SGD split folders with ``dialogues_*.json`` and
  ``schema.json``);
* ``context2response``: SGD conversation context (last turns, active intent,
  dialogue-state slots) -> system utterance;
* ``qa``: Bitext customer-support question -> answer (CSV files).

BLEU is corpus BLEU with sacreBLEU's 13a tokenisation, on the lexicalised,
detokenised replies against the original utterances. The slot error rate is
the fraction of replies missing at least one value they must copy: for SGD
acts the values of non-categorical slots (schema.json); otherwise the input
values the reference reply contains. Perplexity is per sub-word token of the
delexicalised reference replies. Latency is the wall time of one reply
(delexicalise, encode, beam search, relexicalise, guardrails; replies are
decoded on one thread). ``--quantize`` scores the same trained model a second
time with dynamic int8 weights (what ``run --quantize`` loads). Prints one
table; ``--by-service`` adds BLEU and slot error rate per SGD service, and
for the services the training split has and lacks (SGD's dev and test splits
hold services that its training split does not).

Timing runs hold ``/tmp/dfl-bench.lock`` (the lock ``flock /tmp/dfl-bench.lock``
takes) so two benchmarks never overlap; other work on the machine may still
share the CPU, and the table says what the load was.

    python benchmarks/generation.py --task act2text \\
        --train ../shared/data/dialogue/sgd/train --eval ../shared/data/dialogue/sgd/dev \\
        --minutes 30 --save /tmp/act2text
    python benchmarks/generation.py --task act2text --model /tmp/act2text \\
        --eval ../shared/data/dialogue/sgd/dev --quantize     # score the kept model again
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

from bench_lock import LOCK_FILE, bench_lock

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
# Idle OpenMP threads sleep instead of spinning: on a CPU shared with other work,
# spinning threads make two threads several times slower than one.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

TASKS = ("act2text", "context2response", "qa")

#: generator settings per task (overridable with --set key=value)
TASK_CONFIG = {
    "act2text": {"mode": "act2text", "max_source_length": 128, "max_target_length": 80,
                 "vocab_size": 4000,
                 "decoding": {"beam_size": 4, "max_length": 80, "length_penalty": 1.1}},
    "context2response": {"mode": "context2response", "history": 3, "max_source_length": 192,
                         "max_target_length": 80, "vocab_size": 6000,
                         "decoding": {"beam_size": 4, "max_length": 80}},
    "qa": {"mode": "context2response", "history": 1, "max_source_length": 64,
           "max_target_length": 320, "vocab_size": 6000, "batch_size": 16,
           # greedy: answers run to 320 sub-words, and beam search over that many
           # steps took more than 2 s per answer on 2 cores
           "decoding": {"strategy": "greedy", "max_length": 320}},
}
COMMON = {"hidden_size": 256, "encoder_layers": 2, "decoder_layers": 2, "heads": 4,
          "ff_size": 1024, "dropout": 0.1, "epochs": 400, "batch_size": 32,
          "learning_rate": 1e-3, "warmup_steps": 400, "label_smoothing": 0.1}


def parse_value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def load_pairs(task: str, path: Path, history: int, describe_slots: bool = False):
    from dialogflowlite.components.generation.corpora import read_bitext, read_sgd

    if task == "qa":
        return read_bitext(path)
    return read_sgd(path, task, history=history, describe_slots=describe_slots)


def service_table(pairs, replies: list[str], expected: list[list[str]],
                  trained: set[str]) -> str:
    """BLEU and slot error rate per service, and for the services training has and lacks."""
    from dialogflowlite.components.generation.metrics import corpus_bleu, slot_errors

    groups: dict[str, list[int]] = {}
    for index, pair in enumerate(pairs):
        groups.setdefault(pair.service or "?", []).append(index)
    seen = [i for i, p in enumerate(pairs) if p.service in trained]
    unseen = [i for i, p in enumerate(pairs) if p.service not in trained]
    rows = [(name, indices, "yes" if name in trained else "no")
            for name, indices in sorted(groups.items())]
    rows += [("services training has", seen, ""), ("services training lacks", unseen, "")]
    lines = ["| service | in training | pairs | BLEU | slot error rate |", "|---|---|---|---|---|"]
    for name, indices, known in rows:
        if not indices:
            continue
        bleu = corpus_bleu([replies[i] for i in indices], [pairs[i].example.target or ""
                                                          for i in indices])
        errors = slot_errors([replies[i] for i in indices],
                             [expected[i] for i in indices])
        lines.append(f"| {name} | {known} | {len(indices)} | {bleu.score:.2f} "
                     f"| {100 * errors.rate:.2f}% |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", choices=TASKS, required=True)
    parser.add_argument("--train", type=Path, help="SGD split folder or CSV (to train on)")
    parser.add_argument("--eval", type=Path, required=True, help="SGD split folder or CSV")
    parser.add_argument("--minutes", type=float, default=30.0, help="training time budget")
    parser.add_argument("--epochs", type=int, default=None, help="at most this many epochs")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--limit-eval", type=int, default=None,
                        help="score a random subset of this many eval pairs")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a generator setting (JSON value), e.g. hidden_size=192")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--save", type=Path, default=None,
                        help="keep the trained generator in this folder")
    parser.add_argument("--model", type=Path, default=None,
                        help="score a generator kept with --save instead of training one "
                             "(the same --task and --set settings)")
    parser.add_argument("--quantize", action="store_true",
                        help="also score the trained model with dynamic int8 weights")
    parser.add_argument("--no-lock", action="store_true", help=f"do not take {LOCK_FILE}")
    parser.add_argument("--slot-descriptions", action="store_true",
                        help="SGD act2text: name each slot in the input by its description in "
                        "the split's schema.json instead of its name")
    parser.add_argument("--by-service", action="store_true",
                        help="also print BLEU and slot error rate per SGD service, and for the "
                             "services --train has and lacks (with --model, --train only "
                             "says which services training had)")
    args = parser.parse_args(argv)
    if args.train is None and args.model is None:
        parser.error("give --train (to train a generator) or --model (to score a kept one)")
    if args.by_service and args.task == "qa":
        parser.error("--by-service is for the SGD tasks")

    import torch

    from dialogflowlite.artifact import ComponentStorage
    from dialogflowlite.components.generation.neural import (
        GenerationContext,
        NeuralResponseGenerator,
    )
    from dialogflowlite.evaluation.generation import evaluate_generator, expected_values

    torch.set_num_threads(args.threads)
    config = {**COMMON, **TASK_CONFIG[args.task], "max_minutes": args.minutes,
              "seed": args.seed}
    if args.epochs is not None:
        config["epochs"] = args.epochs
    for item in args.set:
        key, _, value = item.partition("=")
        config[key] = parse_value(value)

    history = int(config.get("history", 3))
    train_pairs = (load_pairs(args.task, args.train, history, args.slot_descriptions)
                   if args.train else [])
    trained_services = {p.service for p in train_pairs}
    eval_pairs = load_pairs(args.task, args.eval, history, args.slot_descriptions)
    if args.limit_eval and args.limit_eval < len(eval_pairs):
        eval_pairs = random.Random(args.seed).sample(eval_pairs, args.limit_eval)

    with bench_lock(not args.no_lock):
        load_before = os.getloadavg()[0]

        def progress(epoch: int, loss: float, seconds: float) -> None:
            print(f"  epoch {epoch}: loss {loss:.3f} ({seconds:.0f}s)", file=sys.stderr,
                  flush=True)

        if args.model is not None:
            generator = NeuralResponseGenerator.load(config, ComponentStorage(args.model))
            fitted = generator.fit_result
            epochs, stopped_by = fitted.get("epochs", 0.0), fitted.get("stopped_by", "?")
            train_seconds = float(fitted.get("seconds", 0.0))
            origin = f"kept model {args.model}"
        else:
            generator = NeuralResponseGenerator(config)
            started = time.perf_counter()
            result = generator.train([p.example for p in train_pairs],
                                     GenerationContext(seed=args.seed), progress=progress)
            train_seconds = time.perf_counter() - started
            epochs, stopped_by = result.epochs, result.stopped_by
            origin = f"train {args.train} ({len(train_pairs)} pairs)"
            if args.save is not None:
                generator.persist(ComponentStorage(args.save))
        parameters = sum(p.numel() for p in generator.backend.module.parameters())
        examples = [p.example for p in eval_pairs]
        if args.task == "act2text":
            expected = [p.expected_values for p in eval_pairs]
        else:
            expected = [expected_values(e) for e in examples]
        reports = [("float32", evaluate_generator(generator, examples, expected=expected))]
        if args.quantize:
            generator.quantize()
            reports.append(("int8", evaluate_generator(generator, examples, expected=expected)))
        load_after = os.getloadavg()[0]

    print(f"Response generation, task {args.task}: trained from scratch on CPU "
          f"({args.threads} threads, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}; "
          f"load average {load_before:.1f} before, {load_after:.1f} "
          "after: other work may have shared the CPU)")
    print(f"{origin}, eval {args.eval} "
          f"({len(eval_pairs)} pairs); model {parameters / 1e6:.1f}M parameters, "
          f"{epochs:.1f} epochs ({stopped_by}); decoding "
          f"{json.dumps(generator.decoding.to_dict())}")
    header = ("| task | weights | BLEU | slot error rate | perplexity | train wall time "
              "| latency p50 | latency p95 |")
    print(header)
    print("|" + "|".join("---" for _ in range(header.count("|") - 1)) + "|")
    for weights, report in reports:
        print(f"| {args.task} | {weights} | {report.bleu:.2f} "
              f"| {100 * report.slot_error_rate:.2f}% "
              f"| {report.perplexity:.2f} | {train_seconds / 60:.1f} min "
              f"| {report.latency_ms_p50:.1f} ms | {report.latency_ms_p95:.1f} ms |")
    for weights, report in reports:
        print(f"{weights}: {report.bleu_detail}")
    if args.by_service:
        print(service_table(eval_pairs, reports[0][1].replies, expected, trained_services))
    for sample in reports[0][1].samples[:5]:
        print(f"  ref: {sample['reference']}\n  gen: {sample['generated']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
