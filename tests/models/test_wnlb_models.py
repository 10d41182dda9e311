"""The wNLB timm models: registration, feature pyramids, forward paths and trainability."""

import pytest
import timm
import torch

import wnlb_zoo  # noqa: F401  (registers the models)
from wnlb_zoo.layers import WeightedNonLocalBlock
from wnlb_zoo.models import wnlb_state_keys

VARIANTS = {
    "wnlb_resnet18": "resnet18",
    "wnlb_resnet34": "resnet34",
    "wnlb_resnet50": "resnet50",
    "wnlb_resnet101": "resnet101",
    "wnlb_convnext_tiny": "convnext_tiny",
    "wnlb_convnext_small": "convnext_small",
    "wnlb_convnext_base": "convnext_base",
}
# The four stages, in timm's out_indices of each family (ResNet index 0 is the stride-2 stem).
STAGE_INDICES = {"resnet": (1, 2, 3, 4), "convnext": (0, 1, 2, 3)}


def stage_indices(variant: str) -> tuple[int, ...]:
    return STAGE_INDICES["convnext" if "convnext" in variant else "resnet"]


def wnlb_blocks(model: torch.nn.Module) -> list[WeightedNonLocalBlock]:
    return [m for m in model.modules() if isinstance(m, WeightedNonLocalBlock)]


def test_all_variants_are_registered():
    presets = [f"{variant}_{suffix}" for variant in VARIANTS for suffix in ("keys16", "keys32")]
    assert sorted(timm.list_models("wnlb_*")) == sorted([*VARIANTS, *presets])


def test_base_weight_tags_are_listed_and_point_at_the_base_repo():
    tags = timm.list_pretrained("wnlb_*")
    assert {name.split(".")[0] for name in tags} == set(timm.list_models("wnlb_*"))
    cfg = timm.models.get_pretrained_cfg("wnlb_resnet50.tv_in1k")
    assert cfg.hf_hub_id == "timm/resnet50.tv_in1k"
    assert cfg.mean == timm.models.get_pretrained_cfg("resnet50.tv_in1k").mean


def test_unknown_variant_and_tag_give_timms_errors():
    with pytest.raises(RuntimeError, match="Unknown model"):
        timm.create_model("wnlb_resnet52")
    with pytest.raises(RuntimeError, match="Unknown pretrained tag 'no_such_tag' for wnlb_resnet18: its tags are"):
        timm.create_model("wnlb_resnet18.no_such_tag")


@pytest.mark.slow
@pytest.mark.parametrize("variant", VARIANTS)
def test_feature_pyramid_matches_base_and_handles_awkward_inputs(variant):
    """Stage channels/strides equal the base network's; odd sizes, batch 1, channels_last, bf16."""
    indices = stage_indices(variant)
    model = timm.create_model(variant, features_only=True, out_indices=indices).eval()
    base = timm.create_model(VARIANTS[variant], features_only=True, out_indices=indices)
    assert model.feature_info.channels() == base.feature_info.channels()
    assert model.feature_info.reduction() == [4, 8, 16, 32]
    assert len(wnlb_blocks(model)) == 4
    for key in ("mean", "std", "input_size"):
        assert model.pretrained_cfg[key] == base.pretrained_cfg[key]

    image = torch.rand(1, 3, 67, 93)
    with torch.inference_mode():
        features = model(image)
        assert [f.shape for f in features] == [f.shape for f in base.eval()(image)]
        last = model(image.to(memory_format=torch.channels_last))
        for plain, strided in zip(features, last, strict=True):
            torch.testing.assert_close(strided, plain, rtol=1e-4, atol=1e-4)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = model(image)
    for exact, approximate in zip(features, low, strict=True):
        assert torch.isfinite(approximate).all()
        assert (approximate.float() - exact).norm() < 0.1 * exact.norm()


def test_stage_selection_and_block_configuration():
    model = timm.create_model(
        "wnlb_resnet18", wnlb_stages=(2, 4), wnlb_mode="dot", wnlb_inter_ratio=0.25, wnlb_kv_stride=2
    )
    blocks = dict((name, m) for name, m in model.named_modules() if isinstance(m, WeightedNonLocalBlock))
    assert sorted(blocks) == ["layer2.2", "layer4.2"]
    assert blocks["layer4.2"].inter_channels == 128 and blocks["layer4.2"].mode == "dot"
    assert blocks["layer2.2"].kv_stride == 2
    plain = timm.create_model("wnlb_convnext_tiny", wnlb_stages=())
    assert not wnlb_blocks(plain)


def test_per_stage_kv_stride_and_inter_ratio():
    model = timm.create_model("wnlb_resnet18", wnlb_kv_stride=(4, 2, 1, 1), wnlb_inter_ratio=(0.5, 0.5, 0.25, 0.125))
    blocks = [m for m in model.modules() if isinstance(m, WeightedNonLocalBlock)]
    assert [block.kv_stride for block in blocks] == [4, 2, 1, 1]
    assert [block.inter_channels for block in blocks] == [32, 64, 64, 64]


