"""``python -m dialogflowlite``: the command line, for environments without the script."""

import sys

from dialogflowlite.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
