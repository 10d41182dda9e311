"""Fixtures shared by every test package: an unwritable folder, a COCO-format data set, a trained checkpoint,
light detector heads."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pycocotools.mask as mask_utils
import pytest

from wnlb_zoo.cli.main import main
from wnlb_zoo.data import SyntheticDarkScenes, write_image


@pytest.fixture
def unwritable_dir(tmp_path) -> Path:
    """A folder no file can be created in, also when the tests run as root (as in CI).

    Root ignores permission bits, so as root a path under ``/sys`` (sysfs refuses new entries) stands in
    for a read-only folder; the test is skipped only if neither way gives an unwritable folder.
    """
    if os.geteuid() != 0:
        folder = tmp_path / "read-only"
        folder.mkdir()
        folder.chmod(0o500)
        yield folder
        folder.chmod(0o700)
        return
    folder = Path("/sys/wnlb-zoo-read-only")
    try:
        with tempfile.TemporaryFile(dir="/sys"):
            pass
    except OSError:
        yield folder
        return
    pytest.skip("no folder here refuses new files (root, and /sys is writable)")


# Fewer proposals and sampled RoIs than torchvision's defaults: the heads dominate CPU time at 64 px.
LIGHT_HEADS = {
    "rpn_pre_nms_top_n_train": 200,
    "rpn_post_nms_top_n_train": 100,
    "rpn_pre_nms_top_n_test": 200,
    "rpn_post_nms_top_n_test": 50,
    "box_batch_size_per_image": 32,
    "rpn_batch_size_per_image": 64,
}


@pytest.fixture(scope="session")
def light_heads() -> dict[str, int]:
    """Detector keyword arguments of light RoI heads for fine-tuning runs of seconds (a copy of ``LIGHT_HEADS``)."""
    return dict(LIGHT_HEADS)


@pytest.fixture
def coco_dataset(tmp_path):
    """A COCO-format dataset of 6 synthetic scenes (RLE masks), one image left empty and one crowd region."""
    root = tmp_path / "coco"
    images_dir = root / "images"
    images_dir.mkdir(parents=True)
    scenes = SyntheticDarkScenes(6, image_size=(64, 64), seed=3)
    images, annotations = [], []
    for index in range(len(scenes)):
        image, target = scenes[index]
        name = f"image_{index:03d}.png"
        write_image(image, images_dir / name)
        image_id = 100 + index
        images.append({"id": image_id, "file_name": name, "height": 64, "width": 64})
        if index == 0:
            continue  # an image without annotations
        for k in range(len(target["labels"])):
            rle = mask_utils.encode(np.asfortranarray(target["masks"][k].numpy().astype(np.uint8)))
            x1, y1, x2, y2 = target["boxes"][k].tolist()
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": 10 * int(target["labels"][k]),  # sparse category ids
                    "segmentation": {"size": rle["size"], "counts": rle["counts"].decode("ascii")},
                    "bbox": [x1, y1, x2 - x1, y2 - y1],
                    "area": float(target["area"][k]),
                    "iscrowd": int(index == 1 and k == 0),  # one crowd region
                }
            )
    categories = [{"id": 10 * (i + 1), "name": name} for i, name in enumerate(scenes.class_names)]
    annotation_file = root / "instances.json"
    annotation_file.write_text(json.dumps({"images": images, "annotations": annotations, "categories": categories}))
    return images_dir, annotation_file


# A run of seconds on a 2-core CPU: 4 synthetic 64 px scenes of 3 classes, one epoch, light RoI heads.
TINY_RUN = [
    "finetune",
    "--synthetic-train", "4",
    "--synthetic-val", "2",
    "--synthetic-size", "64",
    "--min-size", "64",
    "--max-size", "64",
    "--epochs", "1",
    "--batch-size", "2",
    "--workers", "0",
    "--device", "cpu",
    "--no-export",
    "--backbone-kwargs", json.dumps({"wnlb_stages": [4]}),
    "--detector-kwargs", json.dumps(
        {"rpn_pre_nms_top_n_test": 100, "rpn_post_nms_top_n_test": 20, "box_batch_size_per_image": 16}
    ),
]  # fmt: skip


@pytest.fixture(scope="session")
def trained_checkpoint(tmp_path_factory):
    """The ``last`` checkpoint of a tiny synthetic run (classes: the 3 synthetic shapes)."""
    output = tmp_path_factory.mktemp("tiny_run") / "run"
    assert main([*TINY_RUN, "--output", str(output)]) == 0
    return output / "last"
