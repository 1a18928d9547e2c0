"""Every kind of upload: the formats and modes we convert, and each bad file with its sentence."""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from viz.images import MAX_BYTES, SAMPLES, ImageInputError, load_image, sample_image


def encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def rgb(w=64, h=48):
    a = np.zeros((h, w, 3), np.uint8)
    a[..., 0] = np.linspace(0, 255, w, dtype=np.uint8)[None, :]
    a[..., 2] = 120
    return Image.fromarray(a)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "BMP", "TIFF", "GIF"])
def test_formats_decode_to_rgb(fmt):
    out = load_image(encode(rgb(), fmt), f"x.{fmt.lower()}")
    assert out.mode == "RGB" and out.size == (64, 48)


@pytest.mark.parametrize("mode", ["RGBA", "L", "LA", "P", "CMYK", "1", "I;16", "I", "F"])
def test_modes_convert_to_rgb(mode):
    img = rgb().convert(mode) if mode not in ("I;16", "I", "F") else Image.fromarray(
        (np.arange(64 * 48).reshape(48, 64) * 21).astype({"I;16": np.uint16, "I": np.int32, "F": np.float32}[mode]))
    fmt = "TIFF" if mode in ("CMYK", "I", "F") else "PNG"
    out = load_image(encode(img, fmt))
    assert out.mode == "RGB" and out.size == (64, 48)
    if mode in ("I;16", "I", "F"):  # rescaled from its own range, not clipped to white
        a = np.asarray(out)
        assert a.min() == 0 and a.max() == 255


def test_transparent_pixels_become_white():
    a = np.zeros((32, 32, 4), np.uint8)
    a[:16, :, :3] = (255, 0, 0)
    a[:16, :, 3] = 255  # top half opaque red, bottom half fully transparent
    out = np.asarray(load_image(encode(Image.fromarray(a, "RGBA"), "PNG")))
    assert (out[:16] == (255, 0, 0)).all() and (out[16:] == 255).all()


def test_gif_gives_its_first_frame():
    frames = [Image.new("RGB", (32, 32), c) for c in ((255, 0, 0), (0, 0, 255))]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])
    out = np.asarray(load_image(buf.getvalue()))
    assert out[..., 0].mean() > 200 and out[..., 2].mean() < 50


def test_not_an_image():
    with pytest.raises(ImageInputError, match="not an image"):
        load_image(b"%PDF-1.4 certainly not pixels" * 10, "notes.pdf")


def test_truncated_file():
    data = encode(rgb(256, 256), "PNG")
    with pytest.raises(ImageInputError, match="damaged"):
        load_image(data[: len(data) // 2], "half.png")


def _bomb_png(w=20000, h=20000) -> bytes:
    """A valid-looking PNG header claiming w x h pixels, with a tiny compressed body: a few KB."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)  # 8-bit greyscale
    idat = zlib.compress(b"\0" * 100_000, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_decompression_bomb():
    data = _bomb_png()
    assert len(data) < 10_000
    with pytest.raises(ImageInputError, match="20000 x 20000|decompression bomb"):
        load_image(data, "bomb.png")


def test_large_but_not_bomb_size_is_still_refused():
    with pytest.raises(ImageInputError, match="megapixels"):
        load_image(_bomb_png(8000, 6000), "big.png")  # 48 MP: under PIL's bomb limit, over ours


def test_over_the_upload_limit():
    with pytest.raises(ImageInputError, match="over the 10 MB limit"):
        load_image(b"\0" * (MAX_BYTES + 1), "huge.png")


def test_one_pixel_image():
    with pytest.raises(ImageInputError, match="1 x 1 pixels: too small"):
        load_image(encode(Image.new("RGB", (1, 1)), "PNG"), "dot.png")


def test_empty_file():
    with pytest.raises(ImageInputError, match="empty"):
        load_image(b"", "empty.png")


@pytest.mark.parametrize("name", list(SAMPLES))
def test_samples_come_from_scikit_image(name):
    img = sample_image(name)
    assert img.mode == "RGB" and min(img.size) >= 224
