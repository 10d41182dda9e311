"""Penn-Fudan reader: the tutorial layout, on the real data when ../shared/data has it and on a tiny copy here."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from wnlb_zoo.data import PennFudan, masks_to_boxes


def test_tiny_layout(tmp_path):
    (tmp_path / "PNGImages").mkdir()
    (tmp_path / "PedMasks").mkdir()
    for name, instances in (("A00001", (1, 2)), ("B00002", ())):
        Image.new("RGB", (12, 10), (40, 80, 120)).save(tmp_path / "PNGImages" / f"{name}.png")
        instance_map = np.zeros((10, 12), dtype=np.uint8)
        for k in instances:
            instance_map[k * 3 : k * 3 + 2, k : k + 4] = k
        Image.fromarray(instance_map).save(tmp_path / "PedMasks" / f"{name}_mask.png")
    dataset = PennFudan(tmp_path)
    assert len(dataset) == 2 and dataset.class_names == ["person"]
    image, target = dataset[0]
    assert image.shape == (3, 10, 12)
    assert target["boxes"].tolist() == [[1, 3, 5, 5], [2, 6, 6, 8]]
    assert target["labels"].tolist() == [1, 1] and target["iscrowd"].tolist() == [0, 0]
    assert target["area"].tolist() == [8.0, 8.0] and target["image_id"] == 0
    _, empty = dataset[1]
    assert empty["boxes"].shape == (0, 4) and empty["masks"].shape == (0, 10, 12) and empty["image_id"] == 1


def test_missing_masks_are_reported(tmp_path):
    (tmp_path / "PNGImages").mkdir()
    (tmp_path / "PedMasks").mkdir()
    Image.new("RGB", (4, 4)).save(tmp_path / "PNGImages" / "X.png")
    with pytest.raises(FileNotFoundError, match="X_mask.png"):
        PennFudan(tmp_path)
    with pytest.raises(FileNotFoundError, match="PNGImages"):
        PennFudan(tmp_path / "nowhere")


@pytest.mark.shared_data
def test_real_penn_fudan_counts(shared_data):
    dataset = PennFudan(shared_data("PennFudanPed"))
    assert len(dataset) == 170
    targets = [dataset.load_target(index) for index in range(len(dataset))]  # masks only, no photos
    assert sum(len(target["labels"]) for target in targets) == 423
    image, target = dataset[0]
    assert image.shape[1:] == target["masks"].shape[1:]
    assert torch.equal(target["boxes"], masks_to_boxes(target["masks"]))
