"""read_image / write_image: every pixel kind to float RGB in [0, 1], 16-bit precision kept, errors name the file."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from wnlb_zoo.data import ImageReadError, read_image, write_image


def _write_png16_rgb(path, array: np.ndarray) -> None:
    """A minimal 16-bit RGB PNG (Pillow cannot write one)."""
    height, width, _ = array.shape
    rows = b"".join(b"\x00" + array[y].astype(">u2").tobytes() for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    )


def test_sixteen_bit_rgb_png_keeps_its_precision(tmp_path):
    array = np.random.default_rng(0).integers(0, 65536, (5, 7, 3), dtype=np.uint16)
    _write_png16_rgb(tmp_path / "raw.png", array)
    image = read_image(tmp_path / "raw.png")
    assert image.shape == (3, 5, 7) and image.dtype == torch.float32
    expected = torch.from_numpy(array.astype(np.float32)).permute(2, 0, 1) / 65535
    torch.testing.assert_close(image, expected)


def test_sixteen_bit_gray_png(tmp_path):
    array = (np.arange(12, dtype=np.uint16).reshape(3, 4) * 5000 + 7).astype(np.uint16)
    Image.fromarray(array).save(tmp_path / "gray16.png")
    image = read_image(tmp_path / "gray16.png")
    expected = torch.from_numpy(array.astype(np.float32))[None].expand(3, -1, -1) / 65535
    torch.testing.assert_close(image, expected)


@pytest.mark.parametrize(("mode", "suffix"), [("P", ".png"), ("L", ".bmp"), ("CMYK", ".jpg"), ("LA", ".png")])
def test_other_modes_become_rgb(tmp_path, mode, suffix):
    rgb = Image.fromarray(np.random.default_rng(1).integers(0, 256, (6, 9, 3), dtype=np.uint8))
    picture = rgb.convert(mode) if mode != "P" else rgb.quantize(8)
    path = tmp_path / f"picture{suffix}"
    picture.save(path)
    image = read_image(path)
    with Image.open(path) as reread:
        expected = torch.from_numpy(np.asarray(reread.convert("RGB"), dtype=np.float32)).permute(2, 0, 1) / 255
    assert image.shape == (3, 6, 9)
    torch.testing.assert_close(image, expected)


def test_truncated_file_is_named(tmp_path):
    path = tmp_path / "cut.jpg"
    Image.new("RGB", (64, 64), (10, 200, 30)).save(path, quality=90)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ImageReadError, match="cut.jpg"):
        read_image(path)


def test_write_then_read_png_is_exact_to_eight_bits(tmp_path):
    image = torch.rand(3, 10, 12)
    write_image(image, tmp_path / "out.png")
    assert (read_image(tmp_path / "out.png") - image).abs().max() <= 0.5 / 255 + 1e-6
    with pytest.raises(ValueError, match="cannot write"):
        write_image(image, tmp_path / "out.unknown")
