"""Mask R-CNN / Faster R-CNN on timm backbones: losses, predictions, freezing, weights."""

import argparse
from collections import Counter

import pytest
import timm
import torch
from safetensors.torch import save_file
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torchvision.models.detection import FasterRCNN
from torchvision.ops.misc import FrozenBatchNorm2d

from wnlb_zoo.detection import (
    DetectionTransform,
    DetectorWeightsError,
    TimmFeaturePyramid,
    check_detector_kwargs,
    fasterrcnn,
    maskrcnn,
    timm_feature_pyramid,
)
from wnlb_zoo.engine import DetectorSpec
from wnlb_zoo.layers import WeightedNonLocalBlock


def small_batch():
    images = [torch.rand(3, 96, 128), torch.rand(3, 80, 112)]
    masks = torch.zeros(2, 96, 128, dtype=torch.uint8)
    masks[0, 10:50, 20:60] = 1
    masks[1, 40:90, 70:120] = 1
    targets = [
        dict(boxes=torch.tensor([[20.0, 10, 60, 50], [70, 40, 120, 90]]), labels=torch.tensor([1, 2]), masks=masks),
        dict(boxes=torch.zeros(0, 4), labels=torch.zeros(0, dtype=torch.int64), masks=torch.zeros(0, 80, 112)),
    ]
    return images, targets


# Fewer proposals and sampled RoIs than the detection defaults keep CPU tests fast.
SMALL_HEADS = dict(
    rpn_pre_nms_top_n_train=200,
    rpn_post_nms_top_n_train=100,
    rpn_pre_nms_top_n_test=100,
    rpn_post_nms_top_n_test=50,
    box_batch_size_per_image=64,
)


def wnlb_blocks(model):
    return [m for m in model.modules() if isinstance(m, WeightedNonLocalBlock)]


@pytest.mark.slow
@pytest.mark.parametrize("backbone", ["wnlb_resnet18", "resnet18", "wnlb_convnext_tiny"])
def test_maskrcnn_trains_and_predicts(backbone):
    torch.manual_seed(0)
    model = maskrcnn(backbone, num_classes=3, min_size=96, max_size=128, **SMALL_HEADS)
    for block in wnlb_blocks(model):
        block.gate.data.fill_(0.1)  # open the gates so that the attention path gets gradient too
    images, targets = small_batch()
    losses = model(images, targets)
    assert set(losses) == {"loss_classifier", "loss_box_reg", "loss_mask", "loss_objectness", "loss_rpn_box_reg"}
    sum(losses.values()).backward()
    for block in wnlb_blocks(model):
        for parameter in (block.gate, block.theta.weight, block.phi.weight, block.g.weight, block.w_z.weight):
            assert parameter.grad is not None and parameter.grad.abs().sum() > 0
    assert len(wnlb_blocks(model)) == (4 if backbone.startswith("wnlb") else 0)

    model.eval()
    with torch.inference_mode():
        predictions = model(images)
    assert len(predictions) == 2
    assert predictions[0]["masks"].shape[-2:] == (96, 128)
    assert predictions[1]["boxes"].shape[1] == 4


def test_fasterrcnn_shares_the_backbone_wrapper():
    model = fasterrcnn("wnlb_resnet18", num_classes=3, min_size=64, max_size=96, **SMALL_HEADS)
    assert isinstance(model.backbone, TimmFeaturePyramid) and model.roi_heads.mask_head is None
    images, targets = small_batch()
    losses = model(images, [{k: v for k, v in t.items() if k != "masks"} for t in targets])
    assert "loss_mask" not in losses and torch.isfinite(sum(losses.values()))


def test_feature_pyramid_levels_channels_and_normalisation():
    pyramid = timm_feature_pyramid("wnlb_resnet18", out_channels=64)
    features = pyramid(torch.rand(1, 3, 64, 96))
    assert list(features) == ["0", "1", "2", "3", "pool"]
    assert [f.shape[-1] for f in features.values()] == [24, 12, 6, 3, 2]
    assert all(f.shape[1] == 64 for f in features.values())
    model = maskrcnn("convnext_tiny", num_classes=2)
    assert model.transform.image_mean == list(timm.models.get_pretrained_cfg("convnext_tiny").mean)


def test_pyramid_rejects_a_backbone_without_the_detection_strides():
    body = timm.create_model("resnet18", features_only=True, out_indices=(3, 4))
    with pytest.raises(ValueError, match=r"needs \[4, 8, 16, 32\]"):
        TimmFeaturePyramid(body)


