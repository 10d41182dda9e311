"""Freezing the base network's BatchNorm keeps what the backbone computes in eval mode."""

import copy

import pytest
import torch
from timm.layers import BatchNormAct2d, FrozenBatchNormAct2d
from torch import nn
from torchvision.ops.misc import FrozenBatchNorm2d

from wnlb_zoo.detection import freeze_base_batch_norm, timm_feature_pyramid
from wnlb_zoo.layers import WeightedNonLocalBlock


def randomise_norms(model: nn.Module) -> None:
    """Statistics and affine parameters away from their defaults, so that a lost term shows."""
    generator = torch.Generator().manual_seed(0)
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._NormBase):
            size = module.num_features
            module.running_mean.copy_(torch.randn(size, generator=generator) * 0.1)
            module.running_var.copy_(torch.rand(size, generator=generator) + 0.5)
            if module.affine:
                module.weight.data.copy_(torch.rand(size, generator=generator) + 0.5)
                module.bias.data.copy_(torch.randn(size, generator=generator) * 0.1)
    for block in model.modules():
        if isinstance(block, WeightedNonLocalBlock):
            block.gate.data.fill_(0.3)  # the block's own (live) norm takes part in the output


# One backbone per norm type: BatchNorm2d (+ wNLB), BatchNormAct2d with SiLU (EfficientNet), with
# hard-swish and ReLU (MobileNetV3), inside ConvNormAct (RegNet), and LayerNorm (+ wNLB, ConvNeXt).
@pytest.mark.parametrize(
    "backbone", ["wnlb_resnet18", "efficientnet_b0", "mobilenetv3_small_100", "regnetx_002", "wnlb_convnext_tiny"]
)
def test_frozen_and_live_backbones_agree_in_eval_mode(backbone):
    torch.manual_seed(0)
    live = timm_feature_pyramid(backbone, frozen_batch_norm=False, out_channels=32)
    with torch.no_grad():
        randomise_norms(live)
    frozen = copy.deepcopy(live)
    freeze_base_batch_norm(frozen.body)
    base_norms = [m for m in frozen.body.modules() if isinstance(m, (nn.BatchNorm2d, nn.SyncBatchNorm))]
    assert all(isinstance(m.norm, nn.BatchNorm2d) for m in frozen.modules() if isinstance(m, WeightedNonLocalBlock))
    assert len(base_norms) == sum(isinstance(m, WeightedNonLocalBlock) for m in frozen.modules())
    if any(isinstance(m, BatchNormAct2d) for m in live.modules()):
        assert any(isinstance(m, FrozenBatchNormAct2d) for m in frozen.modules())

    image = torch.rand(1, 3, 64, 96)
    with torch.inference_mode():
        expected, actual = live.eval()(image), frozen.eval()(image)
    for level in expected:
        scale = expected[level].abs().max().item()
        torch.testing.assert_close(actual[level], expected[level], rtol=1e-4, atol=1e-5 * scale)


def test_non_affine_sync_and_float64_norms_are_frozen_faithfully():
    """affine=False, SyncBatchNorm and a float64 model keep their meaning, dtype and device."""
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3),
        nn.BatchNorm2d(8, affine=False),
        nn.SyncBatchNorm(8),
        BatchNormAct2d(8, act_layer=nn.SiLU),
        nn.BatchNorm2d(8, track_running_stats=False),
        WeightedNonLocalBlock(8),
    ).double()
    with torch.no_grad():
        randomise_norms(model[:4])
    frozen = freeze_base_batch_norm(copy.deepcopy(model))
    assert [type(m) for m in frozen[1:4]] == [FrozenBatchNorm2d, FrozenBatchNorm2d, FrozenBatchNormAct2d]
    assert isinstance(frozen[4], nn.BatchNorm2d) and isinstance(frozen[5].norm, nn.BatchNorm2d)
    assert {t.dtype for t in frozen.state_dict().values() if t.is_floating_point()} == {torch.float64}
    image = torch.rand(2, 3, 9, 11, dtype=torch.float64)
    torch.testing.assert_close(frozen.eval()(image), model.eval()(image))
