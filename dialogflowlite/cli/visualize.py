"""``dialogflowlite visualize``: the project's stories as one graph (Rasa's ``rasa visualize``).

The graph itself comes from :mod:`dialogflowlite.dialogue.story_graph`. Two
of Rasa's options change the drawing here: ``--max-history N`` draws steps
with the same label and the same next steps as one node (a smaller graph, as
Rasa draws it), and ``--nlu`` labels user steps with an example message
instead of the intent name.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from dialogflowlite.cli.command import Command
from dialogflowlite.cli.options import existing_path, output_file, positive_int


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--project", default=".", metavar="DIR",
                        help="the project folder (default: the current folder)")
    parser.add_argument("-s", "--stories", default=None, metavar="PATH",
                        help="a stories file or folder instead of the project's data/ "
                             "(its rules too, with --rules)")
    parser.add_argument("-d", "--domain", default=None, metavar="PATH",
                        help="a domain file or folder instead of the project's (its slots and "
                             "forms shape the story paths)")
    parser.add_argument("-c", "--config", default=None, metavar="FILE",
                        help="a config file read instead of config.yml; the drawing does not "
                             "depend on the pipeline or policies, so this only changes which "
                             "file must be valid")
    parser.add_argument("-u", "--nlu", default=None, metavar="PATH",
                        help="NLU data (file or folder): user steps are drawn as the first "
                             "example of their intent with the same entities, not as the "
                             "intent name")
    parser.add_argument("--max-history", type=positive_int, default=None, metavar="N",
                        help="draw steps with the same label as one node when the paths of N "
                             "steps starting at them are alike, as Rasa does (its default is "
                             "2): smaller, but it may show paths no story has (default: merge "
                             "only what every story path keeps exactly)")
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
              fmt: str | None = None, domain: str | Path | None = None,
              config: str | Path | None = None, nlu: str | Path | None = None,
              max_history: int | None = None) -> Path:
    """Write the graph of the project's stories (or of ``stories``); returns the file.

    ``domain`` and ``config`` are read instead of the project's; ``nlu``
    labels user steps with example messages (:mod:`dialogflowlite.dialogue.story_examples`);
    ``max_history`` merges alike steps (:mod:`dialogflowlite.dialogue.story_graph_merge`).
    """
    from dialogflowlite.errors import ProjectError
    from dialogflowlite.evaluation.nlu import load_nlu_data
    from dialogflowlite.io.loader import ProjectSources, load_project, resolve_in_project
    from dialogflowlite.shared.story_paths import expand_story_paths

    if stories is not None:
        existing_path(stories, project_dir, "stories file or folder", "--stories")
    sources = ProjectSources(domain=domain, config=config,
                             data=(stories,) if stories is not None else None)
    project = load_project(project_dir, sources=sources)
    drawn_rules = list(project.rules) if rules else []
    chosen = list(project.stories) + drawn_rules
    if not chosen:
        raise ProjectError("there are no stories to draw",
                           hint="add stories under data/, pass --stories, or add --rules")
    paths = expand_story_paths(chosen, domain=project.domain)
    if nlu is not None:
        from dialogflowlite.dialogue.story_examples import with_examples

        examples = load_nlu_data(resolve_in_project(nlu, project.root), project.root)
        paths = with_examples(paths, examples)
    target, steps = write_story_graph(paths, Path(out) if out is not None else None,
                                      project.root, fmt=fmt, max_history=max_history)
    what = drawn_counts(len(project.stories), len(drawn_rules) if rules else None)
    print(f"{what} drawn as {steps} steps into {target}")
    return target


def drawn_counts(stories: int, rules: int | None) -> str:
    """``"5 stories and 15 rules"``; the stories alone when ``rules`` is None (not drawn)."""
    text = f"{stories} {'story' if stories == 1 else 'stories'}"
    if rules is None:
        return text
    return f"{text} and {rules} {'rule' if rules == 1 else 'rules'}"


def write_story_graph(paths: list[Any], out: Path | None, root: Path, *, fmt: str | None = None,
                      max_history: int | None = None,
                      name: str = "graph") -> tuple[Path, int]:
    """Draw story ``paths`` as one graph into ``out`` (default ``root/<name>.html``, or
    ``.dot`` with ``fmt`` dot); returns the file written and the graph's number of steps.

    ``max_history`` merges alike steps
    (:mod:`dialogflowlite.dialogue.story_graph_merge`).
    """
    from dialogflowlite.dialogue.story_graph import build_story_graph, graph_to_dot, graph_to_html

    graph = build_story_graph(paths)
    if max_history is not None:
        from dialogflowlite.dialogue.story_graph_merge import merge_alike_steps

        graph = merge_alike_steps(graph, max_history)
    fmt = fmt or ("dot" if out is not None and str(out).endswith(".dot") else "html")
    target = out if out is not None else root / f"{name}.{fmt}"
    title = f"Stories of {root.resolve().name}"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(graph_to_dot(graph, title) if fmt == "dot" else graph_to_html(graph, title),
                      encoding="utf-8")
    return target, len(graph.nodes)


def _run(args: argparse.Namespace) -> int:
    if args.out is not None:
        output_file(args.out)
    visualize(args.project, stories=args.stories, rules=args.rules, out=args.out,
              fmt=args.format, domain=args.domain, config=args.config, nlu=args.nlu,
              max_history=args.max_history)
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
