"""Follow the teacher: a presenter page publishes its settings, read-only student pages on the same server mirror
them live.

The shared state is one small JSON file per room in a folder of the server's machine
(``$PNP_LESSONS_FOLLOW_DIR``, else ``pnp-lessons-follow`` in the system's temporary folder): every Voilà kernel of
a server runs there, so no external service is involved. The presenter writes the settings as the query string
of :func:`pnp_lessons.problems.settings_to_query` (atomically, with a version number); a :class:`Follower` polls
the file and hands each new version, checked by :func:`~pnp_lessons.problems.settings_from_query`, to its callback.

Examples
--------
>>> import tempfile, os
>>> os.environ["PNP_LESSONS_FOLLOW_DIR"] = tempfile.mkdtemp()
>>> publish("demo", {"gamma": 1.2, "solver": "pnp-ista"})
1
>>> read("demo")["query"]
'gamma=1.20'
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path

from .params import SettingsError
from .problems import settings_from_query, settings_to_query

__all__ = ["publish", "read", "Follower", "room_from_query", "check_room", "folder", "DEFAULT_ROOM"]

DEFAULT_ROOM = "class"
_ROOM = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_lock = threading.Lock()


def folder() -> Path:
    """Where the rooms' files live (created on first use)."""
    d = Path(os.environ.get("PNP_LESSONS_FOLLOW_DIR") or Path(tempfile.gettempdir()) / "pnp-lessons-follow")
    d.mkdir(parents=True, exist_ok=True)
    return d


def check_room(room: str) -> str:
    """``room`` when it is 1–40 letters, digits, ``-`` or ``_``; a :class:`SettingsError` naming it otherwise."""
    if not isinstance(room, str) or not _ROOM.match(room):
        raise SettingsError(f"room must be 1 to 40 letters, digits, '-' or '_'; got {str(room)[:60]!r}")
    return room


def room_from_query(query: str | None) -> str:
    """The ``room`` of a page's query string (``?room=math101``), else :data:`DEFAULT_ROOM`."""
    rooms = urllib.parse.parse_qs(query or "").get("room")
    return check_room(rooms[-1]) if rooms else DEFAULT_ROOM


def read(room: str) -> dict | None:
    """The room's last published state, ``{"version", "query", "time"}``, or None when nothing was published."""
    path = folder() / f"{check_room(room)}.json"
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) and "version" in state and "query" in state else None


def publish(room: str, settings: dict) -> int:
    """Write ``settings`` as the room's new state (atomically); returns its version number."""
    path = folder() / f"{check_room(room)}.json"
    with _lock:
        old = read(room)
        version = (old["version"] if old else 0) + 1
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"version": version, "query": settings_to_query(settings), "time": time.time()}))
        os.replace(tmp, path)
    return version


class Follower:
    """A thread that polls a room and calls ``on_settings(settings, notes)`` for each new version (the settings
    a page can use, and what it could not, see :func:`~pnp_lessons.problems.settings_from_query`).

    Stop it with :meth:`close`.
    """

    def __init__(self, room: str, on_settings: Callable[[dict, list], None], interval: float = 0.4):
        self.room, self.on_settings, self.interval = check_room(room), on_settings, float(interval)
        self.version = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"pnp-follow-{room}", daemon=True)
        self._thread.start()

    def _loop(self):
        while not self._stop.is_set():
            state = read(self.room)
            if state is not None and state["version"] != self.version:
                self.version = state["version"]
                settings, notes = settings_from_query(state["query"])
                try:
                    self.on_settings(settings, notes)
                except Exception:  # noqa: BLE001 - a page that cannot apply one state waits for the next
                    pass
            self._stop.wait(self.interval)

    def close(self):
        self._stop.set()
        self._thread.join(timeout=5)
