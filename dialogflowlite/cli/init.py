"""``dialogflowlite init``: start a new project from a built-in template.

Templates are the subfolders of ``projects_template/`` in the source tree
(``en`` is the default). Each holds a complete project plus a small
``template.yml`` with its ``description`` (shown by ``--list-templates``);
that file describes the template and is not copied.

As ``rasa init``: ``--no-prompt`` also trains an initial model, and in a
terminal ``init`` offers to train one and then to chat with it. A script
(stdin not a terminal) that gives neither only gets the files, so nothing
slow happens unasked. ``--init-dir`` is Rasa's spelling of the folder.

Installed packages carry the templates as package data under
``dialogflowlite/templates`` (in the source tree a link to
``projects_template/``), so ``init`` works the same from a checkout, an
editable install and a wheel.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from dialogflowlite.cli.command import Command
from dialogflowlite.errors import TemplateError
from dialogflowlite.io.formats import did_you_mean
from dialogflowlite.io.yaml import read_yaml_file, to_plain

DEFAULT_TEMPLATE = "en"
#: what each template folder says about itself; not copied into new projects
TEMPLATE_INFO_FILE = "template.yml"
#: things a template folder may hold after someone ran the bot in it; never copied
NOT_COPIED = {
    TEMPLATE_INFO_FILE,
    "models",
    "results",
    "trackers.db",
    ".dfl_cache",
    "__pycache__",
    ".pytest_cache",
}


@dataclass(frozen=True)
class Template:
    """A built-in project template."""

    name: str
    path: Path
    description: str


def template_roots() -> list[Path]:
    """Folders that may hold templates, in the order they are searched.

    The package's own ``templates`` folder comes first (package data in an
    installed wheel, a link to ``projects_template/`` in a checkout); the
    checkout's ``projects_template/`` is the fallback where links are not
    supported.
    """
    package = Path(__file__).resolve().parents[1]
    return [package / "templates", package.parent / "projects_template"]


def _describe(folder: Path) -> str:
    info = folder / TEMPLATE_INFO_FILE
    if not info.is_file():
        return ""
    data = to_plain(read_yaml_file(info)) or {}
    return str(data.get("description") or "") if isinstance(data, dict) else ""


def available_templates() -> dict[str, Template]:
    """Every template found, by name (the first root that has a name wins)."""
    found: dict[str, Template] = {}
    for root in template_roots():
        if not root.is_dir():
            continue
        for folder in sorted(p for p in root.iterdir() if p.is_dir()):
            if folder.name.startswith((".", "_")) or folder.name in found:
                continue
            if (folder / "domain.yml").is_file() or (folder / TEMPLATE_INFO_FILE).is_file():
                found[folder.name] = Template(folder.name, folder, _describe(folder))
    return found


def get_template(name: str) -> Template:
    """The template called ``name``; an unknown name fails with the known ones."""
    templates = available_templates()
    if name in templates:
        return templates[name]
    if not templates:
        raise TemplateError(
            "no project templates are installed",
            hint="reinstall dialogflowlite; templates ship inside the package "
            f"(searched {', '.join(str(r) for r in template_roots())})",
        )
    raise TemplateError(
        f"unknown template '{name}'",
        hint=did_you_mean(name, templates)
        or f"available templates: {', '.join(sorted(templates))}",
    )


def _copy_tree(source: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for item in sorted(source.iterdir()):
        if item.name in NOT_COPIED:
            continue
        destination = target / item.name
        if item.is_dir():
            _copy_tree(item, destination)
        else:
            shutil.copyfile(item, destination)


def create_project(
    target: str | Path, template: str = DEFAULT_TEMPLATE, force: bool = False
) -> Path:
    """Copy the template ``template`` into ``target`` and return the project folder.

    ``target`` may be missing or empty. A folder with files in it is refused
    unless ``force`` is set; then the template's files overwrite files of the
    same name and every other file stays as it was.
    """
    chosen = get_template(template)
    folder = Path(target)
    if folder.exists() and not folder.is_dir():
        raise TemplateError(
            f"{folder} is a file, not a folder",
            hint="pass the name of a new folder for the project",
        )
    if folder.is_dir() and any(folder.iterdir()) and not force:
        raise TemplateError(
            f"folder {folder} is not empty",
            hint="choose a new folder, or pass --force to write the "
            "template's files into it anyway",
        )
    try:
        _copy_tree(chosen.path, folder)
    except OSError as e:
        raise TemplateError(
            f"cannot create the project in {folder}: {e.strerror or e}",
            hint="check that the folder is writable",
        ) from e
    return folder


def _registered_commands() -> set[str]:
    from dialogflowlite.plugins.manager import get_plugin_manager

    names: set[str] = set()
    for _plugin, commands in get_plugin_manager().call_each("dfl_register_commands"):
        names.update(getattr(c, "name", "") for c in commands or [])
    return names


def next_steps(folder: Path, *, trained: bool = False) -> list[str]:
    """The commands to run next, limited to those that are installed (without
    ``train`` when ``trained``: the initial model is there already)."""
    steps = [
        ("data validate", "check the project files"),
        ("train", "train the assistant"),
        ("shell", "chat with it in the terminal"),
        ("test", "run the test stories"),
        ("run", "serve it over HTTP"),
    ]
    if trained:
        steps = [(name, what) for name, what in steps if name != "train"]
    known = _registered_commands()
    lines = [] if folder.resolve() == Path.cwd().resolve() else [f"cd {folder}"]
    width = max(len(name) for name, _ in steps) + len("dialogflowlite ")
    lines += [
        f"{'dialogflowlite ' + name:<{width}}  # {what}" for name, what in steps if name in known
    ]
    return lines


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "directory",
        nargs="?",
        default=".",
        help="folder for the new project (default: the current folder)",
    )
    parser.add_argument(
        "--template",
        default=DEFAULT_TEMPLATE,
        help=f"template to copy (default: {DEFAULT_TEMPLATE}); see --list-templates",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="write into a folder that is not empty, overwriting files the template also has",
    )
    parser.add_argument(
        "--list-templates", action="store_true", help="list the available templates and exit"
    )
    parser.add_argument(
        "--no-prompt",
        action="store_true",
        help="ask nothing: create the project and train an initial model (as rasa init)",
    )
    parser.add_argument(
        "--init-dir", default=None, metavar="DIR", help="the project folder (Rasa's spelling)"
    )


def _folder(args: argparse.Namespace) -> str:
    """The project folder from the positional argument or ``--init-dir`` (not both)."""
    if args.init_dir is None:
        return args.directory
    if args.directory not in (".", args.init_dir):
        raise TemplateError(
            f"two project folders given: {args.directory} and --init-dir {args.init_dir}",
            hint="give the folder once",
        )
    return args.init_dir


def ask_yes_no(question: str, default: bool = True) -> bool:
    """Ask ``question`` on the terminal; Enter takes ``default``, end of input says no."""
    suffix = "[Y/n]" if default else "[y/N]"
    while True:
        print(f"{question} {suffix} ", end="", flush=True)
        line = sys.stdin.readline()
        if not line:
            print()
            return False
        answer = line.strip().lower()
        if not answer:
            return default
        if answer in ("y", "yes"):
            return True
        if answer in ("n", "no"):
            return False
        print("Please answer y or n.")


def _train(folder: Path) -> None:
    """Train the project's initial model."""
    from dialogflowlite.cli.train import train_project

    print("Training an initial model...", flush=True)
    train_project(folder)


