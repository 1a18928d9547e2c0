"""What a typed model name is: a local folder, a Hub id, or neither.

Shared by the text and image loaders, so both answer a hostile name with a sentence. A Hub id
is at most 96 characters; a path a few hundred. `Path.exists()` raises (instead of saying no)
on a name the filesystem cannot even look up, such as 100,000 characters.
"""

from __future__ import annotations

from pathlib import Path

MAX_NAME = 1024


def local_folder(name: str) -> Path | None:
    """The local path `name` names if something exists there, else None (then it may be a Hub id).

    Raises ValueError with the reason when `name` can be neither a path nor a Hub id.
    """
    if len(name) > MAX_NAME:
        raise ValueError(f"A model name of {len(name):,} characters is neither a Hugging Face id "
                         f"(at most 96) nor a folder path (at most {MAX_NAME} here).")
    if any(ord(ch) < 32 for ch in name):
        raise ValueError("A model name cannot contain control characters (tabs, line breaks, escapes).")
    path = Path(name).expanduser()
    try:
        return path if path.exists() else None
    except OSError:  # a part longer than the filesystem allows, a loop of links, ...
        return None
