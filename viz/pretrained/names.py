"""What a typed model name is: a Hub id, a folder the server may load from, or neither.

Shared by the text and image loaders, so both answer a hostile name with a sentence.

Local folders are limited to an allow-list: `models/` in the repository plus the folders in
ATTENTION_LENS_MODEL_DIRS (separated by ':'). On a classroom server, anyone with the link types
into the model box; without the list they could make the server look anywhere on its disk.
A name is checked against the list before the filesystem is asked anything about it, and
symbolic links are resolved first, so a link inside an allowed folder cannot lead out of it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

MAX_NAME = 1024
ENV = "ATTENTION_LENS_MODEL_DIRS"
REPO_MODELS = Path(__file__).resolve().parents[2] / "models"
# "bert-base-uncased", "google/vit-base-patch16-224": at most one slash, no leading dot.
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?$")


FINETUNED_ENV = "ATTENTION_LENS_FINETUNED_DIR"


def finetuned_dir() -> Path:
    """Where viz.finetune saves the models it fine-tunes (one folder each, loadable by name):
    $ATTENTION_LENS_FINETUNED_DIR, else $XDG_CACHE_HOME/attention-lens/finetuned."""
    if os.environ.get(FINETUNED_ENV, "").strip():
        return Path(os.environ[FINETUNED_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "attention-lens" / "finetuned"


def allowed_dirs() -> list[Path]:
    extra = [Path(p).expanduser() for p in os.environ.get(ENV, "").split(os.pathsep) if p.strip()]
    return [d.resolve() for d in (REPO_MODELS, finetuned_dir(), *extra)]


def _inside(path: Path, dirs: list[Path]) -> bool:
    return any(path.is_relative_to(d) for d in dirs)


def local_folder(name: str) -> Path | None:
    """The local path `name` stands for (resolved, inside an allowed folder), or None for a Hub id.

    A path that does not exist is still returned: the loader then says it is not a model folder.
    Raises ValueError with a sentence for a name that is neither, or a path outside the list.
    """
    if len(name) > MAX_NAME:
        raise ValueError(f"A model name of {len(name):,} characters is neither a Hugging Face id "
                         f"(at most 96) nor a folder path (at most {MAX_NAME} here).")
    if any(ord(ch) < 32 for ch in name):
        raise ValueError("A model name cannot contain control characters (tabs, line breaks, escapes).")
    dirs = allowed_dirs()
    resolved = Path(os.path.realpath(Path(name).expanduser()))  # relative to the working folder
    if HUB_ID.match(name):
        # A Hub id, unless an allowed folder holds a folder of that name (e.g. models/my-bert).
        if _inside(resolved, dirs) and _exists(resolved):
            return resolved
        for d in dirs:
            candidate = Path(os.path.realpath(d / name))
            if _inside(candidate, dirs) and _exists(candidate):
                return candidate
        return None
    if not _inside(resolved, dirs):
        raise ValueError(
            f"'{_shown(name)}' is outside the folders this app loads models from ({allowed_description()}). "
            f"Put the model folder in one of them, or start the app with {ENV}=/path/to/your/models."
        )
    return resolved


def allowed_description() -> str:
    """The allowed folders in words a user may see: never the server's absolute paths."""
    extra = " and the folders named in the server's " + ENV if os.environ.get(ENV, "").strip() else ""
    return "the app's models/ folder" + extra + " (and the models fine-tuned on this server)"


def without_server_paths(text: str) -> str:
    """`text` (a loader's error, a source line) with the allowed folders' absolute paths replaced
    by the words a user knows them by, so a page never shows where the server keeps its files."""
    for d in sorted(allowed_dirs(), key=lambda p: len(str(p)), reverse=True):
        shown = ("models" if d == REPO_MODELS.resolve() else
                 "<fine-tuned models>" if d == finetuned_dir().resolve() else f"<{ENV}>")
        text = text.replace(str(d), shown)
    return text


def _shown(name: str) -> str:
    name = without_server_paths(name)
    return name if len(name) <= 80 else name[:77] + "..."


def check_model_folder(folder: Path, shown: str | None = None) -> None:
    """Raise ValueError with a sentence unless `folder` holds config.json and safetensors weights.

    Pickle-based weights (.bin, .pt, .pth) are refused: loading them can run code. The sentences
    name the folder as `shown` (what the user typed), not by the server's absolute path.
    """
    where = folder if shown is None else _shown(shown)
    if not folder.is_dir():
        raise ValueError(f"'{where}' is not a folder. Give the folder that holds config.json and model.safetensors.")
    if not (folder / "config.json").is_file():
        raise ValueError(f"'{where}' has no config.json, so it is not a saved Hugging Face model.")
    if not any(folder.glob("*.safetensors")):
        pickles = sorted(p.name for ext in ("bin", "pt", "pth") for p in folder.glob(f"*.{ext}"))
        if pickles:
            raise ValueError(
                f"'{where}' holds only {', '.join(pickles)}: pickle-based weights, which can run code when "
                "loaded. This app loads safetensors only; convert them with "
                "model.save_pretrained(folder, safe_serialization=True)."
            )
        raise ValueError(f"'{where}' has no .safetensors weights file.")


def model_folder(name: str) -> Path | None:
    """local_folder(name), checked by check_model_folder; None for a Hub id. Raises ValueError."""
    local = local_folder(name)
    if local is not None:
        check_model_folder(local, shown=name)
    return local


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # a part longer than the filesystem allows, a loop of links, ...
        return False
