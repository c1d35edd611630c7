"""The shared data model must not pull in the heavy parts of the stack."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "transformers", "sanic", "spacy", "matplotlib")


def test_shared_package_imports_no_heavy_libraries() -> None:
    code = (
        "import sys\n"
        "import dialogflowlite.shared.message, dialogflowlite.shared.domain\n"
        "import dialogflowlite.shared.training_data, dialogflowlite.shared.stories\n"
        "import dialogflowlite.shared.events, dialogflowlite.shared.tracker\n"
        "import dialogflowlite.io.loader\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "", f"heavy modules imported: {result.stdout.strip()}"
