"""Fine-tune a wNLB (or any timm) Mask R-CNN on dark data: the package's main job.

One function, :func:`finetune`, runs a whole training run from a :class:`FinetuneConfig`, in one
process or under ``torchrun``. Every epoch it trains, evaluates with COCOeval, logs and writes an
atomic checkpoint; ``resume`` continues a killed run exactly where its newest intact checkpoint
left off (weights, optimiser, scheduler, scaler; data order and augmentation are seeded per
epoch). At the end the best checkpoint's backbone and detector are exported in the hub layout.

What to look at: ``curves.png`` (training loss and box / mask AP per epoch, redrawn after every
epoch) and, at the end, ``predictions.png`` (a few validation images, predictions beside ground
truth); rank 0 draws both, and a picture that cannot be drawn is a warning, never a lost run.

A run holds its output directory exclusively (:class:`~wnlb_zoo.engine.run_lock.RunLock`), so a
second run into it is refused, and a crashed run leaves no lock behind. Ctrl-C stops a run with a
:class:`TrainingInterrupted` that names the last intact checkpoint and the command that resumes it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import random
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler

from ..data import collate_detection
from ..detection import freezing_defaults, load_detector_weights
from .checkpoint import (
    load_model_weights,
    load_run_config,
    load_training_state,
    remove_staging_leftovers,
    save_checkpoint,
)
from .contact_sheet import CONTACT_SHEET_FILE, draw_contact_sheet, sheet_indices
from .curves import CURVES_FILE, draw_curves
from .data_sources import DataSplits, build_data
from .detector_spec import DetectorSpec
from .distributed import (
    DistributedContext,
    broadcast_from_main,
    run_on_main_rank,
    setup_distributed,
    teardown_distributed,
)
from .evaluation import evaluate
from .export import replace_export
from .figures import draw_or_warn
from .finetune_config import AMP_DTYPES, DEFAULT_LR, FinetuneConfig, check_config, config_to_json
from .report import ap_table_text, epoch_summary_text, percent
from .resume import last_checkpoint, resume_checkpoint, resumed_config
from .run_lock import RunLock
from .run_log import RunLog
from .schedule import build_scheduler
from .train_loop import NonFiniteLossError, StepSettings, train_one_epoch

_logger = logging.getLogger(__name__)

# FinetuneConfig and the option choices live in finetune_config; they are imported from here too.
__all__ = ["AMP_DTYPES", "DEFAULT_LR", "FinetuneConfig", "TrainingInterrupted", "finetune"]


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a run; the message names the last intact checkpoint and the command that resumes it.

    Under torchrun only rank 0's has a message; the other ranks' are empty, so that one line is printed.
    """


def finetune(config: FinetuneConfig) -> dict[str, Any]:
    """Run (or resume) a fine-tuning run; return the final metrics (on rank 0; ``{}`` elsewhere).

    Raises:
        RunInUseError: Another run holds ``config.output``.
        TrainingInterrupted: On Ctrl-C.
        NonFiniteLossError: When a loss diverged, saying which checkpoint is the last intact one.
    """
    check_config(config)
    context = setup_distributed(config.device)
    output = Path(config.output)
    try:
        with contextlib.ExitStack() as held:  # the run lock, on rank 0
            claimed = run_on_main_rank(lambda: _claim_output(config, output, held), context)
            resume_from = broadcast_from_main(claimed, context)
            try:
                return _run(config, context, resume_from)
            except KeyboardInterrupt:
                raise (_interrupted(output, context) if context.is_main else TrainingInterrupted()) from None
            except NonFiniteLossError as error:
                checkpoint = last_checkpoint(output)
                saved = f"The last intact checkpoint is {checkpoint}." if checkpoint else "No checkpoint was written."
                raise NonFiniteLossError(f"{error} {saved}") from None
    finally:
        teardown_distributed()


def _claim_output(config: FinetuneConfig, output: Path, held: contextlib.ExitStack) -> Path | None:
    """On rank 0: hold ``output`` for this run, and choose the checkpoint to resume (None for a new run).

    Under the lock no other run can be writing here, so half-written checkpoints are a dead
    run's and may go. A new run records its options in ``args.json``.
    """
    output.mkdir(parents=True, exist_ok=True)
    held.enter_context(RunLock(output))
    remove_staging_leftovers(output)
    resume_from = resume_checkpoint(config, output)
    if resume_from is None:
        (output / "args.json").write_text(json.dumps(config_to_json(config), indent=2))
    return resume_from


