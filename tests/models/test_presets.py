"""The named presets: wnlb_<variant>_keys16 / _keys32 as timm models of their own, for frameworks that take a name."""

from pathlib import Path

import pytest
import timm
import torch

import wnlb_zoo  # noqa: F401  (registers the models)
from wnlb_zoo.layers import WeightedNonLocalBlock
from wnlb_zoo.models.presets import WNLB_PRESETS, preset_names, split_preset

VARIANTS = [name for name in timm.list_models("wnlb_*") if split_preset(name)[1] is None]
#: The per-stage key/value strides each preset stands for (stages 1-4).
STRIDES = {"keys16": (4, 2, 1, 1), "keys32": (8, 4, 2, 1)}
VARIANTS_PAGE = Path(__file__).resolve().parents[2] / "docs" / "variants.md"


def kv_strides(model: torch.nn.Module) -> tuple[int, ...]:
    return tuple(module.kv_stride for module in model.modules() if isinstance(module, WeightedNonLocalBlock))


def test_every_variant_has_every_preset_and_timm_lists_them():
    assert len(VARIANTS) == 7
    assert {preset.suffix for preset in WNLB_PRESETS} == set(STRIDES)
    listed = set(timm.list_models("wnlb_*"))
    for variant in VARIANTS:
        assert set(preset_names(variant)) <= listed
        assert timm.is_model(f"{variant}_keys32")
    assert timm.list_models("wnlb_resnet18*") == ["wnlb_resnet18", "wnlb_resnet18_keys16", "wnlb_resnet18_keys32"]


@pytest.mark.parametrize("suffix", STRIDES)
@pytest.mark.parametrize("variant", ["wnlb_resnet18", "wnlb_convnext_tiny"])
def test_a_preset_builds_its_strides_stage_by_stage(variant, suffix):
    name = f"{variant}_{suffix}"
    model = timm.create_model(name)
    assert kv_strides(model) == STRIDES[suffix]
    assert model.pretrained_cfg["architecture"] == name
    features = timm.create_model(name, features_only=True)
    assert kv_strides(features) == STRIDES[suffix]


def test_keyword_arguments_given_to_a_preset_win():
    model = timm.create_model("wnlb_resnet18_keys32", wnlb_kv_stride=2, wnlb_mode="dot")
    assert kv_strides(model) == (2, 2, 2, 2)
    assert {module.mode for module in model.modules() if isinstance(module, WeightedNonLocalBlock)} == {"dot"}
    partial = timm.create_model("wnlb_resnet18_keys32", wnlb_stages=(3, 4))
    assert kv_strides(partial) == (2, 1)  # the preset's strides of the stages that keep a block


def test_a_preset_has_the_variants_state_dict_and_computes_the_same_at_stride_one():
    torch.manual_seed(0)
    preset = timm.create_model("wnlb_resnet18_keys32").eval()
    plain = timm.create_model("wnlb_resnet18").eval()
    assert preset.state_dict().keys() == plain.state_dict().keys()
    plain.load_state_dict(preset.state_dict())
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(preset(x), plain(x))  # gates closed: both the identity at every block


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_presets_pretrained_cfgs_are_its_variants(variant):
    for name in preset_names(variant):
        tags = [weight.partition(".")[2] for weight in timm.list_pretrained(f"{name}.*")]
        assert tags == [weight.partition(".")[2] for weight in timm.list_pretrained(f"{variant}.*")]
        preset_cfg, variant_cfg = timm.models.get_pretrained_cfg(name), timm.models.get_pretrained_cfg(variant)
        assert preset_cfg.tag == variant_cfg.tag
        assert preset_cfg.hf_hub_id == variant_cfg.hf_hub_id and preset_cfg.mean == variant_cfg.mean


def test_split_preset_names_the_variant_and_its_preset():
    assert split_preset("wnlb_resnet50_keys32") == ("wnlb_resnet50", WNLB_PRESETS[1])
    assert split_preset("wnlb_resnet50") == ("wnlb_resnet50", None)


def test_detr_builds_the_presets_strides_from_its_name():
    """transformers drops ``backbone_kwargs``; the name alone must carry the configuration."""
    from transformers import DetrConfig, DetrForObjectDetection

    config = DetrConfig(
        use_timm_backbone=True,
        backbone="wnlb_resnet18_keys32",
        use_pretrained_backbone=False,
        num_labels=3,
        num_queries=10,
        d_model=32,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
    )
    assert kv_strides(DetrForObjectDetection(config)) == (8, 4, 2, 1)


def test_the_variants_page_shows_every_preset_with_its_strides():
    page = VARIANTS_PAGE.read_text()
    for variant in VARIANTS:
        for suffix, strides in STRIDES.items():
            section = page.split(f"\n## {variant}_{suffix}\n", 1)[1].split("\n## ", 1)[0]
            assert f"kv/{'/'.join(map(str, strides))}" in section