def test_freezing_spares_wnlb_blocks_and_their_batch_norm():
    pyramid = timm_feature_pyramid("wnlb_resnet18", trainable_layers=3, frozen_batch_norm=True)
    body = pyramid.body
    assert not body.conv1.weight.requires_grad and not body.layer1[0].conv1.weight.requires_grad
    assert body.layer2[0].conv1.weight.requires_grad
    assert all(p.requires_grad for block in wnlb_blocks(body) for p in block.parameters())
    assert isinstance(body.bn1, FrozenBatchNorm2d) and isinstance(body.layer4[0].bn1, FrozenBatchNorm2d)
    assert all(isinstance(block.norm, torch.nn.BatchNorm2d) for block in wnlb_blocks(body))
    unfrozen = timm_feature_pyramid("wnlb_resnet18")
    assert all(p.requires_grad for p in unfrozen.parameters())
    assert not any(isinstance(m, FrozenBatchNorm2d) for m in unfrozen.modules())
    with pytest.raises(ValueError, match="between 0 and 5"):
        timm_feature_pyramid("wnlb_resnet18", trainable_layers=6)


def test_convnext_stages_freeze_by_group():
    pyramid = timm_feature_pyramid("wnlb_convnext_tiny", trainable_layers=2)
    body = pyramid.body
    assert not body.stem_0.weight.requires_grad and not body.stages_1.blocks[0].conv_dw.weight.requires_grad
    assert body.stages_2.blocks[0].conv_dw.weight.requires_grad
    assert body.stages_0.blocks[3].theta.weight.requires_grad


def test_pretrained_backbone_comes_from_the_local_mirror(tmp_path, monkeypatch):
    torch.manual_seed(0)
    base = timm.create_model("resnet18")
    (tmp_path / "wnlb_resnet18.a1_in1k").mkdir()
    save_file(base.state_dict(), str(tmp_path / "wnlb_resnet18.a1_in1k" / "model.safetensors"))
    monkeypatch.setenv("WNLB_ZOO_WEIGHTS", str(tmp_path))
    model = maskrcnn("wnlb_resnet18", num_classes=2, backbone_pretrained=True)
    body = model.backbone.body
    torch.testing.assert_close(body.layer3[0].conv1.weight, base.layer3[0].conv1.weight)
    assert isinstance(body.bn1, FrozenBatchNorm2d) and not body.layer1[0].conv1.weight.requires_grad


def test_detector_weights_round_trip_and_clear_errors(tmp_path):
    torch.manual_seed(0)
    source = maskrcnn("wnlb_resnet18", num_classes=3, min_size=64, max_size=96).eval()
    path = tmp_path / "detector.safetensors"
    save_file(source.state_dict(), str(path))
    loaded = maskrcnn("wnlb_resnet18", num_classes=3, min_size=64, max_size=96, weights=path).eval()
    image = [torch.rand(3, 64, 80)]
    with torch.inference_mode():
        torch.testing.assert_close(loaded.backbone(image[0][None])["0"], source.backbone(image[0][None])["0"])

    with pytest.raises(RuntimeError, match="num_classes the weights were trained with"):
        maskrcnn("wnlb_resnet18", num_classes=5, weights=path)
    reference = tmp_path / "checkpoint.pth"  # as torchvision's references save a training checkpoint
    torch.save({"model": source.state_dict(), "epoch": 3}, reference)
    from_reference = maskrcnn("wnlb_resnet18", num_classes=3, min_size=64, max_size=96, weights=reference).eval()
    with torch.inference_mode():
        torch.testing.assert_close(from_reference.backbone(image[0][None])["0"], source.backbone(image[0][None])["0"])
    torch.save({"model": source.state_dict(), "args": argparse.Namespace()}, reference)  # a pickled object
    with pytest.raises(
        RuntimeError, match="not a valid PyTorch checkpoint of tensors .* Do not load it with weights_only"
    ):
        maskrcnn("wnlb_resnet18", num_classes=3, weights=reference)
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(RuntimeError, match="truncated or corrupt"):
        maskrcnn("wnlb_resnet18", num_classes=3, weights=path)
    with pytest.raises(RuntimeError, match="do not exist"):
        maskrcnn("wnlb_resnet18", num_classes=3, weights=tmp_path / "missing.safetensors")


def saved_detector(directory, record: DetectorSpec | None = None):
    """A small trained-detector file (wnlb_resnet18, 2 classes + background), with its detector.json if given."""
    torch.manual_seed(0)
    directory.mkdir()
    path = directory / "model.safetensors"
    save_file(maskrcnn("wnlb_resnet18", num_classes=3).state_dict(), str(path))
    if record is not None:
        record.save(directory)
    return path


