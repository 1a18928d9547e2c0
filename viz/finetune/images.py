"""Pictures with the answer known: a generated shape set whose every picture has the object's mask,
and a reader for a zip of class folders (the ImageFolder layout). No Streamlit.

    ds = shapes(n_train=2400, n_held_out=200, seed=0)   # ImageSet: .train, .held_out, .labels
    pic = ds.train[0]                                   # Picture(image, label, mask or None)

Shapes: one object per picture (a circle, square, triangle or cross, filled, of a random colour,
size and place) on a cluttered background (a random two-colour gradient, stripes, speckle) with
distractors (thin lines and small dots, none of them a class's shape). The object is drawn a second
time on a mask, so we know which pixels hold the answer. Everything is seeded; nothing is copied.
"""

from __future__ import annotations

import io
import math
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath

import numpy as np
from PIL import Image, ImageDraw

SIZE = 112  # pixels a side: 8 x 8 patches of 14 px for DINOv2 (224 would be 16 x 16, four times the tokens)
CLASSES = ("circle", "square", "triangle", "cross")
MAX_ZIP_BYTES = 50_000_000
MAX_ZIP_FILES = 5_000
MAX_UNPACKED_BYTES = 200_000_000
MAX_CLASSES = 50
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")


@dataclass(frozen=True)
class Picture:
    image: Image.Image  # RGB, SIZE x SIZE for the generated set
    label: int
    mask: np.ndarray | None = None  # (SIZE, SIZE) bool: the object's pixels; None for real data


@dataclass(frozen=True)
class ImageSet:
    labels: tuple[str, ...]
    train: tuple[Picture, ...]
    held_out: tuple[Picture, ...]
    name: str = "shapes"


class ImageDataError(ValueError):
    """A picture set that cannot be used; the message is a sentence saying why."""


def _colour(rng: np.random.Generator, lo: int = 0, hi: int = 256) -> tuple[int, int, int]:
    return tuple(int(c) for c in rng.integers(lo, hi, 3))


def _background(rng: np.random.Generator) -> Image.Image:
    """A gradient between two random colours, stripes at a random angle, speckle."""
    t = np.linspace(0, 1, SIZE)[None, :, None]
    a, b = np.array(_colour(rng)), np.array(_colour(rng))
    img = (a * (1 - t) + b * t) * np.ones((SIZE, 1, 1))
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    angle = rng.uniform(0, math.pi)
    stripes = np.sin((xx * math.cos(angle) + yy * math.sin(angle)) * rng.uniform(0.15, 0.6)) > 0
    img = img + stripes[..., None] * rng.uniform(-40, 40, 3)
    img = img + rng.normal(0, 18, img.shape)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def _distractors(draw: ImageDraw.ImageDraw, rng: np.random.Generator) -> None:
    for _ in range(int(rng.integers(3, 8))):  # thin lines
        x0, y0, x1, y1 = (int(v) for v in rng.integers(0, SIZE, 4))
        draw.line((x0, y0, x1, y1), fill=_colour(rng), width=int(rng.integers(1, 3)))
    for _ in range(int(rng.integers(4, 12))):  # small dots
        x, y, r = int(rng.integers(0, SIZE)), int(rng.integers(0, SIZE)), int(rng.integers(1, 4))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=_colour(rng))


def _draw_shape(draw: ImageDraw.ImageDraw, shape: str, cx: float, cy: float, r: float, turn: float, fill) -> None:
    if shape == "circle":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)
    elif shape == "square":
        pts = [(cx + r * math.cos(turn + k * math.pi / 2), cy + r * math.sin(turn + k * math.pi / 2)) for k in range(4)]
        draw.polygon(pts, fill=fill)
    elif shape == "triangle":
        pts = [(cx + r * math.cos(turn + k * 2 * math.pi / 3), cy + r * math.sin(turn + k * 2 * math.pi / 3))
               for k in range(3)]
        draw.polygon(pts, fill=fill)
    elif shape == "cross":
        w = r / 3
        for a in (turn, turn + math.pi / 2):
            dx, dy, px, py = r * math.cos(a), r * math.sin(a), w * -math.sin(a), w * math.cos(a)
            draw.polygon([(cx - dx + px, cy - dy + py), (cx + dx + px, cy + dy + py),
                          (cx + dx - px, cy + dy - py), (cx - dx - px, cy - dy - py)], fill=fill)
    else:
        raise ValueError(f"unknown shape {shape!r}")


def shape_picture(rng: np.random.Generator, label: int) -> Picture:
    """One generated picture of class `label` and its object's mask."""
    img = _background(rng)
    draw = ImageDraw.Draw(img)
    _distractors(draw, rng)
    r = float(rng.uniform(14, 26))  # the object's radius: 28 to 52 px across, 2 to 4 patches
    cx, cy = (float(rng.uniform(r + 2, SIZE - r - 2)) for _ in range(2))
    turn = float(rng.uniform(0, 2 * math.pi))
    colour = _colour(rng)
    _draw_shape(draw, CLASSES[label], cx, cy, r, turn, colour)
    mask_img = Image.new("L", (SIZE, SIZE), 0)
    _draw_shape(ImageDraw.Draw(mask_img), CLASSES[label], cx, cy, r, turn, 255)
    return Picture(img, label, np.asarray(mask_img) > 127)


