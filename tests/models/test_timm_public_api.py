"""timm's public API, both ways: the package uses only timm's public modules (private ones change without
notice), and a user of timm's public API gets from the wNLB models what timm promises of any model."""

import ast
from pathlib import Path

import pytest
import timm
import torch

import wnlb_zoo

PACKAGE = Path(wnlb_zoo.__file__).parent


def private_timm_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "timm" and any(part.startswith("_") for part in parts[1:]):
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: {name}")
    return found


def test_no_imports_from_private_timm_modules():
    offenders = [hit for path in sorted(PACKAGE.rglob("*.py")) for hit in private_timm_imports(path)]
    assert not offenders, f"import these from timm's public modules (timm, timm.models, ...): {offenders}"


@pytest.mark.parametrize(
    "variant, out_indices", [("wnlb_resnet18", (2, 4)), ("wnlb_resnet18", (0,)), ("wnlb_convnext_tiny", (-1,))]
)
def test_features_only_gives_the_requested_levels_as_feature_info_describes_them(variant, out_indices):
    model = timm.create_model(variant, features_only=True, out_indices=out_indices).eval()
    height, width = 64, 96
    with torch.inference_mode():
        features = model(torch.rand(2, 3, height, width))
    info = model.feature_info
    assert len(features) == len(out_indices) == len(info.channels()) == len(info.reduction())
    for feature, channels, reduction in zip(features, info.channels(), info.reduction(), strict=True):
        assert feature.shape == (2, channels, height // reduction, width // reduction)


@pytest.mark.parametrize("variant", ["wnlb_resnet18", "wnlb_convnext_tiny"])
def test_pretrained_cfg_is_the_default_tags_and_names_real_modules(variant):
    """timm reads first_conv (to adapt in_chans) and classifier (to reset the head) from the cfg by name."""
    model = timm.create_model(variant)
    default = timm.models.get_pretrained_cfg(variant)
    assert timm.models.is_model(variant) and timm.models.is_model_pretrained(variant)
    assert model.pretrained_cfg["architecture"] == variant
    assert model.pretrained_cfg["tag"] == default.tag
    model.get_submodule(model.pretrained_cfg["first_conv"])
    assert model.get_submodule(model.pretrained_cfg["classifier"]) is model.get_classifier()
    data_config = timm.data.resolve_data_config({}, model=model)
    assert (data_config["mean"], data_config["std"], data_config["input_size"]) == (
        default.mean,
        default.std,
        default.input_size,
    )


@pytest.mark.parametrize("variant", ["wnlb_resnet18", "wnlb_convnext_tiny"])
def test_classifier_can_be_removed_and_replaced(variant):
    model = timm.create_model(variant, num_classes=0).eval()
    image = torch.rand(2, 3, 64, 64)
    with torch.inference_mode():
        assert model(image).shape == (2, model.num_features)
        model.reset_classifier(7)
        assert model(image).shape == (2, 7)
