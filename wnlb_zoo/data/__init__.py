"""Dark detection data: datasets giving torchvision detection targets, paired transforms and
physics-based low-light synthesis.

- :class:`CocoInstances` (any COCO-format instance file), :class:`LIS`, :class:`PennFudan`,
  :class:`SyntheticDarkScenes`: ``(image, target)`` items, target format in :mod:`.target`;
- :mod:`.transforms`: flip, resize (nearest for the LIS protocol), photometric jitter, low light;
- :func:`synthesize_low_light` and :class:`LowLightParams`: unprocess -> darken -> noise ->
  quantise -> reprocess (Brooks et al. 2019);
- :func:`train_val_split`, :func:`collate_detection`, :func:`coco_ground_truth` for training
  and COCO evaluation.
"""

from .coco import CocoInstances
from .coco_format import AnnotationError, read_coco_instances, read_coco_json
from .coco_ground_truth import category_ids_for_labels, coco_ground_truth
from .collate import collate_detection
from .image_io import ImageReadError, read_image, write_image
from .lis import LIS, LIS_CLASS_NAMES, LIS_VARIANTS, lis_annotation_name
from .lowlight import DEFAULT_LOW_LIGHT, LowLightParams, LowLightSample, LowLightTrace, synthesize_low_light
from .pennfudan import PennFudan
from .split import train_val_split
from .synthetic import SHAPES, SyntheticDarkScenes
from .target import Target, empty_target, masks_to_boxes, target_from_masks
from .transforms import Compose, RandomHorizontalFlip, RandomLowLight, RandomPhotometric, Resize

__all__ = [
    "LIS",
    "LIS_CLASS_NAMES",
    "LIS_VARIANTS",
    "SHAPES",
    "DEFAULT_LOW_LIGHT",
    "AnnotationError",
    "CocoInstances",
    "Compose",
    "ImageReadError",
    "LowLightParams",
    "LowLightSample",
    "LowLightTrace",
    "PennFudan",
    "RandomHorizontalFlip",
    "RandomLowLight",
    "RandomPhotometric",
    "Resize",
    "SyntheticDarkScenes",
    "Target",
    "category_ids_for_labels",
    "coco_ground_truth",
    "collate_detection",
    "empty_target",
    "lis_annotation_name",
    "masks_to_boxes",
    "read_coco_instances",
    "read_coco_json",
    "read_image",
    "synthesize_low_light",
    "target_from_masks",
    "train_val_split",
    "write_image",
]