def shapes(n_train: int = 2400, n_held_out: int = 200, seed: int = 0) -> ImageSet:
    """The generated set: classes in turn, so every class has the same count; held-out pictures
    come from another seed's stream (new places, sizes, colours and backgrounds)."""
    def make(n: int, stream: int) -> tuple[Picture, ...]:
        rng = np.random.default_rng([seed, stream])
        return tuple(shape_picture(rng, i % len(CLASSES)) for i in range(n))

    return ImageSet(CLASSES, make(n_train, 0), make(n_held_out, 1))


def patch_coverage(mask: np.ndarray, patch: int) -> np.ndarray:
    """(rows * cols,) fraction of each patch's pixels that are the object's, row by row."""
    h, w = mask.shape
    rows, cols = h // patch, w // patch
    return mask[:rows * patch, :cols * patch].reshape(rows, patch, cols, patch).mean(axis=(1, 3)).ravel()


# --- real data: a zip of class folders ----------------------------------------------------------

def read_zip(data: bytes, held_out_share: float = 0.1, seed: int = 0) -> ImageSet:
    """An ImageFolder zip (`cat/1.jpg`, `dog/2.png`, or one folder deeper) -> ImageSet, pictures
    resized to SIZE x SIZE, a seeded share of each class held out. ImageDataError with a sentence for
    a file that is not a zip, too big, a zip bomb, unsafe paths, too many files or too few classes."""
    from viz.images import ImageInputError, load_image, to_rgb

    if len(data) > MAX_ZIP_BYTES:
        raise ImageDataError(f"The zip is {len(data) / 1e6:.0f} MB; the limit is {MAX_ZIP_BYTES // 1_000_000} MB.")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise ImageDataError("This file is not a zip archive: give a .zip of one folder per class.") from None
    files = [i for i in infos if not i.is_dir()]
    if len(files) > MAX_ZIP_FILES:
        raise ImageDataError(f"The zip holds {len(files)} files; the limit is {MAX_ZIP_FILES}.")
    for info in files:
        path = PurePosixPath(info.filename.replace("\\", "/"))
        if path.is_absolute() or ".." in path.parts or info.filename.startswith("/"):
            raise ImageDataError(f"The zip holds a path that leaves its folder ({info.filename[:80]!r}); "
                                 "it is refused.")
    if sum(i.file_size for i in files) > MAX_UNPACKED_BYTES:
        raise ImageDataError(f"Unpacked, the zip would take more than {MAX_UNPACKED_BYTES // 1_000_000} MB "
                             "(a zip bomb, or too many large pictures).")
    by_class: dict[str, list[zipfile.ZipInfo]] = {}
    for info in files:
        parts = PurePosixPath(info.filename).parts
        if PurePosixPath(info.filename).suffix.lower() not in IMAGE_SUFFIXES or any(p.startswith(".") or
                                                                                     p == "__MACOSX" for p in parts):
            continue
        if len(parts) < 2:
            continue  # a picture outside any class folder
        by_class.setdefault(parts[-2], []).append(info)
    if len(by_class) < 2:
        raise ImageDataError("The zip needs at least two class folders of pictures (cat/1.jpg, dog/2.png, ...); "
                             f"it has {len(by_class)}.")
    if len(by_class) > MAX_CLASSES:
        raise ImageDataError(f"The zip has {len(by_class)} class folders; the limit is {MAX_CLASSES}.")
    labels = tuple(sorted(by_class))
    rng = np.random.default_rng(seed)
    train, held = [], []
    for label, name in enumerate(labels):
        pics = []
        for info in by_class[name]:
            try:
                raw = archive.read(info)
                if len(raw) != info.file_size:
                    raise ImageDataError(f"{info.filename[:80]}: its size in the zip is wrong.")
                img = to_rgb(load_image(raw, info.filename[:80]))
            except ImageInputError as err:
                raise ImageDataError(str(err)) from None
            except (zipfile.BadZipFile, OSError, ValueError) as err:
                raise ImageDataError(f"{info.filename[:80]} could not be read from the zip ({type(err).__name__}).") from None
            pics.append(Picture(img.convert("RGB").resize((SIZE, SIZE), Image.Resampling.BICUBIC), label))
        if len(pics) < 2:
            raise ImageDataError(f"The class folder {name[:40]!r} has {len(pics)} picture; each class needs at least 2.")
        order = rng.permutation(len(pics))
        n_held = max(1, round(held_out_share * len(pics)))
        held += [pics[i] for i in order[:n_held]]
        train += [pics[i] for i in order[n_held:]]
    return ImageSet(labels, tuple(train), tuple(held), name="zip")
