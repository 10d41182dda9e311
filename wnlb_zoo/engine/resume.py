"""Which checkpoint a fine-tuning run continues from, and with which configuration.

``--resume`` alone takes the newest intact checkpoint of the output folder; ``--resume PATH`` takes
PATH or fails. A resumed run trains the model it started on, on the data it started with: only
:data:`RESUMABLE_OPTIONS` may change, and other options given differently are ignored, with a note.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

from .checkpoint import (
    RUN_CONFIG_FILE,
    STATE_FILE,
    WEIGHTS_FILE,
    CheckpointError,
    checkpoint_candidates,
    continue_from,
    is_own_checkpoint,
    newest_intact_checkpoint,
    resolve_checkpoint,
    retarget_links,
    verify_checkpoint,
)
from .distributed import DistributedContext
from .finetune_config import FinetuneConfig, config_from_json, config_to_json

_logger = logging.getLogger(__name__)

#: Options that may change when a run is resumed; everything else comes from the run itself.
RESUMABLE_OPTIONS = ("epochs", "workers", "device", "output", "resume", "eval_batch_size", "export")


def resume_checkpoint(config: FinetuneConfig, output: Path) -> Path | None:
    """The verified checkpoint to resume from; refuse to overwrite an existing run that is not resumed.

    ``--resume`` alone takes the newest intact checkpoint of ``output`` (the one ``last`` names,
    unless it is damaged), skipping damaged ones and moving the ``last`` / ``best`` links off them;
    ``--resume PATH`` takes PATH or fails, and when PATH is an earlier checkpoint of ``output``
    the run continues from there (:func:`~wnlb_zoo.engine.checkpoint.continue_from`); a checkpoint
    of another run continues into ``output`` only when that holds no run (a branch, as
    torchvision's reference scripts allow), never into a run of its own.
    """
    if config.resume == "auto":
        checkpoint, skipped = newest_intact_checkpoint(output)
        for damaged, reason in skipped:
            _logger.info("Skipping %s: %s", damaged, reason)
        retarget_links(output, [damaged for damaged, _ in skipped], checkpoint)
        _logger.info("Resuming from %s, the newest intact checkpoint.", checkpoint)
        return checkpoint
    if config.resume:
        checkpoint = resolve_checkpoint(config.resume)
        if not is_own_checkpoint(output, checkpoint) and checkpoint_candidates(output):
            raise ValueError(
                f"{output} holds a training run of its own, and {checkpoint} is not one of its checkpoints: "
                "resuming it there would mix the two runs' logs and checkpoints. Continue that run with its own "
                "--output and --resume, or branch it into a new, empty --output."
            )
        if not (checkpoint / STATE_FILE).is_file() and not (checkpoint / RUN_CONFIG_FILE).is_file():
            raise CheckpointError(
                f"{checkpoint} holds detector weights only (an export?), so no run continues from it: start a new "
                f"run from those weights with --weights {checkpoint / WEIGHTS_FILE}."
            )
        try:
            verify_checkpoint(checkpoint)
        except CheckpointError as error:
            advice = "Resume from another checkpoint, or start afresh without --resume."
            raise CheckpointError(f"{error} {advice}") from None
        continue_from(output, checkpoint)
        _logger.info("Resuming from %s.", checkpoint)
        return checkpoint
    if checkpoint_candidates(output):
        raise ValueError(
            f"{output} already holds a training run. Pass --resume to continue it, or choose another --output."
        )
    return None


def last_checkpoint(output: Path) -> Path | None:
    """The checkpoint a plain ``--resume`` starts from (``last``, always a verified one), as a path under ``output``."""
    candidates = checkpoint_candidates(output)
    return output / "checkpoints" / candidates[0].name if candidates else None


def resumed_config(config: FinetuneConfig, recorded: dict[str, Any], context: DistributedContext) -> FinetuneConfig:
    """The configuration of the run being resumed, with only :data:`RESUMABLE_OPTIONS` taken from ``config``.

    ``recorded`` is the checkpoint's ``run_config.json``. Other options given differently on the
    command line are ignored, with a note (on rank 0): a resumed run trains the model it started on
    the data it started with.
    """
    if not recorded:
        raise CheckpointError("The checkpoint has no run_config.json, so the run it belongs to cannot be resumed.")
    kept = {name: value for name, value in recorded.items() if name not in RESUMABLE_OPTIONS}
    resumed = config_from_json(kept)
    resumed = dataclasses.replace(resumed, **{name: getattr(config, name) for name in RESUMABLE_OPTIONS})
    comparable = dataclasses.replace(resumed, data=dataclasses.replace(resumed.data, val_split_sha256=None))
    given, running = config_to_json(config), config_to_json(comparable)
    defaults = config_to_json(FinetuneConfig())
    ignored = [name for name in given if given[name] != defaults[name] and given[name] != running[name]]
    if ignored and context.is_main:
        _logger.info("Resuming with the run's own settings; ignoring the differing option(s): %s", ", ".join(ignored))
    return resumed