def _run(config: FinetuneConfig, context: DistributedContext, resume_from: Path | None) -> dict[str, Any]:
    """Build everything, train and evaluate every epoch, then (on rank 0) summarise, export and draw."""
    run = _build_run(config, context, resume_from)
    if context.is_main:
        _announce(run)
    metrics = _train(run)
    return _finish(run, metrics) if context.is_main else {}


@dataclass
class _Run:
    """What a run is made of, as :func:`_build_run` puts it together; the epochs and the end read it.

    ``config`` is the run's own (a resumed run's, with the held-out split's fingerprint), ``log``
    exists on rank 0 only, and ``best`` (the best mask AP so far) is kept on rank 0.
    """

    config: FinetuneConfig
    context: DistributedContext
    output: Path
    data: DataSplits
    spec: DetectorSpec
    model: nn.Module
    ddp_model: nn.Module
    sampler: DistributedSampler
    loader: DataLoader
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    settings: StepSettings
    log: RunLog | None
    start_epoch: int
    best: float

    @property
    def title(self) -> str:
        return f"{self.config.backbone} on {self.config.data.dataset}"


def _build_run(config: FinetuneConfig, context: DistributedContext, resume_from: Path | None) -> _Run:
    """Data, model, loader, optimiser, scheduler and scaler; a resumed run's from its checkpoint.

    The order is the run's random-number order (data, then model, then loader): a resumed run
    rebuilds exactly what the killed one had.
    """
    output = Path(config.output)
    state = None
    if resume_from is not None:
        config = resumed_config(config, load_run_config(resume_from), context)
        state = load_training_state(resume_from)
    start_epoch = state["epoch"] + 1 if state is not None else 1
    log = run_on_main_rank(lambda: RunLog(output, resume_epoch=start_epoch if state is not None else None), context)
    if log is not None and log.dropped_torn_line:
        _logger.info("Dropped the torn last line of %s: the killed run was writing it.", log.jsonl)
    _seed_everything(config.seed)

    data = build_data(dataclasses.replace(config.data, seed=config.seed))
    # Recorded with the run (run_config.json): --resume and evaluate rebuild the same held-out split or refuse.
    config = dataclasses.replace(config, data=dataclasses.replace(config.data, val_split_sha256=data.val_split_sha256))
    spec = _detector_spec(config, data)
    model = _build_model(config, spec, context, resume_from)
    ddp_model = DistributedDataParallel(model, device_ids=_device_ids(context)) if context.distributed else model

    sampler = DistributedSampler(
        data.train, num_replicas=context.world_size, rank=context.rank, shuffle=True, seed=config.seed
    )
    loader = DataLoader(
        data.train,
        batch_size=config.batch_size,
        sampler=sampler,
        num_workers=config.workers,
        collate_fn=collate_detection,
        generator=torch.Generator(),
        persistent_workers=False,
    )
    steps_per_epoch = -(-len(loader) // config.grad_accum)
    optimizer = _optimizer(model, config, context.world_size)
    scheduler = build_scheduler(
        optimizer,
        total_steps=config.epochs * steps_per_epoch,
        warmup_steps=min(config.warmup_iters, config.epochs * steps_per_epoch),
        schedule=config.schedule,
        milestones=[epoch * steps_per_epoch for epoch in config.lr_steps],
        gamma=config.lr_gamma,
    )
    amp_dtype = AMP_DTYPES[config.amp] if config.amp else None
    scaler = torch.amp.GradScaler(context.device.type, enabled=config.amp == "fp16")
    settings = StepSettings(amp_dtype=amp_dtype, grad_accum=config.grad_accum, clip_grad=config.clip_grad)

    best = -1.0
    if state is not None:  # the random generators need no state: each epoch seeds them afresh
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        best = state["best_metric"]
    return _Run(
        config=config, context=context, output=output, data=data, spec=spec, model=model, ddp_model=ddp_model,
        sampler=sampler, loader=loader, optimizer=optimizer, scheduler=scheduler, scaler=scaler, settings=settings,
        log=log, start_epoch=start_epoch, best=best,
    )  # fmt: skip


def _detector_spec(config: FinetuneConfig, data: DataSplits) -> DetectorSpec:
    """The detector the run trains: the backbone and sizes of ``config``, the classes of ``data``."""
    trainable_layers, frozen_batch_norm = freezing_defaults(
        config.pretrained or config.weights is not None, config.trainable_backbone_layers
    )
    return DetectorSpec(
        backbone=config.backbone,
        num_classes=len(data.class_names) + 1,
        class_names=data.class_names,
        label_to_category_id=data.label_to_category_id,
        backbone_kwargs=dict(config.backbone_kwargs),
        detector_kwargs=dict(config.detector_kwargs),
        min_size=config.min_size,
        max_size=config.max_size,
        interpolation=config.interpolation,
        trainable_backbone_layers=trainable_layers,
        frozen_batch_norm=frozen_batch_norm,
    )  # fmt: skip


def _build_model(
    config: FinetuneConfig, spec: DetectorSpec, context: DistributedContext, resume_from: Path | None
) -> nn.Module:
    """The detector on its device, with its starting weights: the checkpoint's, ``--weights``, or ImageNet's."""
    model = spec.build(backbone_pretrained=config.pretrained and resume_from is None and config.weights is None)
    if resume_from is not None:
        load_model_weights(resume_from, model)
    elif config.weights:
        load_detector_weights(model, config.weights)
    model.to(context.device)
    if config.channels_last:  # weights in NHWC; convolutions then run NHWC (docs/benchmarks.md)
        model.to(memory_format=torch.channels_last)
    if config.sync_bn and context.distributed:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    return model


def _announce(run: _Run) -> None:
    config, context, data = run.config, run.context, run.data
    lr = config.effective_lr(context.world_size)
    where = f"{context.world_size} process(es) on {context.device}"
    _logger.info(
        "Training %s on %s: %d train / %d val\nimages, %d classes, %s, lr %.4g, epochs %d..%d",
        config.backbone, config.data.dataset, len(data.train), len(data.val), len(data.class_names), where, lr,
        run.start_epoch, config.epochs,
    )  # fmt: skip


def _train(run: _Run) -> dict[str, Any]:
    """Every epoch from ``run.start_epoch``: train, evaluate, log and checkpoint; return the last metrics.

    Each epoch seeds the random generators, the sampler and the loader afresh, so that a resumed
    run draws the same batches and augmentation as an uninterrupted one.
    """
    config, context = run.config, run.context
    # Rank 0 alone writes the run directory; through run_on_main_rank a failed write (a full disk)
    # stops every rank with its error instead of leaving the others waiting at the next collective.
    metrics: dict[str, Any] = {}
    if config.eval_at_start and run.start_epoch == 1:
        metrics = _evaluate(run)
        run_on_main_rank(functools.partial(_record_start, run, metrics), context)
    for epoch in range(run.start_epoch, config.epochs + 1):
        _seed_everything(config.seed * 10_007 + epoch * 101 + context.rank)
        run.sampler.set_epoch(epoch)
        run.loader.generator.manual_seed(config.seed * 10_007 + epoch + 1_000_003 * context.rank)
        first_step = (epoch - 1) * len(run.loader)
        train_stats = train_one_epoch(
            run.ddp_model, run.optimizer, run.scheduler, run.scaler, run.loader, context, run.settings, epoch,
            first_step,
        )  # fmt: skip
        metrics = _evaluate(run)
        run_on_main_rank(functools.partial(_record_epoch, run, epoch, train_stats, metrics), context)
    return metrics


def _evaluate(run: _Run) -> dict[str, Any] | None:
    data = run.data
    return evaluate(
        run.model, data.val, data.ground_truth, data.label_to_category_id, data.category_names, run.context,
        batch_size=run.config.eval_batch_size, workers=run.config.workers,
    )  # fmt: skip


def _record_start(run: _Run, metrics: dict[str, Any]) -> None:
    """On rank 0: log the untrained model's metrics as epoch 0."""
    run.log.append({"epoch": 0, "train": None, **metrics})
    _logger.info("%s", ap_table_text(metrics, title="Validation AP before training"))
    _draw_curves(run)


def _record_epoch(run: _Run, epoch: int, train_stats: dict[str, Any], metrics: dict[str, Any]) -> None:
    """On rank 0: log the epoch, write its checkpoint (``best`` too when its mask AP is the best), report it."""
    score = metrics["segm"]["AP"]  # None when the validation set has nothing to measure
    is_best = score is not None and score > run.best
    run.best = score if is_best else run.best
    training_state = {
        "optimizer": run.optimizer.state_dict(),
        "scheduler": run.scheduler.state_dict(),
        "scaler": run.scaler.state_dict(),
        "epoch": epoch,
        "best_metric": run.best,
        "config": config_to_json(run.config),
    }
    run.log.append({"epoch": epoch, "train": train_stats, **metrics})  # first: a resume re-runs unsaved epochs
    save_checkpoint(run.output, epoch, run.model, run.spec, training_state, is_best)
    _logger.info(
        "epoch %d/%d: loss %.4f, box AP %s, mask AP %s, %.2f img/s%s",
        epoch, run.config.epochs, train_stats["loss"], percent(metrics["bbox"]["AP"], 0), percent(score, 0),
        train_stats["img_per_s"], " (best)" if is_best else "",
    )  # fmt: skip
    _draw_curves(run)


def _draw_curves(run: _Run) -> None:
    draw_or_warn(lambda: draw_curves(run.log.records, run.output / CURVES_FILE, run.title), CURVES_FILE)


def _finish(run: _Run, metrics: dict[str, Any]) -> dict[str, Any]:
    """On rank 0 at the end: the summary, the best checkpoint's export and the pictures; return the final metrics."""
    config, log, output = run.config, run.log, run.output
    log.close()
    _logger.info("%s", epoch_summary_text(log.records))
    final = log.records[-1] if log.records else {"epoch": run.start_epoch - 1, **metrics}
    _logger.info("%s", ap_table_text(final, title=f"Validation AP after epoch {final['epoch']}"))
    if config.export and (output / "best").exists():
        exported = replace_export(output / "best", output / "export")
        _logger.info("Exported the best checkpoint's backbone and detector to %s", exported)
    elif config.export:
        _logger.info(
            "Nothing exported: no epoch had a mask AP to choose the best checkpoint by (no validation annotations)."
        )
    _show_pictures(run.model, run.data, run.context, output, title=f"{run.title}, after epoch {final['epoch']}")
    return final


def _show_pictures(model: nn.Module, data: DataSplits, context: DistributedContext, output: Path, title: str) -> None:
    """On rank 0 at the end: draw the contact sheet of validation predictions, and say where to look."""
    sheet_path = output / CONTACT_SHEET_FILE
    sheet = draw_or_warn(
        lambda: draw_contact_sheet(model, data.val, data.class_names, context.device, sheet_path, title=title),
        CONTACT_SHEET_FILE,
    )
    curves = output / CURVES_FILE
    if curves.is_file():
        _logger.info("Training loss and AP per epoch: %s", curves)
    if sheet is not None:
        shown = len(sheet_indices(len(data.val)))
        _logger.info("Predictions on %d validation image(s), beside their ground truth: %s", shown, sheet)


def _interrupted(output: Path, context: DistributedContext) -> TrainingInterrupted:
    """What Ctrl-C kept, and how to continue, as one line."""
    checkpoint = last_checkpoint(output)
    if checkpoint is None:
        return TrainingInterrupted(
            f"interrupted before the first checkpoint of {output}: there is nothing to resume; run the same "
            "command again to start over."
        )
    launcher = "torchrun [the same options] -m wnlb_zoo" if context.distributed else "wnlb-zoo"
    return TrainingInterrupted(
        f"interrupted; the last intact checkpoint is {checkpoint}. Continue with: "
        f"{launcher} finetune --output {shlex.quote(str(output))} --resume"
    )


def _optimizer(model: nn.Module, config: FinetuneConfig, world_size: int) -> torch.optim.Optimizer:
    """SGD or AdamW; biases, norms and the wNLB gates (1-d parameters) get no weight decay.

    Decaying a gate would pull every block back towards the identity it starts as.
    """
    decay, no_decay = [], []
    for parameter in model.parameters():
        if parameter.requires_grad:
            (no_decay if parameter.ndim <= 1 else decay).append(parameter)
    groups = [
        {"params": decay, "weight_decay": config.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    lr = config.effective_lr(world_size)
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=config.momentum)
    return torch.optim.AdamW(groups, lr=lr)


def _device_ids(context: DistributedContext) -> list[int] | None:
    return [context.device.index] if context.device.type == "cuda" else None


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
