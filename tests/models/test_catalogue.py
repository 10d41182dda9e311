"""The catalogue's facts: weights from timm's cfgs, blocks and pyramid levels, and loading code that runs."""

import timm
import torch
from safetensors.torch import save_file

from wnlb_zoo.cli.catalogue_cells import loading_code, weight_cells, wnlb_summary
from wnlb_zoo.models.catalogue import variant_facts, weight_facts


def test_base_tags_carry_timms_training_data_source_and_licence():
    weights = weight_facts("wnlb_convnext_base")
    assert [weight.tag for weight in weights] == ["fb_in22k_ft_in1k", "fb_in1k"]  # the default first
    default = weights[0]
    assert default.default and not default.published
    assert default.training_data == ("ImageNet-22k", "ImageNet-1k")
    assert default.source == "timm/convnext_base.fb_in22k_ft_in1k"
    assert default.license == timm.models.get_pretrained_cfg("convnext_base.fb_in22k_ft_in1k").license
    assert default.sha256 is None and default.evaluations == ()
    assert (
        weight_cells(default)["sha256"] == "-"
        and weight_cells(default)["Training data"] == "ImageNet-22k -> ImageNet-1k"
    )


def test_convnext_facts_name_every_block_and_level():
    facts = variant_facts("wnlb_convnext_tiny")
    assert facts.out_indices == (0, 1, 2, 3)
    assert [(level.channels, level.stride) for level in facts.features] == [(96, 4), (192, 8), (384, 16), (768, 32)]
    assert [(block.stage, block.stride, block.channels, block.inter_channels) for block in facts.blocks] == [
        (1, 4, 96, 48), (2, 8, 192, 96), (3, 16, 384, 192), (4, 32, 768, 384),
    ]  # fmt: skip
    # 400x600: the stem cuts by 4 (100x150), each stage by 2 more; 800x1333: ConvNeXt's stem floors 1333/4.
    assert [block.positions for block in facts.blocks] == [
        (15000, 66600), (3750, 16600), (925, 4150), (216, 1025),
    ]  # fmt: skip
    assert sum(block.macs[1] for block in facts.blocks) == facts.wnlb_macs[1]
    assert wnlb_summary(facts) == "stages 1-4, embedded"


def test_loading_code_runs_offline_from_a_mirror(tmp_path, monkeypatch):
    """The code `wnlb-zoo info` and the variants page show loads the default tag, here from a local mirror."""
    base = timm.create_model("resnet18", num_classes=0).state_dict()  # stands in for timm's ImageNet file
    target = tmp_path / "wnlb_resnet18.a1_in1k" / "model.safetensors"
    target.parent.mkdir()
    save_file(base, str(target))
    monkeypatch.setenv("WNLB_ZOO_WEIGHTS", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    namespace: dict = {}
    exec(loading_code("wnlb_resnet18", (1, 2, 3, 4)), namespace)
    assert torch.equal(namespace["backbone"].conv1.weight, base["conv1.weight"])
    assert torch.equal(namespace["detector"].backbone.body.layer4[0].conv1.weight, base["layer4.0.conv1.weight"])
    assert namespace["detector"].roi_heads.box_predictor.cls_score.out_features == 9
