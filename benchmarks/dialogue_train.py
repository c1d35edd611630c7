"""Training time, peak memory, no-change retraining and test-story pass rates per project.

For each project (copied to a temporary folder first, so nothing is written
into the original):

1. ``dialogflowlite train --force`` in a subprocess: wall time and the peak
   resident memory of the process tree (psutil, sampled every 50 ms);
2. ``dialogflowlite train`` again with nothing changed: wall time;
3. ``dialogflowlite train nlu --force``: wall time of the NLU part alone;
4. ``dialogflowlite test core``: test stories passed.

Prints one table. Timing runs hold ``/tmp/dfl-bench.lock`` (the same lock
``flock /tmp/dfl-bench.lock ...`` takes), so two benchmarks never overlap;
other work on the machine may still share the CPU.

    python benchmarks/dialogue_train.py                      # template + initial_project_3x
    python benchmarks/dialogue_train.py --projects formbot financial_demo --threads 2
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
from bench_lock import bench_lock

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DFL_SHARED_DATA", REPO.parent / "shared" / "data"))
PROJECTS = {
    "template": REPO / "projects_template" / "en",
    "initial_project_3x": SHARED / "rasa_projects" / "initial_project_3x",
    "formbot": SHARED / "rasa_projects" / "formbot",
    "financial_demo": SHARED / "rasa_projects" / "financial_demo",
    "moodbot": SHARED / "rasa_projects" / "moodbot",
}
#: the issue's targets: full training wall seconds on 2 cores
TRAIN_TARGETS = {"template": 45.0, "initial_project_3x": 20.0}
#: NLU training wall seconds on 2 cores
NLU_TARGETS = {"template": 30.0}
RETRAIN_TARGET = 5.0
RSS_TARGET_MB = 1024.0


@dataclass
class Run:
    seconds: float
    peak_rss_mb: float
    returncode: int
    output: str


def _tree_rss(process: psutil.Process) -> int:
    total = 0
    with contextlib.suppress(psutil.Error):
        total += process.memory_info().rss
        for child in process.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                total += child.memory_info().rss
    return total


def run_measured(args: list[str], env: dict[str, str]) -> Run:
    """Run a command; wall time and the peak RSS of its process tree."""
    started = time.perf_counter()
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               env=env, text=True)
    watched = psutil.Process(process.pid)
    peak = 0
    chunks: list[str] = []
    # A reader thread would be tidier; polling with a short timeout keeps this one file.
    while True:
        peak = max(peak, _tree_rss(watched))
        try:
            out, _ = process.communicate(timeout=0.05)
            chunks.append(out or "")
            break
        except subprocess.TimeoutExpired:
            continue
    seconds = time.perf_counter() - started
    return Run(seconds, peak / 2**20, process.returncode, "".join(chunks))


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "dialogflowlite.cli.main", *args]


def copy_project(source: Path, name: str, prefix: str = "dfl-bench") -> tuple[Path, Path]:
    """A writable copy of ``source`` (without models and results) in a new temporary
    folder: (the folder, the project in it)."""
    work = Path(tempfile.mkdtemp(prefix=f"{prefix}-{name}-"))
    project = work / name
    shutil.copytree(source, project, ignore=shutil.ignore_patterns("models", "results"))
    # The reference data may be read-only; training writes models/ into the copy.
    for folder, _, files in os.walk(project):
        os.chmod(folder, 0o755)
        for file in files:
            os.chmod(os.path.join(folder, file), 0o644)
    return work, project


def bench_project(name: str, source: Path, env: dict[str, str], run_tests: bool) -> dict:
    work, project = copy_project(source, name)
    row: dict = {"project": name}
    try:
        first = run_measured(_cli("train", "--project", str(project), "--force"), env)
        if first.returncode != 0:
            row["error"] = first.output.strip().splitlines()[-1:]
            print(first.output, file=sys.stderr)
            return row
        row["train_s"] = first.seconds
        row["peak_rss_mb"] = first.peak_rss_mb
        again = run_measured(_cli("train", "--project", str(project)), env)
        row["retrain_s"] = again.seconds
        reused = re.search(r"reused \((\d+)\)", again.output)
        trained = re.search(r"trained \((\d+)\)", again.output)
        row["retrained_components"] = int(trained.group(1)) if trained else None
        row["reused_components"] = int(reused.group(1)) if reused else None
        # into its own folder: the full model in models/ stays the newest for the test step
        nlu_only = run_measured(_cli("train", "nlu", "--project", str(project), "--force",
                                     "--out", str(work / "nlu-models")), env)
        row["nlu_train_s"] = nlu_only.seconds if nlu_only.returncode == 0 else None
        if run_tests and (project / "tests").is_dir():
            test = run_measured(_cli("test", "core", "--project", str(project)), env)
            found = re.search(r"Stories: (\d+) / (\d+) correct", test.output)
            if found:
                row["stories"] = (int(found.group(1)), int(found.group(2)))
            else:
                row["test_error"] = test.output.strip().splitlines()[-1:]
                print(test.output, file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return row


def _fmt(row: dict) -> str:
    if "error" in row:
        return f"| {row['project']} | failed: {row['error']} | | | | | |"
    target = TRAIN_TARGETS.get(row["project"])
    train = f"{row['train_s']:.1f}" + (f" (<= {target:.0f})" if target else "")
    nlu_target = NLU_TARGETS.get(row["project"])
    nlu = "-" if row.get("nlu_train_s") is None else f"{row['nlu_train_s']:.1f}" + (
        f" (<= {nlu_target:.0f})" if nlu_target else "")
    stories = row.get("stories")
    passed = (f"{stories[0]}/{stories[1]} ({100 * stories[0] / stories[1]:.0f}%)"
              if stories else row.get("test_error", "-"))
    return (f"| {row['project']} | {train} | {row['peak_rss_mb']:.0f} | "
            f"{row['retrain_s']:.1f} ({row['retrained_components']} retrained, "
            f"{row['reused_components']} reused) | {nlu} | {passed} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", nargs="+", default=["template", "initial_project_3x"],
                        choices=sorted(PROJECTS))
    parser.add_argument("--threads", type=int, default=2,
                        help="CPU threads for torch in the training process (default 2)")
    parser.add_argument("--skip-tests", action="store_true", help="do not run test stories")
    args = parser.parse_args(argv)
    env = dict(os.environ)
    for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "DFL_NUM_THREADS"):
        env[key] = str(args.threads)
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    env.setdefault("HF_HUB_OFFLINE", "1")
    rows = []
    with bench_lock():
        for name in args.projects:
            source = PROJECTS[name]
            if not source.is_dir():
                print(f"skipping {name}: {source} not found", file=sys.stderr)
                continue
            rows.append(bench_project(name, source, env, not args.skip_tests))
    print(f"dialogue training benchmark ({args.threads} threads, {os.cpu_count()} CPUs on the "
          f"machine; other work may have shared the CPU)")
    print("| project | full train s (target) | peak RSS MB (target <= 1024) | "
          "retrain, nothing changed, s (target <= 5) | NLU alone s (target) | "
          "test stories passed |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(_fmt(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
