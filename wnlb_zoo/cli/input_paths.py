"""Check the image files a command reads before it loads a detector, so that a typo costs no wait."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path


def existing_images(paths: Sequence[str | os.PathLike]) -> list[Path]:
    """``paths`` as :class:`Path` objects, or a FileNotFoundError counting the missing ones and naming the first."""
    images = [Path(path) for path in paths]
    missing = [image for image in images if not image.is_file()]
    if missing:
        raise FileNotFoundError(f"{len(missing)} image file(s) not found, e.g. {missing[0]}")
    return images
