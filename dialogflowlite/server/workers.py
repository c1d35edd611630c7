"""Which server process this is, for work that one process does for all of them.

``run --workers N`` starts N server processes that each build the whole app.
Most start-up work belongs in every one of them (loading the model, opening
the stores), but some is a single fact about the server, such as the webhook
address registered with a messaging platform: done by every worker, it is
N calls to the platform's API at each start, racing each other.

Other work must reach every process: ``PUT /model`` and ``DELETE /model``
are answered by one of them, and the others follow its choice (see
:class:`~dialogflowlite.server.models.SharedModelChoice`), which they tell
from an earlier server's by :func:`server_run_id`.
"""

from __future__ import annotations

import os
import uuid

from dialogflowlite.shared.log_setup import in_worker_process

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


#: the environment variable that hands the id of one ``run`` to its worker processes
SERVER_RUN_VARIABLE = "DFL_SERVER_RUN_ID"


def server_run_id() -> str:
    """An id shared by all the processes of one ``run``, and by no earlier one.

    The main process builds the app once before it starts its workers; it
    makes a new id then and leaves it in its environment, which the workers
    inherit. A worker takes the inherited id; a main process never does
    (an id in its own environment came from whatever started it).
    """
    inherited = os.environ.get(SERVER_RUN_VARIABLE)
    if inherited and in_worker_process():
        return inherited
    made = os.environ[SERVER_RUN_VARIABLE] = uuid.uuid4().hex
    return made
