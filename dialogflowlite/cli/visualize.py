"""``dialogflowlite visualize``: the project's stories as one graph (Rasa's ``rasa visualize``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from dialogflowlite.cli.command import Command


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--project", default=".", metavar="DIR",
                        help="the project folder (default: the current folder)")
    parser.add_argument("-s", "--stories", default=None, metavar="PATH",
                        help="a stories file or folder instead of the project's data/")
    parser.add_argument("--rules", action="store_true",
                        help="draw the rules too (their conditions are left out)")
    parser.add_argument("--out", default=None, metavar="FILE",
                        help="where to write the graph (default: graph.html, or graph.dot "
                             "with --format dot)")
    parser.add_argument("--format", choices=("html", "dot"), default=None,
                        help="html: a page with the graph drawn (default); dot: Graphviz "
                             "(default: from --out's suffix)")


def visualize(project_dir: str | Path = ".", *, stories: str | Path | None = None,
              rules: bool = False, out: str | Path | None = None,
              fmt: str | None = None) -> Path:
    """Write the graph of the project's stories (or of ``stories``); returns the file."""
    from dialogflowlite.dialogue.story_graph import build_story_graph, graph_to_dot, graph_to_html
    from dialogflowlite.errors import ProjectError
    from dialogflowlite.evaluation.stories import load_test_stories
    from dialogflowlite.io.loader import load_project, resolve_in_project
    from dialogflowlite.shared.story_paths import expand_story_paths

    project = load_project(project_dir)
    if stories is not None:
        chosen = load_test_stories(resolve_in_project(stories, project.root))
    else:
        chosen = list(project.stories) + (list(project.rules) if rules else [])
    if not chosen:
        raise ProjectError("there are no stories to draw",
                           hint="add stories under data/, pass --stories, or add --rules")
    graph = build_story_graph(expand_story_paths(chosen, domain=project.domain))
    fmt = fmt or ("dot" if out is not None and str(out).endswith(".dot") else "html")
    target = Path(out) if out is not None else project.root / f"graph.{fmt}"
    title = f"Stories of {project.root.resolve().name}"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(graph_to_dot(graph, title) if fmt == "dot" else graph_to_html(graph, title),
                      encoding="utf-8")
    print(f"{len(chosen)} stories drawn as {len(graph.nodes)} steps into {target}")
    return target


def _run(args: argparse.Namespace) -> int:
    visualize(args.project, stories=args.stories, rules=args.rules, out=args.out,
              fmt=args.format)
    return 0


COMMAND = Command(
    name="visualize",
    help="draw the stories as one graph (graph.html, or Graphviz with --format dot)",
    description="Draw every story path from START to END in one graph: stories that begin "
    "or end alike share those steps. Writes a self-contained HTML page (graph.html) or a "
    "Graphviz file.",
    add_arguments=_add_arguments,
    run=_run,
)
