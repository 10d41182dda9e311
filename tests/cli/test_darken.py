"""``wnlb-zoo darken`` on a tiny image folder and a tiny COCO dataset."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from wnlb_zoo.cli.main import main
from wnlb_zoo.data import read_image


def _picture(path, seed: int, size=(24, 32), high: int = 230) -> np.ndarray:
    array = np.random.default_rng(seed).integers(30, high, (*size, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, quality=95)
    return array


@pytest.fixture
def folder(tmp_path):
    src = tmp_path / "src"
    _picture(src / "a.png", 0)
    _picture(src / "nested" / "b.png", 1)
    _picture(src / "c.JPG", 2)
    (src / "notes.txt").write_text("not an image")
    return src


def test_folder_copy_is_darker_and_keeps_names(folder, tmp_path, capsys):
    dst = tmp_path / "dark"
    assert main(["darken", str(folder), str(dst), "--seed", "3"]) == 0
    assert sorted(p.relative_to(dst).as_posix() for p in dst.rglob("*") if p.is_file()) == [
        "a.png",
        "c.JPG",
        "nested/b.png",
    ]
    for name in ("a.png", "c.JPG", "nested/b.png"):
        original, dark = read_image(folder / name), read_image(dst / name)
        assert dark.shape == original.shape
        assert dark.mean() < 0.5 * original.mean()
    assert "darkened 3 image(s)" in capsys.readouterr().out

    again = tmp_path / "again"
    assert main(["darken", str(folder), str(again), "--seed", "3"]) == 0
    assert (again / "a.png").read_bytes() == (dst / "a.png").read_bytes()
    other = tmp_path / "other"
    assert main(["darken", str(folder), str(other), "--seed", "4"]) == 0
    assert (other / "a.png").read_bytes() != (dst / "a.png").read_bytes()


def test_options_reach_the_synthesis(folder, tmp_path):
    # No darkening, noise or quantisation: only the 8-bit write is left.
    src = tmp_path / "mid"
    original = _picture(src / "x.png", 5, high=180)
    dst = tmp_path / "out"
    argv = ["darken", str(src), str(dst), "--dark-ratio", "1", "1", "--no-noise", "--no-quantise", "--format", "png"]
    assert main(argv) == 0
    written = np.asarray(Image.open(dst / "x.png")).astype(int)
    assert np.abs(written - original.astype(int)).max() <= 1


def test_coco_dataset_copy_keeps_annotations_identical(tmp_path):
    images = tmp_path / "images"
    _picture(images / "train" / "1.jpg", 0)
    _picture(images / "train" / "2.jpg", 1)
    _picture(images / "unlisted.jpg", 2)
    annotation_file = tmp_path / "instances_train.json"
    content = {
        "images": [
            {"id": 1, "file_name": "./train/1.jpg", "height": 24, "width": 32},
            {"id": 2, "file_name": "train/2.jpg", "height": 24, "width": 32},
        ],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 4, "bbox": [2, 3, 10, 8], "area": 80, "iscrowd": 0,
             "segmentation": [[2, 3, 12, 3, 12, 11, 2, 11]]},
        ],
        "categories": [{"id": 4, "name": "thing"}],
    }  # fmt: skip
    annotation_file.write_text(json.dumps(content, indent=1))
    dst = tmp_path / "dark_images"
    assert main(["darken", str(images), str(dst), "--annotations", str(annotation_file), "--quality", "90"]) == 0
    assert (dst / "instances_train.json").read_bytes() == annotation_file.read_bytes()
    assert sorted(p.relative_to(dst).as_posix() for p in dst.rglob("*.jpg")) == ["train/1.jpg", "train/2.jpg"]
    for name in ("train/1.jpg", "train/2.jpg"):
        assert read_image(dst / name).mean() < 0.5 * read_image(images / name).mean()


def _error(capsys) -> str:
    return capsys.readouterr().err


def test_user_errors_are_reported(folder, tmp_path, capsys):
    assert main(["darken", str(folder), str(folder)]) == 2
    assert "must be outside SRC" in _error(capsys)

    assert main(["darken", str(tmp_path / "nowhere"), str(tmp_path / "d")]) == 2
    assert "source folder not found" in _error(capsys)

    assert main(["darken", str(folder), str(tmp_path / "d"), "--dark-ratio", "0.5", "2"]) == 2
    assert "dark_ratio" in _error(capsys)

    dst = tmp_path / "existing"
    assert main(["darken", str(folder), str(dst)]) == 0
    assert main(["darken", str(folder), str(dst)]) == 2
    assert "--overwrite" in _error(capsys)
    assert main(["darken", str(folder), str(dst), "--overwrite"]) == 0


def test_annotation_errors_are_reported(folder, tmp_path, capsys):
    annotation_file = tmp_path / "ann.json"
    annotation_file.write_text(json.dumps({"images": [{"id": 1, "file_name": "missing.png"}]}))
    assert main(["darken", str(folder), str(tmp_path / "d"), "--annotations", str(annotation_file)]) == 2
    assert "missing.png" in _error(capsys)

    annotation_file.write_text(json.dumps({"images": [{"id": 1, "file_name": "../a.png"}]}))
    assert main(["darken", str(folder), str(tmp_path / "d"), "--annotations", str(annotation_file)]) == 2
    assert f"{annotation_file}: images[0] 'file_name'" in _error(capsys)

    annotation_file.write_text(json.dumps({"images": [{"id": 1, "file_name": "a.png"}]}))
    argv = ["darken", str(folder), str(tmp_path / "d"), "--annotations", str(annotation_file), "--format", "png"]
    assert main(argv) == 2
    assert "--format must be 'same'" in _error(capsys)


@pytest.mark.parametrize("quality", ["500", "-1", "high"])
def test_quality_outside_the_jpeg_range_is_refused(folder, tmp_path, quality, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["darken", str(folder), str(tmp_path / "dark"), "--quality", quality])
    assert exit_info.value.code == 2
    assert "--quality: must be an integer from 0 to 100" in _error(capsys)
    assert not (tmp_path / "dark").exists()


def test_unusable_destinations_are_refused_before_any_work(folder, tmp_path, unwritable_dir, capsys):
    taken = tmp_path / "taken"
    taken.write_text("a file")
    assert main(["darken", str(folder), str(taken)]) == 2
    assert f"DST {taken} is a file, not a folder" in _error(capsys)

    assert main(["darken", str(folder), str(unwritable_dir / "dark")]) == 2
    assert f"DST {unwritable_dir / 'dark'} cannot be written" in _error(capsys)

    dst = tmp_path / "dark"
    (dst / "a.png").mkdir(parents=True)  # a folder where an output file belongs
    assert main(["darken", str(folder), str(dst), "--overwrite"]) == 2
    assert f"DST {dst / 'a.png'} is a folder" in _error(capsys)
    assert not (dst / "c.JPG").exists()