@pytest.mark.parametrize(
    "kwargs", [{"wnlb_kv_stride": (2, 1)}, {"wnlb_inter_ratio": [0.5] * 5}, {"wnlb_kv_stride": "2222"}]
)
def test_per_stage_settings_need_four_values(kwargs):
    with pytest.raises(ValueError, match="one value for every stage or 4, one per stage"):
        timm.create_model("wnlb_resnet18", **kwargs)


@pytest.mark.parametrize(
    "stages, message",
    [
        ((0, 1), r"unknown stage\(s\) \[0\]"),
        ((5,), "numbered"),
        ((2.5,), r"unknown stage\(s\) \[2.5\]"),
        (3, r"wnlb_stages takes a sequence of stage numbers .* \(3,\) for stage 3 alone .*; got 3\."),
    ],
)
def test_bad_stage_numbers_are_named(stages, message):
    with pytest.raises(ValueError, match=message):
        timm.create_model("wnlb_resnet18", wnlb_stages=stages)


@pytest.mark.parametrize("kv_stride", [1.5, 0, (1, 2, 2.5, 1), True])
def test_fractional_kv_stride_is_refused_at_construction(kv_stride):
    """A stride that max-pooling cannot take fails when the model is built, not at its first forward."""
    with pytest.raises(ValueError, match=r"wnlb_kv_stride takes whole numbers >= 1 .*; got "):
        timm.create_model("wnlb_resnet18", wnlb_kv_stride=kv_stride)


def test_stock_keys_are_unchanged():
    for variant, base in (("wnlb_resnet18", "resnet18"), ("wnlb_convnext_tiny", "convnext_tiny")):
        model = timm.create_model(variant)
        keys = set(model.state_dict())
        base_keys = set(timm.create_model(base).state_dict())
        assert base_keys <= keys
        assert keys - base_keys == wnlb_state_keys(model)
        assert len({k for k in keys - base_keys if k.endswith(".gate")}) == 4


@pytest.mark.parametrize("variant", ["wnlb_resnet18", "wnlb_convnext_tiny"])
def test_classifier_forward_features_and_intermediates(variant):
    model = timm.create_model(variant, num_classes=5).eval()
    image = torch.rand(2, 3, 64, 64)
    with torch.inference_mode():
        assert model(image).shape == (2, 5)
        final = model.forward_features(image)
        intermediates = model.forward_intermediates(image, indices=4, intermediates_only=True)
    assert [t.shape[-1] for t in intermediates][-4:] == [16, 8, 4, 2]
    assert final.shape[-1] == 2


# Blocks whose output reaches the loss through something other than a scale-invariant norm: ResNet's
# last block feeds the pooled classifier; every other block feeds a train-mode BatchNorm (ResNet) or a
# LayerNorm (ConvNeXt).
NOT_FOLLOWED_BY_A_NORM = {"wnlb_resnet18": [3], "wnlb_convnext_tiny": []}


@pytest.mark.parametrize("variant", ["wnlb_resnet18", "wnlb_convnext_tiny"])
def test_default_init_trains_attention_and_reference_init_does_not(variant):
    """After a few SGD steps every block's theta/phi/g/W_z receive gradient, unless init='reference'.

    Under the reference init W_z and its BatchNorm are zero, so the norm's input gradient is exactly
    zero (its gamma is 0 and stays 0) and the block computes (1 - w) x. Its gate gradient -<dL/dz, x>
    then vanishes in exact arithmetic wherever the next layer normalises away the scale of x: only
    blocks not followed by a norm are checked for it (elsewhere its value is rounding noise).
    """
    for init, expect_gradient in (("default", True), ("reference", False)):
        torch.manual_seed(0)
        model = timm.create_model(variant, num_classes=4, wnlb_init=init)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
        images, labels = torch.rand(4, 3, 64, 64), torch.randint(0, 4, (4,))
        for _ in range(3):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(images), labels).backward()
            optimizer.step()
        for index, block in enumerate(wnlb_blocks(model)):
            if expect_gradient or index in NOT_FOLLOWED_BY_A_NORM[variant]:
                assert block.gate.grad.abs() > 0, (init, index)
            convs = (block.theta, block.phi, block.g, block.w_z)
            # Weights only: phi's bias shifts every score of a query alike, which the softmax ignores.
            for parameter in (block.norm.weight, *(conv.weight for conv in convs)):
                assert bool(parameter.grad.any()) == expect_gradient, (init, index, parameter.shape)
            if not expect_gradient:
                assert not any(conv.bias.grad.any() for conv in convs), (init, index)
