"""Export into the timm hub layout: config, record, and the sources a weight can come from."""

import json

import pytest
import timm
import torch
from safetensors.torch import load_file

from wnlb_zoo.weights import (
    ManifestError,
    WeightInfo,
    export_model,
    export_state_dict,
    load_state_dict_file,
    sha256_file,
)


def test_config_records_what_rebuilds_the_model(exported):
    config = json.loads(exported.export.config.read_text())
    assert config["architecture"] == "wnlb_resnet18"
    assert config["num_classes"] == 0
    assert config["num_features"] == 512
    assert config["model_args"]["wnlb_stages"] == [2, 3, 4]
    cfg = config["pretrained_cfg"]
    assert cfg["tag"] == "roundtrip_test"
    assert cfg["num_classes"] == 0
    assert cfg["paper_ids"] == "arXiv:2402.18307"
    assert not {"file", "url", "hf_hub_id", "source"} & cfg.keys()
    assert "notes" not in cfg  # the base weights' notes do not describe this weight


def test_record_has_the_hash_and_size_of_the_written_file(exported):
    record = exported.record
    assert record.sha256 == sha256_file(exported.export.weights)
    assert record.size == exported.export.weights.stat().st_size
    assert record.model_kwargs["wnlb_stages"] == [2, 3, 4]
    assert exported.export.record_path.name == "wnlb_resnet18.roundtrip_test.json"


def test_features_only_wrapper_is_refused(tmp_path):
    wrapper = timm.create_model("wnlb_resnet18", features_only=True)
    with pytest.raises(TypeError, match="features_only wrapper.*classifier-form"):
        export_model(wrapper, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_incomplete_record_fails_before_writing(tmp_path):
    model = timm.create_model("wnlb_resnet18", num_classes=0)
    with pytest.raises(ManifestError, match="field 'repo_id'"):
        export_model(model, tmp_path / "out", WeightInfo(tag="dark"))
    assert not any((tmp_path / "out").iterdir())


def test_non_empty_output_directory_is_refused(exported):
    with pytest.raises(ValueError, match="not empty"):
        export_model(exported.model, exported.export.directory)


def test_without_a_tag_there_is_no_record(tmp_path):
    result = export_model(timm.create_model("wnlb_resnet18", num_classes=0), tmp_path / "out")
    assert result.record is None and result.record_path is None
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["README.md", "config.json", "model.safetensors"]


def test_backbone_from_a_detector_style_checkpoint_exports_the_same_weights(exported, tmp_path):
    """A nested, prefixed state dict (as a detector training checkpoint holds) is the extension point."""
    state = exported.model.state_dict()
    checkpoint = {"model": {f"backbone.body.{key}": value for key, value in state.items()}, "epoch": 12}
    checkpoint["model"]["roi_heads.box_predictor.cls_score.weight"] = torch.zeros(9, 1024)
    path = tmp_path / "train_checkpoint.pth"
    torch.save(checkpoint, path)
    backbone = load_state_dict_file(path, key="model", prefix="backbone.body.")
    result = export_state_dict(backbone, "wnlb_resnet18", tmp_path / "out", model_kwargs={"wnlb_stages": [2, 3, 4]})
    written = load_file(result.weights)
    assert written.keys() == state.keys()
    assert all(torch.equal(written[key], state[key]) for key in state)
    assert json.loads(result.config.read_text())["num_classes"] == 0  # no classifier in the checkpoint


def test_state_dict_of_another_configuration_is_refused(exported, tmp_path):
    with pytest.raises(ValueError, match="missing .* key.*layer1.2"):
        export_state_dict(exported.model.state_dict(), "wnlb_resnet18", tmp_path / "out")  # default: all 4 stages


def test_checkpoint_errors_name_the_problem(tmp_path):
    path = tmp_path / "ckpt.pth"
    torch.save({"state_dict": {}}, path)
    with pytest.raises(ValueError, match="no entry 'model'.*state_dict"):
        load_state_dict_file(path, key="model")
    torch.save({"a.weight": torch.zeros(1)}, path)
    with pytest.raises(ValueError, match="No key .* starts with 'backbone.'"):
        load_state_dict_file(path, prefix="backbone.")
