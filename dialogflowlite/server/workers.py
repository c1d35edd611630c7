"""Which server process this is, for work that one process does for all of them.

``run --workers N`` starts N server processes that each build the whole app.
Most start-up work belongs in every one of them (loading the model, opening
the stores), but some is a single fact about the server, such as the webhook
address registered with a messaging platform: done by every worker, it is
N calls to the platform's API at each start, racing each other.
"""

from __future__ import annotations

import os

#: Sanic names its server processes ``Sanic-Server-<server>-<process>``; a
#: restarted first server keeps the ``Sanic-Server-0-`` prefix.
FIRST_SERVER_PREFIX = "Sanic-Server-0-"


def is_first_worker() -> bool:
    """Whether this process does the once-per-server work at start.

    True in a one-process server and in the first of several server
    processes; False in the others.
    """
    name = os.environ.get("SANIC_WORKER_NAME")
    return name is None or name.startswith(FIRST_SERVER_PREFIX)
