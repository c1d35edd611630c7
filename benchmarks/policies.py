"""Dialogue policies alone: training time per policy and intent-level story accuracy.

For each project, every configured policy (Rasa names translated) trains on
the stories and rules; then each training story and rule, and each test
story, is replayed at the intent level (NLU left out: the written intents and
entities are used) with three policy sets:

* ``all``: the configured policies;
* ``memo+rules``: without the transformer policy;
* ``rules+transformer``: without memoization, to see what the transformer
  policy generalises on its own.

A story passes when every action in it is predicted. Prints one table.
Timing runs hold ``/tmp/dfl-bench.lock`` (as ``flock /tmp/dfl-bench.lock``
does), so two benchmarks never overlap; other work on the machine may still
share the CPU.

    python benchmarks/policies.py
    python benchmarks/policies.py --projects financial_demo --threads 2 --seed 3
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from bench_lock import bench_lock

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DFL_SHARED_DATA", REPO.parent / "shared" / "data"))
PROJECTS = {
    "template": REPO / "projects_template" / "en",
    "initial_project_3x": SHARED / "rasa_projects" / "initial_project_3x",
    "formbot": SHARED / "rasa_projects" / "formbot",
    "financial_demo": SHARED / "rasa_projects" / "financial_demo",
}


def story_accuracy(policies, paths, domain) -> tuple[int, int]:
    from dialogflowlite.components.policies.ensemble import PolicyEnsemble
    from dialogflowlite.components.policies.replay import replay_path

    ensemble = PolicyEnsemble.from_policies(policies)
    passed = sum(all(step.correct for step in replay_path(ensemble, path, domain))
                 for path in paths)
    return passed, len(paths)


def run_project(name: str, root: Path, seed: int) -> list[str]:
    from dialogflowlite.components.policies.base import PolicyContext
    from dialogflowlite.components.policies.memoization import MemoizationPolicy
    from dialogflowlite.components.policies.training import build_policies, training_paths
    from dialogflowlite.components.policies.transformer_policy import TransformerPolicy
    from dialogflowlite.io.loader import load_project
    from dialogflowlite.shared.story_paths import expand_story_paths

    project = load_project(root, strict=False)
    paths = training_paths(project)
    tests = expand_story_paths(project.test_stories, domain=project.domain)
    policies = [entry.policy for entry in build_policies(project)]
    timings = []
    for policy in policies:
        started = time.perf_counter()
        policy.train(paths, project.domain, PolicyContext(seed=seed, progress=False))
        timings.append(f"{policy.name} {time.perf_counter() - started:.2f}s")
        if isinstance(policy, TransformerPolicy) and policy.training_summary:
            timings[-1] += f" ({policy.training_summary['epochs']:g} ep)"
    sets = {
        "all": policies,
        "memo+rules": [p for p in policies if not isinstance(p, TransformerPolicy)],
        "rules+transformer": [p for p in policies if not isinstance(p, MemoizationPolicy)],
    }
    rows = []
    for label, chosen in sets.items():
        train = story_accuracy(chosen, paths, project.domain)
        test = story_accuracy(chosen, tests, project.domain) if tests else (0, 0)
        rows.append(f"| {name} | {label} | {train[0]}/{train[1]} | "
                    f"{test[0]}/{test[1] if tests else '-'} | {'; '.join(timings)} |")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--projects", nargs="+", default=list(PROJECTS), choices=list(PROJECTS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    print("| project | policies | training stories+rules passed | test stories passed "
          "| training time per policy |")
    print("|---|---|---|---|---|")
    with bench_lock():
        for name in args.projects:
            root = PROJECTS[name]
            if not root.is_dir():
                print(f"| {name} | (missing: {root}) | | | |")
                continue
            for row in run_project(name, root, args.seed):
                print(row, flush=True)
    print(f"\n{args.threads} torch threads, seed {args.seed}; intent-level replay (NLU not "
          "involved); other work on the machine may have shared the CPU.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