def _chat(folder: Path) -> None:
    """Chat with the new model in the terminal."""
    import asyncio

    from dialogflowlite.cli.shell import run_shell

    asyncio.run(run_shell(folder))


def _run(args: argparse.Namespace) -> int:
    if args.list_templates:
        templates = available_templates()
        width = max((len(name) for name in templates), default=0)
        for name, template in sorted(templates.items()):
            default = " (default)" if name == DEFAULT_TEMPLATE else ""
            print(f"{name:<{width}}  {template.description}{default}".rstrip())
        return 0
    folder = create_project(_folder(args), template=args.template, force=args.force)
    print(f"Created a new project in {folder} from the '{args.template}' template.")
    if args.no_prompt:
        # the steps come after the training, so they no longer say to train
        _train(folder)
        _print_next_steps(folder, trained=True)
        return 0
    # asked before the steps are listed, so that they say to train only when it was not
    # done, and the offer to chat comes last, as rasa init makes it
    trained = sys.stdin.isatty() and ask_yes_no("Train an initial model now?")
    if trained:
        _train(folder)
    _print_next_steps(folder, trained=trained)
    if trained and ask_yes_no("Chat with it in the terminal now?"):
        _chat(folder)
    return 0


def _print_next_steps(folder: Path, *, trained: bool) -> None:
    steps = next_steps(folder, trained=trained)
    if steps:
        print("Next steps:")
        for line in steps:
            print(f"  {line}")
    if (folder / "README.md").is_file():
        print(f"{folder / 'README.md'} explains what the bot does and how to change it.")


COMMAND = Command(
    "init",
    "create a new project from a template",
    _add_arguments,
    _run,
    description="Create a new project from a built-in template: a working bot to change "
    "into your own. Refuses a folder that is not empty unless --force is given. "
    "--no-prompt also trains an initial model; in a terminal, init offers to train one "
    "and to chat with it.",
)
