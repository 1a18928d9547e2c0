"""Images in: the user's upload or a bundled sample -> an RGB PIL image, or a clear ImageInputError.

PIL does the decoding (PNG, JPEG, WebP, BMP, TIFF, GIF ...). Every mode is brought to 8-bit RGB:
transparency is laid on white, CMYK and palette images are converted, 16-bit and float images
are rescaled from their own range, and a GIF or multi-page TIFF gives its first frame.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_BYTES = 10 * 1024 * 1024  # the same limit as server.maxUploadSize in .streamlit/config.toml
MAX_PIXELS = 40_000_000  # larger images are refused before decoding: a few-KB file can claim 20000 x 20000
MIN_SIDE = 16

# Sample images from scikit-image's bundled data, loaded at run time (nothing copied here).
SAMPLES = {
    "chelsea": "Chelsea the cat",
    "astronaut": "Astronaut (Eileen Collins)",
    "coffee": "A cup of coffee",
    "rocket": "A rocket on its launch pad",
    "hubble_deep_field": "Hubble deep field",
}


class ImageInputError(ValueError):
    """An image that cannot be used; the message says what happened and what to do."""


def sample_image(name: str) -> Image.Image:
    """One of scikit-image's bundled images as an RGB PIL image."""
    if name not in SAMPLES:
        raise ImageInputError(f"There is no sample image called {name!r}; choose one of {', '.join(SAMPLES)}.")
    from skimage import data

    return to_rgb(Image.fromarray(getattr(data, name)()))


def load_image(data: bytes, name: str = "the file") -> Image.Image:
    """Decode uploaded bytes into an RGB image, or raise ImageInputError with a sentence."""
    if len(data) == 0:
        raise ImageInputError(f"{name} is empty. Choose an image file (PNG, JPEG, WebP, BMP, TIFF or GIF).")
    if len(data) > MAX_BYTES:
        raise ImageInputError(
            f"{name} is {len(data) / 2**20:.1f} MB, over the {MAX_BYTES // 2**20} MB limit. "
            "Save a smaller copy (a few hundred pixels across is plenty: the model sees 224 x 224)."
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))  # reads the header only
            w, h = img.size
            if w * h > MAX_PIXELS:
                raise ImageInputError(
                    f"{name} claims to be {w} x {h} pixels ({w * h / 1e6:.0f} megapixels), more than "
                    f"the {MAX_PIXELS / 1e6:.0f} megapixels this page decodes. Resize it and try again."
                )
            img.seek(0)  # first frame of a GIF or multi-page TIFF
            img.load()
    except ImageInputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise ImageInputError(
            f"{name} claims a size so large it may be a decompression bomb; it was not decoded. "
            "Resize the image and try again."
        ) from err
    except UnidentifiedImageError as err:
        raise ImageInputError(
            f"{name} is not an image this page can read. Upload a PNG, JPEG, WebP, BMP, TIFF or GIF file."
        ) from err
    except (OSError, SyntaxError, ValueError) as err:  # truncated or corrupt data
        raise ImageInputError(
            f"{name} looks damaged: the image data could not be decoded ({err}). "
            "Re-save or re-export it and try again."
        ) from err
    if min(img.size) < MIN_SIDE:
        raise ImageInputError(
            f"{name} is {img.size[0]} x {img.size[1]} pixels: too small to cut into patches. "
            f"Use an image at least {MIN_SIDE} x {MIN_SIDE} pixels (224 x 224 or more is best)."
        )
    return to_rgb(ImageOps.exif_transpose(img))


def to_rgb(img: Image.Image) -> Image.Image:
    """8-bit RGB from any PIL mode."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        a = np.asarray(img, dtype=np.float64)
        lo, hi = float(a.min()), float(a.max())
        a = (a - lo) / (hi - lo) * 255 if hi > lo else np.zeros_like(a)
        img = Image.fromarray(a.round().astype(np.uint8), mode="L")
    if img.mode == "P":
        img = img.convert("RGBA")  # palette transparency becomes alpha
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return img.convert("RGB")
