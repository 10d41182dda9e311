"""Decoding COCO's compressed RLE strings, to check them before pycocotools reads them.

pycocotools' decoder (``rleFrString`` in ``maskApi.c``) trusts its input: a garbage ``counts``
string gives run lengths that do not cover the image (or negative ones, read as huge unsigned
numbers) and a mask decoded from it is nonsense or reads out of bounds. :func:`compressed_rle_counts`
decodes the string the same way, vectorised, and refuses what is not a valid encoding.

The format: each run length is a little-endian sequence of 5-bit groups, one character each
(``chr(48 + group)``); bit 0x20 of a character says that another group follows, bit 0x10 of the
last group is the sign. From the fourth run on, the value stored is the difference to the run two
places before.
"""

from __future__ import annotations

import numpy as np

_FIRST_CHARACTER, _LAST_CHARACTER = ord("0"), ord("0") + 63
# Seven 5-bit groups hold 35 bits, more than any image's pixel count; a longer number is garbage.
_MAX_GROUPS = 7


def compressed_rle_counts(counts: str) -> np.ndarray:
    """The run lengths (int64) that a COCO compressed RLE ``counts`` string encodes.

    Raises ValueError, saying why, for a string that is not a valid encoding: a character outside
    ``'0'..'o'``, a number cut off at the end, an over-long number or a negative run length.
    Whether the runs cover the image is left to the caller, who knows its size.
    """
    if not counts.isascii():
        raise ValueError("it holds non-ASCII characters")
    codes = np.frombuffer(counts.encode("ascii"), dtype=np.uint8).astype(np.int64)
    if codes.size == 0:
        raise ValueError("it is empty")
    if codes.min() < _FIRST_CHARACTER or codes.max() > _LAST_CHARACTER:
        raise ValueError("it holds characters outside '0'..'o'")
    codes -= _FIRST_CHARACTER
    last_of_number = (codes & 0x20) == 0
    if not last_of_number[-1]:
        raise ValueError("its last number is cut off")
    starts = np.flatnonzero(np.concatenate(([True], last_of_number[:-1])))
    lengths = np.diff(np.append(starts, codes.size))
    if lengths.max() > _MAX_GROUPS:
        raise ValueError("it holds a number too long for any image")
    position = np.arange(codes.size) - np.repeat(starts, lengths)
    values = np.add.reduceat((codes & 0x1F) << (5 * position), starts)
    negative = (codes[last_of_number] & 0x10) != 0
    values = np.where(negative, values - (1 << (5 * lengths)), values)  # sign extension
    runs = values.copy()
    runs[1::2] = np.cumsum(values[1::2])  # runs[i] = values[i] + runs[i - 2] from i = 3 on
    runs[2::2] = np.cumsum(values[2::2])
    if runs.min() < 0:
        raise ValueError("it encodes a negative run length")
    return runs