def test_trained_detector_weights_mean_fine_tuning_defaults_as_in_torchvision(tmp_path):
    """weights= -> 3 trainable backbone groups and frozen base BatchNorm, unless asked otherwise."""
    path = saved_detector(tmp_path / "plain")
    body = maskrcnn("wnlb_resnet18", num_classes=3, weights=path).backbone.body
    assert not body.conv1.weight.requires_grad and not body.layer1[0].conv1.weight.requires_grad
    assert body.layer2[0].conv1.weight.requires_grad
    assert isinstance(body.bn1, FrozenBatchNorm2d) and isinstance(body.layer4[0].bn2, FrozenBatchNorm2d)
    assert all(isinstance(block.norm, torch.nn.BatchNorm2d) for block in wnlb_blocks(body))
    live = maskrcnn("wnlb_resnet18", num_classes=3, weights=path, trainable_backbone_layers=5, frozen_batch_norm=False)
    assert all(p.requires_grad for p in live.parameters())
    assert not any(isinstance(m, FrozenBatchNorm2d) for m in live.modules())


def test_detector_json_beside_the_weights_gives_classes_and_batch_norm(tmp_path):
    record = DetectorSpec(
        backbone="wnlb_resnet18.tv_in1k",
        num_classes=3,
        class_names=("cat", "dog"),
        label_to_category_id={1: 1, 2: 2},
        frozen_batch_norm=False,
    )
    path = saved_detector(tmp_path / "run", record)
    model = maskrcnn("wnlb_resnet18", weights=path)
    assert model.roi_heads.box_predictor.cls_score.out_features == 3
    assert not any(isinstance(m, FrozenBatchNorm2d) for m in model.modules())  # trained with live BatchNorm
    with pytest.raises(DetectorWeightsError, match=r"have 3 classes \(background, cat, dog; .*detector.json\)"):
        maskrcnn("wnlb_resnet18", num_classes=5, weights=path)
    with pytest.raises(DetectorWeightsError, match=r"trained on the backbone 'wnlb_resnet18.tv_in1k'.*not 'resnet18'"):
        maskrcnn("resnet18", weights=path)


def test_transform_kwargs_reach_the_transform():
    kwargs = dict(image_mean=[0.5, 0.5, 0.5], image_std=[0.2, 0.2, 0.2], size_divisible=64, fixed_size=(96, 128))
    transform = maskrcnn("resnet18", num_classes=2, min_size=64, max_size=96, **kwargs).transform
    for key, value in kwargs.items():
        assert getattr(transform, key) == value, key
    assert (transform.min_size, transform.max_size) == ((64,), 96)


def test_unknown_detector_kwargs_are_named_with_the_accepted_ones():
    with pytest.raises(
        ValueError, match=r"Unknown detector argument\(s\) box_score_threshold for MaskRCNN; .*box_score_thresh"
    ):
        maskrcnn("resnet18", num_classes=2, box_score_threshold=0.5)
    with pytest.raises(ValueError, match=r"mask_head for FasterRCNN; the accepted ones are .*fixed_size"):
        check_detector_kwargs({"mask_head": None}, FasterRCNN)
    check_detector_kwargs({"mask_head": None, "size_divisible": 64, "rpn_nms_thresh": 0.6})


def test_exported_backbone_loads_through_local_dir(tmp_path):
    """The local-dir: form that the weights commands recommend builds a detector with those weights."""
    torch.manual_seed(1)
    backbone = timm.create_model("wnlb_resnet18", num_classes=0, wnlb_stages=(2, 3))
    timm.models.save_for_hf(
        backbone, tmp_path, model_args={"num_classes": 0, "wnlb_stages": (2, 3)}, safe_serialization=True
    )
    body = maskrcnn(f"local-dir:{tmp_path}", num_classes=2, backbone_pretrained=True).backbone.body
    assert len(wnlb_blocks(body)) == 2
    torch.testing.assert_close(body.layer3[2].theta.weight, backbone.layer3[2].theta.weight)
    torch.testing.assert_close(body.layer4[0].conv1.weight, backbone.layer4[0].conv1.weight)


def test_nearest_resizing_keeps_pixel_values_and_boxes_consistent():
    transform = DetectionTransform(400, 600, [0.0] * 3, [1.0] * 3, interpolation="nearest").eval()
    image = torch.rand(3, 80, 120)
    masks = torch.zeros(1, 80, 120, dtype=torch.uint8)
    masks[0, 20:40, 30:90] = 1
    target = dict(boxes=torch.tensor([[30.0, 20, 90, 40]]), labels=torch.tensor([1]), masks=masks)
    resized, resized_target = transform.resize(image, target)
    assert resized.shape[-2:] == (400, 600)
    assert set(resized.unique().tolist()) <= set(image.unique().tolist())
    ys, xs = resized_target["masks"][0].nonzero(as_tuple=True)
    torch.testing.assert_close(
        resized_target["boxes"][0], torch.tensor([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]).float()
    )
    bilinear, _ = DetectionTransform(400, 600, [0.0] * 3, [1.0] * 3).eval().resize(image, None)
    assert len(bilinear.unique()) > len(resized.unique())
    with pytest.raises(ValueError, match="'bilinear' or 'nearest'"):
        DetectionTransform(400, 600, [0.0] * 3, [1.0] * 3, interpolation="bicubic")


