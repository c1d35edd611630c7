"""Engine.IO 4 sessions, the transport layer under Socket.IO (text packets only).

A session starts over HTTP long-polling (``GET ?EIO=4&transport=polling``
answers the open packet; later ``GET``s wait for packets, ``POST``s carry the
client's, both joined by ``\\x1e``) or directly over a WebSocket, and a
polling session may upgrade to a WebSocket: the client probes
(``2probe`` -> ``3probe``), the pending poll is ended with a noop, and after
the client's ``5`` every packet goes over the socket. The server pings every
``ping_interval`` seconds and drops a session that has not answered within
``ping_timeout`` more.

Packets the client sends as messages (``4...``) reach the session's handler
one at a time, in order, on a task of the session's own, so a long turn never
holds up pongs or the polling requests. Sessions live in one process: several
server workers need sticky sessions for polling clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

OPEN, CLOSE, PING, PONG, MESSAGE, UPGRADE, NOOP = "0", "1", "2", "3", "4", "5", "6"
#: joins the packets of one polling request or response
SEPARATOR = "\x1e"
PROBE = "probe"


class EngineSession:
    """One client's Engine.IO session, over polling or (after an upgrade) a WebSocket."""

    def __init__(self, server: EngineServer, sid: str) -> None:
        self.server = server
        self.sid = sid
        self.ws: Any = None
        self.closed = False
        self.last_seen = time.monotonic()
        self.outgoing: asyncio.Queue[str] = asyncio.Queue()
        self.inbox: asyncio.Queue[str] = asyncio.Queue()
        self.handler = server.make_handler(self)
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._handle_messages()), loop.create_task(self._ping())]

    def open_packet(self, upgrades: list[str]) -> str:
        return OPEN + json.dumps({
            "sid": self.sid, "upgrades": upgrades,
            "pingInterval": int(self.server.ping_interval * 1000),
            "pingTimeout": int(self.server.ping_timeout * 1000),
            "maxPayload": self.server.max_payload})

    async def send(self, packet: str) -> None:
        """Send one packet to the client (queued for the next poll before an upgrade)."""
        if self.closed:
            return
        if self.ws is not None:
            await self.ws.send(packet)
        else:
            self.outgoing.put_nowait(packet)

    def receive(self, packet: str) -> None:
        """Take one packet from the client."""
        self.last_seen = time.monotonic()
        if not packet:
            return
        kind = packet[0]
        if kind == MESSAGE:
            self.inbox.put_nowait(packet[1:])
        elif kind == CLOSE:
            asyncio.get_running_loop().create_task(self.close())

    async def poll(self) -> str:
        """The packets waiting for the client, joined; waits for one (a ping comes in time)."""
        first = await self.outgoing.get()
        packets = [first]
        while not self.outgoing.empty():
            packets.append(self.outgoing.get_nowait())
        return SEPARATOR.join(packets)

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.outgoing.put_nowait(NOOP)  # ends a poll that is waiting
        self.server.sessions.pop(self.sid, None)
        # the handler may hold on to the session elsewhere (a Socket.IO room)
        on_close = getattr(self.handler, "on_close", None)
        if on_close is not None:
            on_close()
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()

    async def _handle_messages(self) -> None:
        while True:
            payload = await self.inbox.get()
            try:
                await self.handler.handle(payload)
            except Exception as e:  # one bad message never ends the session
                logger.error("engine.io session %s: a message failed: %s", self.sid, e,
                             exc_info=True)

    async def _ping(self) -> None:
        while not self.closed:
            await asyncio.sleep(self.server.ping_interval)
            silent = time.monotonic() - self.last_seen
            if silent > self.server.ping_interval + self.server.ping_timeout:
                logger.info("engine.io session %s did not answer pings; closed", self.sid)
                await self.close()
                return
            await self.send(PING)


class EngineServer:
    """The sessions of one endpoint, and the two transports' request handling.

    ``make_handler(session)`` gives the object whose coroutine
    ``handle(payload)`` gets each message packet's payload (a Socket.IO packet).
    """

    def __init__(self, make_handler: Callable[[EngineSession], Any], *,
                 ping_interval: float = 25.0, ping_timeout: float = 20.0,
                 max_payload: int = 1_000_000) -> None:
        self.make_handler = make_handler
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.max_payload = max_payload
        self.sessions: dict[str, EngineSession] = {}

    async def close_all(self) -> None:
        """Close every session (when the server stops)."""
        for session in list(self.sessions.values()):
            await session.close()

    def _new_session(self) -> EngineSession:
        session = EngineSession(self, uuid.uuid4().hex)
        self.sessions[session.sid] = session
        return session

    # ------------------------------------------------------------ polling

    async def polling_get(self, sid: str | None) -> tuple[int, str]:
        """(status, body) of a polling GET: the open packet, or the waiting packets."""
        if sid is None:
            return 200, self._new_session().open_packet(["websocket"])
        session = self.sessions.get(sid)
        if session is None:
            return 400, json.dumps({"code": 1, "message": "Session ID unknown"})
        if session.ws is not None:
            return 400, json.dumps({"code": 3, "message": "Bad request"})
        return 200, await session.poll()

    def polling_post(self, sid: str | None, body: str) -> tuple[int, str]:
        """(status, body) of a polling POST: the client's packets are taken."""
        session = self.sessions.get(sid or "")
        if session is None:
            return 400, json.dumps({"code": 1, "message": "Session ID unknown"})
        if len(body) > self.max_payload:
            return 413, json.dumps({"code": 3, "message": "Payload too large"})
        for packet in body.split(SEPARATOR):
            session.receive(packet)
        return 200, "ok"

    # ------------------------------------------------------------ WebSocket

    async def websocket(self, ws: Any, sid: str | None) -> None:
        """Serve a WebSocket: a new session, or the upgrade of a polling one."""
        if sid is None:
            session = self._new_session()
            session.ws = ws
            await ws.send(session.open_packet([]))
        else:
            found = self.sessions.get(sid)
            if found is None or found.ws is not None:
                await ws.close(1008, "Session ID unknown")
                return
            session = found
            if not await self._upgrade(session, ws):
                return
        try:
            async for frame in ws:
                if isinstance(frame, str):
                    session.receive(frame)
        finally:
            await session.close()

    async def _upgrade(self, session: EngineSession, ws: Any) -> bool:
        """Probe and switch a polling session to ``ws``; False when the client gave up."""
        async for frame in ws:
            if frame == PING + PROBE:
                await ws.send(PONG + PROBE)
                session.outgoing.put_nowait(NOOP)  # the client waits for its poll to end
            elif frame == UPGRADE:
                # what was queued for the next poll now goes over the socket, in order
                waiting = []
                while not session.outgoing.empty():
                    packet = session.outgoing.get_nowait()
                    if packet != NOOP:
                        waiting.append(packet)
                session.ws = ws
                for packet in waiting:
                    await ws.send(packet)
                session.last_seen = time.monotonic()
                return True
        return False
