"""Image files <-> float tensors, with errors that name the file.

Every dataset of :mod:`wnlb_zoo.data` reads its pictures through :func:`read_image`, so they all
agree on the tensor they hand to a detector: float32, (3, H, W), RGB, values in [0, 1]. Grayscale,
palette and CMYK pictures are converted to RGB; an alpha channel is dropped (not composited).
16-bit pictures (e.g. the PNGs of a RAW variant) keep their precision: they are scaled by 1/65535.
Stored pixels are used as they are: EXIF orientation is not applied, as COCO-style annotations
refer to the stored pixel grid.

:func:`image_size` reads a file's size from its header and checks cheaply that the file is whole,
so that a dataset can find bad files when it is built rather than when a loader worker reads them.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Pillow opens 16-bit grayscale (PNG, TIFF) as "I;16*" or "I"; both are scaled by 1/65535.
_SIXTEEN_BIT_MODES = {"I;16", "I;16L", "I;16B", "I;16N", "I"}


# The marker a whole file ends with, by Pillow format; looked for in the file's last bytes (a few
# KiB, as some writers append data after it), so that a cut-off file is found without decoding it.
_END_MARKERS = {"JPEG": b"\xff\xd9", "PNG": b"IEND"}
_TAIL_BYTES = 4096


class ImageReadError(ValueError):
    """An image file exists but cannot be decoded (empty, truncated, corrupt or of an unknown kind)."""


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """The ``(height, width)`` of an image file, from its header, after a cheap check that it is whole.

    The check reads the header and the last few KiB, not the pixels: it finds missing, empty and
    non-image files, and JPEG or PNG files cut off before their end marker. Damage inside the
    compressed data is only found by :func:`read_image`. Raises like :func:`read_image`.
    """
    path = Path(path)
    try:
        with path.open("rb") as file:
            end = file.seek(0, os.SEEK_END)
            if end == 0:
                raise ImageReadError(f"image file is empty (0 bytes): {path}")
            file.seek(max(end - _TAIL_BYTES, 0))
            tail = file.read()
            file.seek(0)
            with Image.open(file) as picture:  # parses the header only
                width, height = picture.size
                kind = picture.format
    except FileNotFoundError:
        raise FileNotFoundError(f"image file not found: {path}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        if isinstance(error, ImageReadError):
            raise
        raise _decode_error(path, error) from error
    if kind in _END_MARKERS and _END_MARKERS[kind] not in tail:
        raise ImageReadError(f"image file {path} is truncated: it lacks the end marker of a {kind} file")
    return height, width


def read_image(path: str | os.PathLike) -> torch.Tensor:
    """Read an image file as a float32 (3, H, W) RGB tensor in [0, 1].

    Raises FileNotFoundError for a missing file and :class:`ImageReadError` for one that cannot
    be decoded; both messages name the file.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"image file not found: {path}") from None
    except OSError as error:
        raise ImageReadError(f"cannot read image file {path}: {error}") from error
    if not data:
        raise ImageReadError(f"image file is empty (0 bytes): {path}")
    if _is_sixteen_bit_colour_png(data):
        return _decode_sixteen_bit_colour_png(data, path)
    return _decode_with_pil(data, path)


def write_image(image: torch.Tensor, path: str | os.PathLike, quality: int = 95) -> None:
    """Write a (3, H, W) tensor in [0, 1] as an 8-bit RGB file; the format follows the suffix.

    ``quality`` is used by lossy formats (JPEG, WebP) and ignored by the others.
    """
    array = (image.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    picture = Image.fromarray(np.ascontiguousarray(array), mode="RGB")
    try:
        picture.save(path, quality=quality)
    except (KeyError, ValueError) as error:  # PIL raises these for a suffix it cannot write
        raise ValueError(f"cannot write an image to {path}: {error}") from error


def _is_sixteen_bit_colour_png(data: bytes) -> bool:
    # IHDR is the first chunk: signature (8), length (4), type (4), width (4), height (4), then the bit
    # depth (byte 24) and the colour type (byte 25: 2 = RGB, 6 = RGBA).
    return data.startswith(_PNG_SIGNATURE) and len(data) > 25 and data[24] == 16 and data[25] in (2, 6)


def _decode_sixteen_bit_colour_png(data: bytes, path: Path) -> torch.Tensor:
    # Pillow reduces 16-bit colour PNGs to 8 bits; torchvision's decoder keeps all 16. torchvision
    # deprecated its decoders in 0.29: where they are gone, fall back to Pillow's 8 bits, saying so.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            from torchvision.io import ImageReadMode, decode_png
        except ImportError:
            warnings.warn(f"{path}: no 16-bit PNG decoder (torchvision.io), read at 8 bits", stacklevel=3)
            return _decode_with_pil(data, path)
        try:
            pixels = decode_png(torch.frombuffer(bytearray(data), dtype=torch.uint8), mode=ImageReadMode.UNCHANGED)
        except RuntimeError as error:
            raise ImageReadError(f"cannot decode 16-bit PNG {path}: {error}") from error
    return _to_three_channels(pixels.to(torch.float32) / 65535.0)


def _decode_with_pil(data: bytes, path: Path) -> torch.Tensor:
    try:
        with Image.open(io.BytesIO(data)) as picture:
            picture.load()
            if picture.mode in _SIXTEEN_BIT_MODES:
                array = np.asarray(picture, dtype=np.float32) / 65535.0
                image = torch.from_numpy(np.clip(array, 0.0, 1.0))[None]
                return _to_three_channels(image)
            if picture.mode == "F":
                raise ImageReadError(f"image file {path} holds floating-point pixels, which have no fixed range")
            array = np.asarray(picture.convert("RGB"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        if isinstance(error, ImageReadError):
            raise
        raise _decode_error(path, error) from error
    return torch.from_numpy(array.copy()).permute(2, 0, 1).to(torch.float32) / 255.0


def _decode_error(path: Path, error: Exception) -> ImageReadError:
    # Pillow's "cannot identify image file <_io.BytesIO object at 0x...>" names an object, not the file.
    reason = "not an image file of a kind Pillow reads" if isinstance(error, UnidentifiedImageError) else error
    return ImageReadError(f"cannot decode image file {path}: {reason}")


def _to_three_channels(image: torch.Tensor) -> torch.Tensor:
    """(C, H, W) with C in 1..4 -> (3, H, W): gray is repeated, alpha is dropped."""
    if image.shape[0] in (1, 2):
        return image[:1].expand(3, -1, -1).contiguous()
    return image[:3].contiguous()
