"""ResponseSelector on a pretrained encoder: training time, load time, selection latency.

Trains a ``ResponseSelector`` with ``model:`` (default all-MiniLM-L6-v2, the
encoder installed with the package) on the retrieval-intent examples of a
project (default: the English template's FAQ), saves it, and then, for each
way of loading it (``fast_inference`` true and false), starts a fresh Python
process that loads the saved selector and measures:

* the load time (imports included: a server pays them at start),
* whether ``transformers`` was imported,
* the latency of selecting the response for one message at a time, p50 and
  p95 over the project's retrieval examples, repeated ``--rounds`` times,
* the keys it selects, compared with the other way of loading.

Prints one table. Timing runs hold ``/tmp/dfl-bench.lock`` (as the other
benchmarks do); other work on the machine may still share the CPU.

    python benchmarks/response_selector.py
    python benchmarks/response_selector.py --project path/to/project --model path/to/bert
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from bench_lock import bench_lock

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


#: what each measuring process runs: load, select one message at a time, report
MEASURE = textwrap.dedent(
    """
    import json, statistics, sys, time
    started = time.perf_counter()
    import torch
    from dialogflowlite.artifact import ComponentStorage
    from dialogflowlite.components.nlu.response_selector import ResponseSelector
    from dialogflowlite.components.tokenizers.alignment import simple_tokens
    from dialogflowlite.shared.message import Message

    config, folder, texts, rounds, threads = json.loads(sys.argv[1])
    torch.set_num_threads(threads)
    selector = ResponseSelector.load(config, ComponentStorage(folder))
    loaded = time.perf_counter() - started
    keys, times = [], []
    for round_ in range(rounds + 1):
        for text in texts:
            message = Message(text=text, tokens=simple_tokens(text))
            start = time.perf_counter()
            selector.process([message])
            if round_:  # the first round warms up (traces, caches)
                times.append(time.perf_counter() - start)
            else:
                keys.append(message.response_selector["default"]["response"]
                            ["intent_response_key"])
    times.sort()
    print(json.dumps({
        "load_s": loaded,
        "transformers": any(m.split(".")[0] == "transformers" for m in sys.modules),
        "p50_ms": 1000 * statistics.median(times),
        "p95_ms": 1000 * times[int(0.95 * (len(times) - 1))],
        "keys": keys,
    }))
    """
)


def train(project: Path, model: str, threads: int, folder: Path) -> tuple[float, list[str]]:
    """Train and save the selector; the seconds training took and the texts to select for."""
    import torch

    from dialogflowlite.artifact import ComponentStorage
    from dialogflowlite.components.base import NluContext
    from dialogflowlite.components.nlu.response_selector import ResponseSelector
    from dialogflowlite.components.tokenizers.alignment import simple_tokens
    from dialogflowlite.io.loader import load_project
    from dialogflowlite.shared.message import RETRIEVAL_SEPARATOR

    torch.set_num_threads(threads)
    loaded = load_project(project)
    examples = [m for m in loaded.nlu.examples if RETRIEVAL_SEPARATOR in (m.intent or "")]
    if not examples:
        raise SystemExit(f"{project} has no retrieval intent examples (faq/ask_price style)")
    for message in examples:
        message.tokens = simple_tokens(message.text)
    selector = ResponseSelector({"model": model, "device": "cpu"})
    started = time.perf_counter()
    selector.train(loaded.nlu, NluContext(progress=False, domain=loaded.domain))
    seconds = time.perf_counter() - started
    selector.persist(ComponentStorage(folder))
    return seconds, [m.text for m in examples]


def measure(model: str, folder: Path, texts: list[str], rounds: int, threads: int,
            fast: bool) -> dict:
    config = {"model": model, "fast_inference": fast}
    argument = json.dumps([config, str(folder), texts, rounds, threads])
    result = subprocess.run([sys.executable, "-c", MEASURE, argument], capture_output=True,
                            text=True, check=False, cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    if result.returncode:
        raise SystemExit(f"measuring fast_inference={fast} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", default=str(REPO / "projects_template" / "en"))
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=10, help="passes over the examples")
    parser.add_argument("--no-lock", action="store_true")
    args = parser.parse_args()
    with bench_lock(not args.no_lock), tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "selector"
        seconds, texts = train(Path(args.project), args.model, args.threads, folder)
        rows = {fast: measure(args.model, folder, texts, args.rounds, args.threads, fast)
                for fast in (True, False)}
    same = sum(a == b for a, b in zip(rows[True]["keys"], rows[False]["keys"], strict=True))
    print(f"ResponseSelector, model {args.model}, {len(texts)} retrieval examples of "
          f"{args.project}; trained in {seconds:.1f} s; {args.threads} threads; "
          f"latency over {args.rounds} rounds")
    print("| fast_inference | load (imports included) | transformers imported "
          "| latency p50 | latency p95 | same key as the other |")
    print("|---|---|---|---|---|---|")
    for fast, row in rows.items():
        print(f"| {str(fast).lower()} | {row['load_s']:.2f} s | "
              f"{'yes' if row['transformers'] else 'no'} | {row['p50_ms']:.2f} ms | "
              f"{row['p95_ms']:.2f} ms | {same}/{len(texts)} |")


if __name__ == "__main__":
    main()
