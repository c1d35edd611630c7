"""Intent accuracy, slot F1, sentence accuracy, training cost and parse latency on SNIPS/ATIS.

For each corpus (a folder with ``train/``, ``dev/`` and ``test/`` splits in the
``label`` / ``seq.in`` / ``seq.out`` layout) and each model:

* ``default``   — JointTransformerClassifier with its default config
  (all-MiniLM-L6-v2 fine-tuned; the dev split picks the best checkpoint);
* ``quantized`` — the same trained model loaded with dynamic int8 quantization;
* ``scratch``   — ScratchTransformerClassifier with its default config.

Training runs in a subprocess per model (so each peak RSS is that run's own:
``ru_maxrss`` of the process), through the real pipeline parts
(WhitespaceTokenizer, then the classifier) and into a real model file; the
test split is then scored in another subprocess that loads the model file with
``NluPipeline.load`` and parses: the whole test split batched for the scores,
then single messages one at a time for the latency. Scores: intent accuracy,
CoNLL span-level micro slot F1 (type and both boundaries must match) and
sentence accuracy (intent and every slot tag right), all on the test split.

The run holds ``/tmp/dfl-bench.lock`` (as ``flock /tmp/dfl-bench.lock ...``
would), so two timing benchmarks never overlap; other work on the machine may
still share the CPU.

    python benchmarks/nlu.py                                # SNIPS and ATIS, all models
    python benchmarks/nlu.py --data path/to/corpus --models default,scratch
    python benchmarks/nlu.py --quick                        # a small smoke run
    python benchmarks/nlu.py --data DIR --keep KEPT         # keep models and wrong messages
    python benchmarks/nlu.py --data DIR --trained KEPT/NAME-default.tar \
        --parse-config '{"restrict_entities_to_intent": true}'   # score a kept model again
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_lock import bench_lock

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DFL_SHARED_DATA", REPO.parent / "shared" / "data"))
DEFAULT_DATA = [SHARED / "nlu" / "snips", SHARED / "nlu" / "atis"]
MODELS = ("default", "quantized", "scratch")
CLASSIFIER = {
    "default": "JointTransformerClassifier",
    "quantized": "JointTransformerClassifier",
    "scratch": "ScratchTransformerClassifier",
}
QUICK = {"train": 600, "dev": 100, "test": 200, "latency": 50}
#: epochs of a --quick run unless given
QUICK_EPOCHS = {"default": 1, "scratch": 5}


# ---------------------------------------------------------------- workers


def _load_splits(data: Path, limits: dict[str, int] | None) -> dict[str, Any]:
    from dialogflowlite.io.bio_corpus import read_bio_corpus
    from dialogflowlite.shared.training_data import TrainingData

    splits = read_bio_corpus(data)
    if limits:
        splits = {
            name: TrainingData(examples=split.examples[: limits.get(name, len(split.examples))])
            for name, split in splits.items()
        }
    return splits


def _tokenized(tokenizer: Any, split: Any) -> Any:
    from dialogflowlite.shared.message import Message
    from dialogflowlite.shared.training_data import TrainingData

    # corpus words are kept aside for scoring; the model sees the tokenizer's tokens
    copy = TrainingData(
        examples=[
            Message(text=m.text, intent=m.intent, entities=list(m.entities)) for m in split.examples
        ]
    )
    tokenizer.process_training_data(copy)
    return copy


def train_worker(args: argparse.Namespace) -> dict[str, Any]:
    """Train one model on train (dev picks the checkpoint) and write a model file."""
    import resource

    import torch

    from dialogflowlite.artifact import ModelWriter
    from dialogflowlite.components.base import NluContext
    from dialogflowlite.components.nlu.pipeline import NluPipeline
    from dialogflowlite.io.config_reader import ComponentConfig

    started = time.perf_counter()
    if args.threads:
        torch.set_num_threads(args.threads)
    limits = QUICK if args.quick else None
    splits = _load_splits(Path(args.data), limits)
    settings = json.loads(args.config or "{}")
    if args.epochs:
        settings["epochs"] = args.epochs
    if args.minutes:
        settings["max_minutes"] = args.minutes
    pipeline = NluPipeline.from_config(
        [
            ComponentConfig("WhitespaceTokenizer"),
            ComponentConfig(CLASSIFIER[args.model], settings),
        ],
        quiet=True,
    )
    tokenizer, classifier = pipeline.components
    context = NluContext(progress=False, seed=args.seed)
    train = _tokenized(tokenizer, splits["train"])
    dev = _tokenized(tokenizer, splits["dev"]) if "dev" in splits else None
    classifier.fit(train, context, held_out=dev)
    writer = ModelWriter()
    try:
        writer.manifest.sections["nlu"] = pipeline.persist(writer)
        writer.save(Path(args.output))
    finally:
        writer.close()
    result = classifier.fit_result
    return {
        "seconds_inside": time.perf_counter() - started,
        "epochs": result.epochs,
        "best_dev_score": result.best_score,
        "stopped_early": result.stopped_early,
        "out_of_time": result.out_of_time,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def evaluate_worker(args: argparse.Namespace) -> dict[str, Any]:
    """Score the test split and time single-message parses through NluPipeline."""
    import torch

    from dialogflowlite.components.nlu.pipeline import NluPipeline
    from dialogflowlite.components.nlu.sequence_labels import score
    from dialogflowlite.io.bio_corpus import word_tags

    if args.threads:
        torch.set_num_threads(args.threads)
    limits = QUICK if args.quick else None
    test = _load_splits(Path(args.data), limits)["test"].examples
    pipeline = NluPipeline.load(Path(args.output), quantize=args.model == "quantized")
    # settings that act when parsing (restrict_entities_to_intent, ...) can change
    # on a trained model without retraining it
    pipeline.components[-1].config.update(json.loads(args.parse_config or "{}"))
    parsed = pipeline.parse_batch([m.text for m in test])
    gold = [(m.intent, word_tags(m.tokens, m.entities)) for m in test]
    predicted = [
        (p.intent, word_tags(m.tokens, p.entities)) for m, p in zip(test, parsed, strict=True)
    ]
    scores = score(gold, predicted)
    if args.errors:
        _write_errors(Path(args.errors), test, gold, predicted)
    samples = [m.text for m in test][: (QUICK["latency"] if args.quick else args.latency)]
    for text in samples[:20]:  # warm-up: first calls allocate and pick kernels
        pipeline.parse(text)
    timings = []
    for text in samples:
        begin = time.perf_counter()
        pipeline.parse(text)
        timings.append((time.perf_counter() - begin) * 1000)
    timings.sort()
    return {
        "intent_accuracy": scores.intent_accuracy,
        "slot_f1": scores.slot_f1,
        "sentence_accuracy": scores.sentence_accuracy,
        "test_examples": scores.count,
        "p50_ms": timings[len(timings) // 2],
        "p95_ms": timings[min(len(timings) - 1, int(len(timings) * 0.95))],
        "threads": torch.get_num_threads(),
    }


def _write_errors(
    path: Path, test: list[Any], gold: list[Any], predicted: list[Any]
) -> None:
    """One JSON line per test message whose intent or slots were predicted wrong."""
    with path.open("w", encoding="utf-8") as out:
        for message, (intent, tags), (got_intent, got_tags) in zip(
            test, gold, predicted, strict=True
        ):
            if intent == got_intent and tags == got_tags:
                continue
            record = {"text": message.text, "intent": intent, "predicted_intent": got_intent,
                      "tags": " ".join(tags), "predicted_tags": " ".join(got_tags),
                      "words": " ".join(t.text for t in message.tokens)}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")


# ---------------------------------------------------------------- driver


def _run_worker(
    kind: str, args: argparse.Namespace, model: str, data: Path, output: Path
) -> tuple[dict[str, Any], float]:
    command = [
        sys.executable,
        __file__,
        "--worker",
        kind,
        "--model",
        model,
        "--data",
        str(data),
        "--output",
        str(output),
        "--seed",
        str(args.seed),
        "--latency",
        str(args.latency),
        "--threads",
        str(args.threads),
    ]
    if args.quick:
        command.append("--quick")
    if kind == "evaluate" and args.parse_config:
        command += ["--parse-config", args.parse_config]
    if kind == "evaluate" and args.keep:
        command += ["--errors", str(output.with_name(f"{data.name}-{model}-errors.jsonl"))]
    if kind == "train":
        epochs = args.scratch_epochs if model == "scratch" else args.epochs
        if args.quick and not epochs:
            epochs = QUICK_EPOCHS[model]
        if epochs:
            command += ["--epochs", str(epochs)]
        if args.minutes:
            command += ["--minutes", str(args.minutes)]
        config = args.scratch_config if model == "scratch" else args.joint_config
        if config:
            command += ["--config", config]
    result_file = output.with_suffix(f".{kind}.json")
    command += ["--result", str(result_file)]
    env = {
        **os.environ,
        "DFL_NO_PROGRESS": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"{kind} of {model} on {data.name} failed (exit {done.returncode})")
    return json.loads(result_file.read_text()), seconds


def _row(
    data: Path,
    model: str,
    trained: dict[str, Any],
    seconds: float,
    scored: dict[str, Any],
    size: int,
) -> dict[str, Any]:
    return {
        "data": data.name,
        "model": model,
        "intent": 100 * scored["intent_accuracy"],
        "slot_f1": 100 * scored["slot_f1"],
        "sentence": 100 * scored["sentence_accuracy"],
        "train_s": seconds,
        "epochs": trained["epochs"],
        "p50_ms": scored["p50_ms"],
        "p95_ms": scored["p95_ms"],
        "size_mb": size / 2**20,
        "peak_rss_mb": trained["peak_rss_mb"],
    }


def print_table(rows: list[dict[str, Any]]) -> None:
    header = (
        f"{'data':<8} {'model':<10} {'intent':>7} {'slot F1':>8} {'sentence':>9} "
        f"{'train':>8} {'epochs':>6} {'p50 ms':>7} {'p95 ms':>7} {'size MB':>8} {'peak RSS':>9}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        # a model scored with --trained has no training figures
        untrained = math.isnan(r["train_s"])
        train = f"{'-':>8}" if untrained else f"{r['train_s']:>7.0f}s"
        epochs = f"{'-':>6}" if untrained else f"{r['epochs']:>6.2f}"
        rss = f"{'-':>9}" if untrained else f"{r['peak_rss_mb']:>6.0f} MB"
        print(
            f"{r['data']:<8} {r['model']:<10} {r['intent']:>7.2f} {r['slot_f1']:>8.2f} "
            f"{r['sentence']:>9.2f} {train} {epochs} "
            f"{r['p50_ms']:>7.2f} {r['p95_ms']:>7.2f} {r['size_mb']:>8.1f} {rss}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data",
        action="append",
        type=Path,
        help="corpus folder with train/dev/test (repeatable; default: SNIPS "
        "and ATIS from ../shared/data/nlu)",
    )
    parser.add_argument(
        "--models", default=",".join(MODELS), help=f"comma-separated subset of {', '.join(MODELS)}"
    )
    parser.add_argument("--epochs", type=int, help="epochs of the pretrained model")
    parser.add_argument("--scratch-epochs", type=int, help="epochs of the scratch model")
    parser.add_argument("--minutes", type=float, help="training time budget per model")
    parser.add_argument(
        "--joint-config", help="JSON overriding JointTransformerClassifier settings"
    )
    parser.add_argument(
        "--scratch-config", help="JSON overriding ScratchTransformerClassifier settings"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"small subsets ({QUICK['train']} train, {QUICK['dev']} dev, "
        f"{QUICK['test']} test) for a smoke run",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=os.cpu_count() or 1,
        help="torch threads (default: every core)",
    )
    parser.add_argument(
        "--latency",
        type=int,
        default=300,
        help="test messages parsed one at a time for the latency",
    )
    parser.add_argument(
        "--parse-config",
        help="JSON changing settings of the trained classifier when it is loaded for "
        "scoring (those that act when parsing, such as restrict_entities_to_intent)",
    )
    parser.add_argument(
        "--trained",
        type=Path,
        help="score this model file (kept with --keep) instead of training one; "
        "with a single --data and one of default/quantized",
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--json", type=Path, help="also write the rows here")
    parser.add_argument(
        "--keep",
        type=Path,
        help="keep each trained model file and the test messages it got wrong in this folder",
    )
    parser.add_argument("--no-lock", action="store_true", help="do not wait for the bench lock")
    # worker mode (internal)
    parser.add_argument("--worker", choices=("train", "evaluate"), help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--output", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    parser.add_argument("--errors", help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        args.data = args.data[0]
        result = (train_worker if args.worker == "train" else evaluate_worker)(args)
        Path(args.result).write_text(json.dumps(result))
        return 0

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = sorted(set(models) - set(MODELS))
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(MODELS)}")
    corpora = args.data or DEFAULT_DATA
    if args.trained and (len(corpora) != 1 or "scratch" in models):
        parser.error("--trained scores one model file: give one --data and default/quantized")
    for corpus in corpora:
        if not (corpus / "train" / "label").exists():
            parser.error(f"{corpus} has no train/label (expected train/dev/test splits)")
    rows = []
    lock = contextlib.nullcontext() if args.no_lock else bench_lock()
    with lock, tempfile.TemporaryDirectory(prefix="dfl-nlu-bench-") as tmp:
        for corpus in corpora:
            trained: dict[str, tuple[dict[str, Any], float, Path]] = {}
            for model in models:
                base = "scratch" if model == "scratch" else "default"
                if base not in trained and args.trained:
                    trained[base] = ({"epochs": float("nan"), "peak_rss_mb": float("nan")},
                                     float("nan"), args.trained)
                if base not in trained:
                    output = Path(tmp) / f"{corpus.name}-{base}.tar"
                    info, seconds = _run_worker("train", args, base, corpus, output)
                    trained[base] = (info, seconds, output)
                    print(
                        f"# trained {base} on {corpus.name} in {seconds:.0f}s "
                        f"({info['epochs']:.2f} epochs, best dev {info['best_dev_score']})",
                        file=sys.stderr,
                        flush=True,
                    )
                info, seconds, output = trained[base]
                scored, _ = _run_worker("evaluate", args, model, corpus, output)
                rows.append(_row(corpus, model, info, seconds, scored, output.stat().st_size))
            if args.keep:
                args.keep.mkdir(parents=True, exist_ok=True)
                for kept in Path(tmp).glob(f"{corpus.name}-*"):
                    if kept.suffix in (".tar", ".jsonl"):
                        shutil.copy2(kept, args.keep / kept.name)
    print(
        f"# {'quick run, ' if args.quick else ''}torch threads: {args.threads}; "
        "the quantized row reuses the default model (int8 at load time); train = wall "
        "time of the training subprocess; latency = NluPipeline.parse of one test message; "
        "other work may have shared the CPU"
    )
    print_table(rows)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
