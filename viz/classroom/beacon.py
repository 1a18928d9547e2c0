"""A class's version as a tiny static file, watched by the students' browsers. No streamlit.

A following student's page used to rerun a Streamlit fragment every second to ask the class store
whether the teacher had moved. Each of those reruns starts a thread on the server's event loop and
waits for it: with thirty students and a page run going on, the loop stalled for up to 2.5 s and
every message to every browser waited (docs/capacity.md). Instead, each change of a class writes
`{"v": version}` to static/class/<token>.json, which Streamlit serves as a static file
(server.enableStaticServing), and a few lines of JavaScript on the student's page fetch it every
second; only when the number changes does the page rerun. The token is random per class (in the
class store) and the file holds nothing but the number.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from pathlib import Path

FOLDER = Path(__file__).resolve().parents[2] / "static" / "class"
URL_PREFIX = "app/static/class/"  # relative to the page, as Streamlit serves ./static
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")


def _path(token: str, folder: Path) -> Path:
    if not _TOKEN.fullmatch(token or ""):
        raise ValueError("not a class watch token")
    return folder / f"{token}.json"


def url(token: str) -> str:
    _path(token, FOLDER)
    return f"{URL_PREFIX}{token}.json"


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
