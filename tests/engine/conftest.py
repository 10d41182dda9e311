"""Fixtures for fine-tuning runs small enough for a 2-core CPU."""

import json

import numpy as np
import pycocotools.mask as mask_utils
import pytest

from wnlb_zoo.data import SyntheticDarkScenes, write_image

# Fewer proposals and sampled RoIs than torchvision's defaults: the heads dominate CPU time at 64 px.
LIGHT_HEADS = {
    "rpn_pre_nms_top_n_train": 200,
    "rpn_post_nms_top_n_train": 100,
    "rpn_pre_nms_top_n_test": 200,
    "rpn_post_nms_top_n_test": 50,
    "box_batch_size_per_image": 32,
    "rpn_batch_size_per_image": 64,
}


def _tiny_run_args(output, epochs: int = 2, *extra: str) -> list[str]:
    return [
        "finetune",
        "--synthetic-train", "8",
        "--synthetic-val", "5",
        "--synthetic-size", "64",
        "--min-size", "64",
        "--max-size", "64",
        "--epochs", str(epochs),
        "--batch-size", "2",
        "--optimizer", "adamw",
        "--lr", "0.004",
        "--warmup-iters", "2",
        "--workers", "0",
        "--device", "cpu",
        "--backbone-kwargs", json.dumps({"wnlb_stages": [3, 4]}),
        "--detector-kwargs", json.dumps(LIGHT_HEADS),
        "--output", str(output),
        *extra,
    ]  # fmt: skip


@pytest.fixture(scope="session")
def tiny_run_args():
    """``tiny_run_args(output, epochs, *extra)``: ``wnlb-zoo finetune`` arguments of a run of seconds
    on 8 synthetic 64 px training images and 5 validation images."""
    return _tiny_run_args


@pytest.fixture(scope="session")
def one_step_run_args():
    """Like ``tiny_run_args``, with one optimiser step per epoch on a frozen body and one validation image:
    for tests of a run's life cycle (locks, kills, resumes), not of what it learns."""

    def one_step_run_args(output, epochs: int = 2, *extra: str) -> list[str]:
        one_step = ("--synthetic-train", "2", "--synthetic-val", "1", "--trainable-backbone-layers", "0")
        one_step += ("--optimizer", "sgd", "--momentum", "0")  # no optimiser state: small checkpoints
        return _tiny_run_args(output, epochs, *one_step, *extra)

    return one_step_run_args


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
