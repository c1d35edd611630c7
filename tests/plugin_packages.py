"""The plugin packages under ``plugins/`` checked from the project's tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def assert_package_tests_pass(root: Path, timeout: float = 600) -> None:
    """Run the tests of the plugin package at ``root`` in a child ``pytest``, as its
    README does (the package importable from its folder), and fail with their output
    unless they all pass."""
    path = os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=root,
        env={**os.environ, "PYTHONPATH": path},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout
