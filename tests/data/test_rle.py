"""The compressed RLE check decodes what pycocotools encodes and refuses what is not an encoding."""

from __future__ import annotations

import numpy as np
import pycocotools.mask as mask_utils
import pytest

from wnlb_zoo.data.rle import compressed_rle_counts


@pytest.mark.parametrize("seed", range(5))
def test_runs_rebuild_the_encoded_mask(seed):
    rng = np.random.default_rng(seed)
    height, width = rng.integers(1, 200, 2)
    mask = (rng.random((height, width)) < rng.random()).astype(np.uint8)
    mask[: height // 2, : width // 3] = 1  # long runs need several characters per number
    counts = mask_utils.encode(np.asfortranarray(mask))["counts"].decode("ascii")
    runs = compressed_rle_counts(counts)
    pixels = np.repeat(np.arange(len(runs)) % 2, runs)  # runs alternate 0s and 1s, starting with 0s
    np.testing.assert_array_equal(pixels, mask.flatten(order="F"))


@pytest.mark.parametrize(
    ("counts", "reason"),
    [
        ("", "empty"),
        ("a b", "outside"),
        ("0a", "cut off"),
        ("é", "non-ASCII"),
        ("0" + "_" * 8 + "0", "too long"),
        ("@", "negative"),
    ],
)
def test_invalid_strings_are_refused(counts, reason):
    with pytest.raises(ValueError, match=reason):
        compressed_rle_counts(counts)
