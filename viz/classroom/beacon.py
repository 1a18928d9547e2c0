"""A class's version as a tiny static file, watched by the students' browsers. No streamlit.

A following student's page used to rerun a Streamlit fragment every second to ask the class store
whether the teacher had moved. Each of those reruns starts a thread on the server's event loop and
waits for it: with thirty students and a page run going on, the loop stalled for up to 2.5 s and
every message to every browser waited (docs/capacity.md). Instead, each change of a class writes
`{"v": version}` to static/class/<token>.json, which Streamlit serves as a static file
(server.enableStaticServing); only when the number changes does the student's page rerun. The
token is random per class (in the class store) and the file holds nothing but the number.

Fetching that file twice a second from thirty pages cost the server about 4 ms of CPU per fetch
(Streamlit's static files go through two thread hops), half of its CPU during a lesson. So the
server has one route more (server.py): GET class-version/<token>?since=<v> waits, in the event
loop, until the file holds another number than v, and answers with it (or with the same number
after `wait` seconds, at most WAIT_MAX_S): one request per student per move instead of two a
second, and no waiting for the next poll. The waiting is next_version() here (stdlib only); the
HTTP endpoint around it is server.py's. A page served without that route (`streamlit run app.py`)
falls back to fetching the file (viz/ui/class_ui.py's script does both).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import tempfile
import time
from pathlib import Path

FOLDER = Path(__file__).resolve().parents[2] / "static" / "class"
URL_PREFIX = "app/static/class/"  # relative to the page, as Streamlit serves ./static
WAIT_ROUTE = "/class-version/{token}"  # server.py's route (next_version)
WAIT_MAX_S = 25.0  # longest a request waits (proxies' and browsers' idle timeouts are longer)
WAIT_CHECK_S = 0.05  # how often a waiting request looks at the file (a stat; a read when it changed)
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")


def _path(token: str, folder: Path) -> Path:
    if not _TOKEN.fullmatch(token or ""):
        raise ValueError("not a class watch token")
    return folder / f"{token}.json"


def url(token: str) -> str:
    _path(token, FOLDER)
    return f"{URL_PREFIX}{token}.json"


def wait_url(token: str) -> str:
    """The route's address relative to the page (as url())."""
    _path(token, FOLDER)
    return WAIT_ROUTE.lstrip("/").replace("{token}", token)


def write(token: str, version: int, folder: Path = FOLDER) -> None:
    """Replace the file in one step (write beside, then rename): a reader sees the old or the new."""
    path = _path(token, folder)
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump({"v": int(version)}, f)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def read(token: str, folder: Path = FOLDER) -> int | None:
    try:
        return int(json.loads(_path(token, folder).read_text())["v"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def remove(token: str, folder: Path = FOLDER) -> None:
    _path(token, folder).unlink(missing_ok=True)


def prune(max_age_s: float, folder: Path = FOLDER, now: float | None = None) -> int:
    """Delete the files of classes older than `max_age_s` (they have expired); how many went."""
    now = time.time() if now is None else now
    gone = 0
    for p in folder.glob("*.json") if folder.is_dir() else ():
        try:
            if now - p.stat().st_mtime > max_age_s:
                p.unlink()
                gone += 1
        except OSError:
            pass
    return gone


async def next_version(token: str, since: int | None, wait_s: float, folder: Path | None = None) -> int | None:
    """The class's version once it differs from `since` (at once when since is None), or the
    same number after `wait_s` seconds (0 to WAIT_MAX_S); None once the file is gone (the class
    ended or expired). Waits in the event loop that awaits it, looking at the file's stamp every
    WAIT_CHECK_S and reading it only when it changed. ValueError for a token that is not one, or
    a wait that is not a number."""
    path = _path(token, folder or FOLDER)
    if not wait_s == wait_s:  # NaN would never time out
        raise ValueError("wait must be a number of seconds")
    deadline = time.monotonic() + min(max(float(wait_s), 0.0), WAIT_MAX_S)
    stamp, version = None, None
    while True:
        try:
            info = path.stat()
        except OSError:
            return None
        if (info.st_mtime_ns, info.st_ino) != stamp:  # write() renames a new file in
            stamp, version = (info.st_mtime_ns, info.st_ino), read(path.stem, path.parent)
        if version is None:
            return None
        if version != since or time.monotonic() >= deadline:
            return version
        await asyncio.sleep(WAIT_CHECK_S)
