"""Loading base (ImageNet-style) checkpoints into wNLB models: exact, strict, offline."""

import copy

import pytest
import timm
import torch
from safetensors.torch import save_file
from timm.models import FeatureListNet

import wnlb_zoo  # noqa: F401  (registers the models)
from wnlb_zoo.models import CheckpointMismatchError

PAIRS = [("wnlb_resnet50", "resnet50", (1, 2, 3, 4)), ("wnlb_convnext_tiny", "convnext_tiny", (0, 1, 2, 3))]


def save_base_checkpoint(base: str, path, drop: str | None = None, extra: str | None = None):
    torch.manual_seed(0)
    model = timm.create_model(base).eval()
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    if drop:
        del state[drop]
    if extra:
        state[extra] = torch.zeros(1)
    save_file(state, str(path))
    return model


@pytest.mark.slow
@pytest.mark.parametrize("variant, base, indices", PAIRS)
def test_base_checkpoint_gives_the_base_networks_outputs(tmp_path, variant, base, indices):
    path = tmp_path / "base.safetensors"
    reference = save_base_checkpoint(base, path)
    overlay = dict(file=str(path))
    model = timm.create_model(variant, pretrained=True, pretrained_cfg_overlay=overlay).eval()
    features = timm.create_model(
        variant, pretrained=True, pretrained_cfg_overlay=overlay, features_only=True, out_indices=indices
    ).eval()
    reference_features = timm.create_model(
        base, pretrained=True, pretrained_cfg_overlay=overlay, features_only=True, out_indices=indices
    ).eval()
    image = torch.rand(2, 3, 96, 128)
    with torch.inference_mode():
        assert (model(image) - reference(image)).abs().max() < 1e-4
        for ours, theirs in zip(features(image), reference_features(image), strict=True):
            assert (ours - theirs).abs().max() < 1e-4


@pytest.mark.parametrize("features_only", [False, True])
@pytest.mark.parametrize("variant, base, indices", PAIRS)
def test_missing_stock_key_raises(tmp_path, variant, base, indices, features_only):
    path = tmp_path / "broken.safetensors"
    dropped = "layer3.1.conv2.weight" if "resnet" in base else "stages.2.blocks.1.conv_dw.weight"
    save_base_checkpoint(base, path, drop=dropped)
    with pytest.raises(CheckpointMismatchError, match=f"missing 1 key.*{dropped}"):
        timm.create_model(
            variant, pretrained=True, pretrained_cfg_overlay=dict(file=str(path)), features_only=features_only
        )


def test_unexpected_key_and_partial_wnlb_checkpoint_raise(tmp_path):
    path = tmp_path / "extra.safetensors"
    save_base_checkpoint("resnet18", path, extra="layer9.weight")
    with pytest.raises(CheckpointMismatchError, match="unexpected 1 key.*layer9.weight"):
        timm.create_model("wnlb_resnet18", pretrained=True, pretrained_cfg_overlay=dict(file=str(path)))

    state = timm.create_model("wnlb_resnet18").state_dict()
    del state["layer2.2.theta.weight"]
    save_file(state, str(path))
    with pytest.raises(CheckpointMismatchError, match="some wNLB weights but not all.*layer2.2.theta.weight"):
        timm.create_model("wnlb_resnet18", pretrained=True, pretrained_cfg_overlay=dict(file=str(path)))


def test_full_wnlb_checkpoint_round_trips(tmp_path):
    torch.manual_seed(1)
    source = timm.create_model("wnlb_resnet18").eval()
    with torch.no_grad():
        for name, param in source.named_parameters():
            if name.endswith(".gate"):
                param.fill_(0.3)
    path = tmp_path / "wnlb.safetensors"
    save_file(source.state_dict(), str(path))
    loaded = timm.create_model("wnlb_resnet18", pretrained=True, pretrained_cfg_overlay=dict(file=str(path))).eval()
    image = torch.rand(1, 3, 64, 64)
    with torch.inference_mode():
        assert torch.equal(loaded(image), source(image))


def test_base_tag_loads_from_the_hugging_face_cache_offline(tmp_path, monkeypatch):
    """A base tag resolves to the base repo's file in an HF cache, without any network."""
    from huggingface_hub import constants

    revision = "0" * 40
    snapshot = tmp_path / "models--timm--resnet18.a1_in1k" / "snapshots" / revision
    snapshot.mkdir(parents=True)
    (tmp_path / "models--timm--resnet18.a1_in1k" / "refs").mkdir()
    (tmp_path / "models--timm--resnet18.a1_in1k" / "refs" / "main").write_text(revision)
    reference = save_base_checkpoint("resnet18", snapshot / "model.safetensors")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("WNLB_ZOO_WEIGHTS", raising=False)

    model = timm.create_model("wnlb_resnet18.a1_in1k", pretrained=True).eval()
    image = torch.rand(1, 3, 64, 64)
    with torch.inference_mode():
        assert (model(image) - reference(image)).abs().max() < 1e-5


@pytest.mark.parametrize("features_only", [False, True])
def test_a_checkpoint_without_batch_norm_step_counters_loads(tmp_path, features_only):
    """One rule for every BatchNorm, the wNLB's own included: ``num_batches_tracked`` may be absent."""
    torch.manual_seed(2)
    source = timm.create_model("wnlb_resnet18").eval()
    state = {key: value for key, value in source.state_dict().items() if not key.endswith("num_batches_tracked")}
    assert any(key.startswith("layer4.2.norm.") for key in state)  # the wNLB's BatchNorm is in the checkpoint
    path = tmp_path / "no-counters.safetensors"
    save_file(state, str(path))
    overlay = dict(file=str(path))
    loaded = timm.create_model(
        "wnlb_resnet18", pretrained=True, pretrained_cfg_overlay=overlay, features_only=features_only
    )
    if features_only:
        source = FeatureListNet(copy.deepcopy(source), out_indices=loaded.feature_info.out_indices)
    image = torch.rand(1, 3, 64, 64)
    with torch.inference_mode():
        ours, theirs = loaded.eval()(image), source.eval()(image)
    for a, b in zip(as_list(ours), as_list(theirs), strict=True):
        assert torch.equal(a, b)


def as_list(output):
    return output if isinstance(output, list) else [output]


def test_an_unknown_tag_lists_the_known_ones():
    from wnlb_zoo.models import UnknownPretrainedTagError

    for pretrained in (False, True):
        with pytest.raises(UnknownPretrainedTagError, match="Unknown pretrained tag 'nope' for wnlb_resnet18: its"):
            timm.create_model("wnlb_resnet18.nope", pretrained=pretrained)
    with pytest.raises(ValueError, match="wnlb_resnet18.a1_in1k"):
        timm.create_model("wnlb_resnet18.nope")
    with pytest.raises(RuntimeError):  # timm's own type for this error, still caught by existing handlers
        timm.create_model("wnlb_resnet18.nope")
