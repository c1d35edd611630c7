"""``train nlu --finetune`` against a full NLU training, after new examples of known intents.

For each project (copied to a temporary folder first):

1. ``data split nlu --training-fraction 0.8``: a fifth of every intent's
   examples is held out as the test set and never trained on;
2. the training part is split again: ``--added`` of it plays the examples
   written after the first model was trained, the rest trains that first
   model (``train nlu --nlu``);
3. with all the training part, the first model is fine-tuned
   (``train nlu --finetune FIRST --epoch-fraction F``) and, for comparison,
   a model is trained from the pretrained encoder (``train nlu --force``);
4. both are scored on the held-out test set (``test nlu --nlu``).

Prints one table: wall time of each training command (the process's start
included) and the intent accuracy and entity F1 (micro, CoNLL spans) of
the fine-tuned and the fully trained model. Holds ``/tmp/dfl-bench.lock``.

    python benchmarks/finetune.py                          # the template, F = 0.25
    python benchmarks/finetune.py --projects template initial_project_3x --epoch-fraction 0.5
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

from bench_lock import bench_lock
from dialogue_train import PROJECTS, _cli, copy_project, run_measured


def _score(project: Path, model: Path, test_file: Path, env: dict[str, str]) -> dict:
    out = project / "results" / model.stem
    run = run_measured(_cli("test", "nlu", "--project", str(project), "-m", str(model),
                            "--nlu", str(test_file), "--out", str(out), "-q"), env)
    if run.returncode != 0:
        raise RuntimeError(run.output)
    intents = json.loads((out / "intent_report.json").read_text(encoding="utf-8"))
    entities_file = out / "entity_report.json"
    entity_f1 = None
    if entities_file.is_file():
        micro = json.loads(entities_file.read_text(encoding="utf-8")).get("micro avg")
        if micro and micro.get("support"):
            entity_f1 = micro["f1-score"]
    return {"intent_accuracy": intents["accuracy"], "entity_f1": entity_f1}


def _train(project: Path, env: dict[str, str], *args: str) -> float:
    run = run_measured(_cli("train", "nlu", "--project", str(project), "-q", *args), env)
    if run.returncode != 0:
        raise RuntimeError(run.output)
    return run.seconds


def bench_project(name: str, source: Path, env: dict[str, str], added: float,
                  fraction: float) -> dict:
    work, project = copy_project(source, name, "dfl-finetune")
    try:
        split = project / "train_test_split"
        for args in (("--training-fraction", "0.8", "--out", str(split)),
                     ("--nlu", str(split / "training_data.yml"), "--training-fraction",
                      f"{1.0 - added:.4f}", "--out", str(work / "first"))):
            run = run_measured(_cli("data", "split", "nlu", "--project", str(project), "-q",
                                    *args), env)
            if run.returncode != 0:
                raise RuntimeError(run.output)
        test_file = split / "test_data.yml"
        training = split / "training_data.yml"
        first = _train(project, env, "--nlu", str(work / "first" / "training_data.yml"),
                       "--force", "--fixed-model-name", "first")
        models = project / "models"
        tuned_s = _train(project, env, "--nlu", str(training), "--finetune",
                         str(models / "first.tar"), "--epoch-fraction", str(fraction),
                         "--fixed-model-name", "tuned")
        full_s = _train(project, env, "--nlu", str(training), "--force",
                        "--fixed-model-name", "full")
        return {"project": name, "first_s": first, "tuned_s": tuned_s, "full_s": full_s,
                "tuned": _score(project, models / "tuned.tar", test_file, env),
                "full": _score(project, models / "full.tar", test_file, env)}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _fmt_scores(scores: dict) -> str:
    entity = "-" if scores["entity_f1"] is None else f"{100 * scores['entity_f1']:.2f}"
    return f"{100 * scores['intent_accuracy']:.2f} | {entity}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", nargs="+", default=["template"], choices=sorted(PROJECTS))
    parser.add_argument("--epoch-fraction", type=float, default=0.25)
    parser.add_argument("--added", type=float, default=0.125,
                        help="share of the training examples added after the first model "
                        "(default 0.125: 10%% of all examples)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    env = dict(os.environ)
    for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "DFL_NUM_THREADS"):
        env[key] = str(args.threads)
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    env.setdefault("HF_HUB_OFFLINE", "1")
    env["DFL_NO_PROGRESS"] = "1"
    rows = []
    with bench_lock():
        for name in args.projects:
            if not PROJECTS[name].is_dir():
                print(f"skipping {name}: {PROJECTS[name]} not found", file=sys.stderr)
                continue
            rows.append(bench_project(name, PROJECTS[name], env, args.added,
                                      args.epoch_fraction))
    print(f"fine-tuning benchmark ({args.threads} threads; epoch fraction "
          f"{args.epoch_fraction}; {100 * args.added:.1f}% of the training examples added; "
          "scored on a held-out fifth)")
    print("| project | first model s | fine-tune s | full train s | fine-tuned: intent acc | "
          "entity F1 | fully trained: intent acc | entity F1 |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['project']} | {row['first_s']:.1f} | {row['tuned_s']:.1f} | "
              f"{row['full_s']:.1f} | {_fmt_scores(row['tuned'])} | {_fmt_scores(row['full'])} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
