"""A features_only wrapper's names map back onto the model's: flattened for ConvNeXt, as they are for ResNet."""

import timm

import wnlb_zoo  # noqa: F401  (registers the models)
from wnlb_zoo.models.feature_names import flattened_name, unflattened_names


def test_every_wrapper_parameter_has_its_model_name():
    for name in ("wnlb_resnet18", "wnlb_convnext_tiny"):
        wrapper = timm.create_model(name, features_only=True).state_dict()
        model = timm.create_model(name, num_classes=0).state_dict()
        mapped = unflattened_names(wrapper, model)
        assert None not in mapped.values(), name
        assert all(wrapper[key].shape == model[mapped[key]].shape for key in wrapper), name
        assert len(set(mapped.values())) == len(mapped), name  # one model parameter per wrapper parameter


def test_flattening_joins_the_first_level_only():
    assert flattened_name("stages.0") == "stages_0"
    assert flattened_name("stages.0.blocks.1.gamma") == "stages_0.blocks.1.gamma"
    assert flattened_name("layer1") == "layer1"
    assert unflattened_names(["stages_0.x", "absent"], ["stages.0.x"]) == {"stages_0.x": "stages.0.x", "absent": None}
