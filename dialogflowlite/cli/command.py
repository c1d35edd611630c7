"""A command of the ``dialogflowlite`` command line, as plugins contribute them."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    """One CLI command.

    ``name`` may hold a space for a sub-command (``"data validate"``).
    ``add_arguments`` declares the command's options on its argparse parser;
    ``run`` receives the parsed arguments and returns an exit code (``None``
    means 0). Commands stay thin: they call a library function that tests can
    call directly.
    """

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int | None]
    description: str | None = None
