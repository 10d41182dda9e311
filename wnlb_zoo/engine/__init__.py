"""Training and evaluation engine: fine-tuning loop, COCO evaluation, checkpoints, torchrun."""

from .checkpoint import CheckpointError, load_model_weights, resolve_checkpoint, save_checkpoint
from .detector_spec import DetectorSpec
from .distributed import DistributedContext, setup_distributed
from .evaluation import coco_metrics, detections_to_coco, evaluate
from .finetune import TrainingInterrupted, finetune
from .finetune_config import FinetuneConfig, config_from_json, config_to_json
from .run_lock import RunInUseError, RunLock
from .train_loop import NonFiniteLossError

__all__ = [
    "CheckpointError",
    "DetectorSpec",
    "DistributedContext",
    "FinetuneConfig",
    "NonFiniteLossError",
    "RunInUseError",
    "RunLock",
    "TrainingInterrupted",
    "coco_metrics",
    "config_from_json",
    "config_to_json",
    "detections_to_coco",
    "evaluate",
    "finetune",
    "load_model_weights",
    "resolve_checkpoint",
    "save_checkpoint",
    "setup_distributed",
]