@pytest.mark.parametrize(
    ("size", "floored"),
    [((207, 276), (800, 1066)), ((200, 355), (750, 1333)), ((200, 150), (1066, 800)), ((1000, 1000), (800, 800))],
)
def test_nearest_resizing_gives_torchvisions_output_size(size, floored):
    """Only the interpolation differs: torchvision's floored sides (data.Resize would round 800 x 1066.7 up)."""
    image = torch.rand(3, *size)
    bilinear, _ = DetectionTransform(800, 1333, [0.0] * 3, [1.0] * 3).eval().resize(image, None)
    nearest, _ = DetectionTransform(800, 1333, [0.0] * 3, [1.0] * 3, interpolation="nearest").eval().resize(image, None)
    assert nearest.shape[-2:] == bilinear.shape[-2:] == floored


def test_freezing_follows_parameter_order_for_any_timm_extractor():
    """EfficientNet's stages are not top-level children; only the stem and stage 1 may be frozen."""
    body = timm_feature_pyramid("efficientnet_b0", trainable_layers=3).body
    assert not body.conv_stem.weight.requires_grad and not body.blocks[1][0].conv_pw.weight.requires_grad
    assert body.blocks[2][0].conv_pw.weight.requires_grad and body.blocks[6][0].conv_pw.weight.requires_grad


def test_channel_mismatch_is_named():
    model = maskrcnn("resnet18", num_classes=2, min_size=64, max_size=64).eval()
    with pytest.raises(ValueError, match="1 channel.*takes 3.*in_chans"):
        model([torch.rand(1, 64, 64)])
    gray = maskrcnn("resnet18", num_classes=2, min_size=64, max_size=64, backbone_kwargs={"in_chans": 1}).eval()
    with torch.inference_mode():
        assert len(gray([torch.rand(1, 64, 64)])) == 1


def test_unknown_backbone_suggests_names():
    with pytest.raises(ValueError, match="Unknown model 'wnlb_resnet5'.*wnlb_resnet50"):
        maskrcnn("wnlb_resnet5", num_classes=2)


def test_resnet50_detector_matches_torchvision_structurally():
    """Ours on timm's resnet50 is torchvision's maskrcnn_resnet50_fpn(weights=None) in all but the init.

    The benchmark compares the two; any extra trainable parameter, frozen or extra BatchNorm, or
    transform difference would make ours do more work per step.
    """
    from torchvision.models.detection import maskrcnn_resnet50_fpn

    ours = maskrcnn("resnet50", num_classes=91, min_size=800, max_size=1333)
    theirs = maskrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=91)

    def shapes(module):
        return [(tuple(p.shape), p.requires_grad) for p in module.parameters()]

    for part in ("backbone.body", "backbone.fpn", "rpn", "roi_heads"):
        assert shapes(ours.get_submodule(part)) == shapes(theirs.get_submodule(part)), part
    for model in (ours, theirs):
        assert not any(isinstance(m, FrozenBatchNorm2d) for m in model.modules())
    norms = [[type(m) for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)] for model in (ours, theirs)]
    assert norms[0] == norms[1]
    for attribute in ("min_size", "max_size", "image_mean", "image_std", "size_divisible", "fixed_size"):
        assert getattr(ours.transform, attribute) == getattr(theirs.transform, attribute), attribute


class OperatorLog(TorchDispatchMode):
    """Counts every aten operator call with the shapes, strides and dtypes of its tensor arguments."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        tensors = [t for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)]
        self.calls[str(func), tuple((tuple(t.shape), t.stride(), t.dtype) for t in tensors)] += 1
        return func(*args, **kwargs)


def test_resnet50_pyramid_runs_exactly_torchvisions_operators():
    """Body + FPN, forward and backward: the same aten calls with the same shapes and strides as
    torchvision's ``maskrcnn_resnet50_fpn`` backbone, so speed differences cannot come from our pyramid."""
    from torchvision.models.detection import maskrcnn_resnet50_fpn

    def calls(backbone: torch.nn.Module) -> Counter:
        x = torch.rand(2, 3, 64, 96)
        with OperatorLog() as log:
            features = backbone(x)
            sum(feature.sum() for feature in features.values()).backward()
        assert list(features) == ["0", "1", "2", "3", "pool"]
        return log.calls

    ours = calls(maskrcnn("resnet50", num_classes=91).backbone)
    theirs = calls(maskrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=91).backbone)
    assert sum(ours.values()) > 500
    assert ours == theirs, (ours - theirs, theirs - ours)
