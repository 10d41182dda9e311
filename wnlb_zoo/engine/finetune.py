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
import math
import random
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler

from ..data import collate_detection
from ..detection import check_detector_kwargs, freezing_defaults, load_detector_weights
from ..models import check_model_name
from .checkpoint import (
    RUN_CONFIG_FILE,
    STATE_FILE,
    WEIGHTS_FILE,
    CheckpointError,
    checkpoint_candidates,
    continue_from,
    load_model_weights,
    load_run_config,
    load_training_state,
    newest_intact_checkpoint,
    remove_staging_leftovers,
    resolve_checkpoint,
    retarget_links,
    save_checkpoint,
    verify_checkpoint,
)
from .contact_sheet import CONTACT_SHEET_FILE, draw_contact_sheet, sheet_indices
from .curves import CURVES_FILE, draw_curves
from .data_sources import DataSettings, DataSplits, build_data
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
from .report import percent, print_ap_table, print_epoch_summary
from .run_lock import RunLock
from .run_log import RunLog
from .schedule import build_scheduler
from .train_loop import NonFiniteLossError, StepSettings, train_one_epoch

#: ``--lr`` is given for this many images per optimiser step and scaled linearly to the real batch.
REFERENCE_BATCH = 16
DEFAULT_LR = {"sgd": 0.02, "adamw": 2e-4}
AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass
class FinetuneConfig:
    """Everything a fine-tuning run depends on (the ``wnlb-zoo finetune`` options)."""

    data: DataSettings = field(default_factory=DataSettings)
    backbone: str = "wnlb_resnet18"
    backbone_kwargs: dict[str, Any] = field(default_factory=dict)
    detector_kwargs: dict[str, Any] = field(default_factory=dict)
    pretrained: bool = False
    weights: str | None = None
    min_size: int = 800
    max_size: int = 1333
    interpolation: str = "bilinear"
    trainable_backbone_layers: int | None = None
    epochs: int = 12
    batch_size: int = 2
    optimizer: str = "sgd"
    lr: float | None = None
    momentum: float = 0.9
    weight_decay: float = 1e-4
    schedule: str = "cosine"
    warmup_iters: int = 100
    lr_steps: tuple[int, ...] = ()
    lr_gamma: float = 0.1
    grad_accum: int = 1
    clip_grad: float | None = None
    amp: str | None = None
    device: str | None = None
    workers: int = 2
    seed: int = 0
    sync_bn: bool = False
    channels_last: bool = False
    output: str = "runs/finetune"
    resume: str | None = None
    eval_batch_size: int = 2
    eval_at_start: bool = False
    export: bool = True

    def effective_lr(self, world_size: int) -> float:
        """The learning rate used: ``lr`` (per REFERENCE_BATCH images) scaled to the real batch."""
        base = self.lr if self.lr is not None else DEFAULT_LR[self.optimizer]
        return base * self.batch_size * world_size * self.grad_accum / REFERENCE_BATCH


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
    _validate(config)
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
                checkpoint = _last_checkpoint(output)
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
    resume_from = _resume_checkpoint(config, output)
    if resume_from is None:
        (output / "args.json").write_text(json.dumps(_jsonable(config), indent=2))
    return resume_from


def _run(config: FinetuneConfig, context: DistributedContext, resume_from: Path | None) -> dict[str, Any]:
    output = Path(config.output)
    state = None
    if resume_from is not None:
        config = _resumed_config(config, load_run_config(resume_from), context)
        state = load_training_state(resume_from)
    start_epoch = state["epoch"] + 1 if state is not None else 1
    log = run_on_main_rank(lambda: RunLog(output, resume_epoch=start_epoch if state is not None else None), context)
    if log is not None and log.dropped_torn_line:
        print(f"Dropped the torn last line of {log.jsonl}: the killed run was writing it.")
    _seed_everything(config.seed)

    data = build_data(dataclasses.replace(config.data, seed=config.seed))
    # Recorded with the run (run_config.json): --resume and evaluate rebuild the same held-out split or refuse.
    config = dataclasses.replace(config, data=dataclasses.replace(config.data, val_split_sha256=data.val_split_sha256))
    trainable_layers, frozen_batch_norm = freezing_defaults(
        config.pretrained or config.weights is not None, config.trainable_backbone_layers
    )
    spec = DetectorSpec(
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
    if context.is_main:
        lr = config.effective_lr(context.world_size)
        where = f"{context.world_size} process(es) on {context.device}"
        print(f"Training {config.backbone} on {config.data.dataset}: {len(data.train)} train / {len(data.val)} val")
        print(f"images, {len(data.class_names)} classes, {where}, lr {lr:.4g}, epochs {start_epoch}..{config.epochs}")

    def evaluate_all() -> dict[str, Any] | None:
        return evaluate(
            model, data.val, data.ground_truth, data.label_to_category_id, data.category_names, context,
            batch_size=config.eval_batch_size, workers=config.workers,
        )  # fmt: skip

    curves_title = f"{config.backbone} on {config.data.dataset}"

    def record_start(metrics: dict[str, Any]) -> None:
        log.append({"epoch": 0, "train": None, **metrics})
        print_ap_table(metrics, title="Validation AP before training")
        draw_or_warn(lambda: draw_curves(log.records, output / CURVES_FILE, curves_title), CURVES_FILE)

    def record_epoch(epoch: int, train_stats: dict[str, Any], metrics: dict[str, Any]) -> None:
        nonlocal best
        score = metrics["segm"]["AP"]  # None when the validation set has nothing to measure
        is_best = score is not None and score > best
        best = score if is_best else best
        training_state = {
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict(),
            "epoch": epoch,
            "best_metric": best,
            "config": _jsonable(config),
        }
        log.append({"epoch": epoch, "train": train_stats, **metrics})  # first: a resume re-runs unsaved epochs
        save_checkpoint(output, epoch, model, spec, training_state, is_best)
        print(
            f"epoch {epoch}/{config.epochs}: loss {train_stats['loss']:.4f}, box AP "
            f"{percent(metrics['bbox']['AP'], 0)}, mask AP {percent(score, 0)}, "
            f"{train_stats['img_per_s']:.2f} img/s" + (" (best)" if is_best else ""),
            flush=True,
        )
        draw_or_warn(lambda: draw_curves(log.records, output / CURVES_FILE, curves_title), CURVES_FILE)

    # Rank 0 alone writes the run directory; through run_on_main_rank a failed write (a full disk)
    # stops every rank with its error instead of leaving the others waiting at the next collective.
    metrics: dict[str, Any] = {}
    if config.eval_at_start and start_epoch == 1:
        metrics = evaluate_all()
        run_on_main_rank(functools.partial(record_start, metrics), context)
    for epoch in range(start_epoch, config.epochs + 1):
        _seed_everything(config.seed * 10_007 + epoch * 101 + context.rank)
        sampler.set_epoch(epoch)
        loader.generator.manual_seed(config.seed * 10_007 + epoch + 1_000_003 * context.rank)
        first_step = (epoch - 1) * len(loader)
        train_stats = train_one_epoch(
            ddp_model, optimizer, scheduler, scaler, loader, context, settings, epoch, first_step
        )
        metrics = evaluate_all()
        run_on_main_rank(functools.partial(record_epoch, epoch, train_stats, metrics), context)

    if not context.is_main:
        return {}
    log.close()
    print_epoch_summary(log.records)
    final = log.records[-1] if log.records else {"epoch": start_epoch - 1, **metrics}
    print_ap_table(final, title=f"Validation AP after epoch {final['epoch']}")
    if config.export and (output / "best").exists():
        exported = replace_export(output / "best", output / "export")
        print(f"Exported the best checkpoint's backbone and detector to {exported}")
    elif config.export:
        print("Nothing exported: no epoch had a mask AP to choose the best checkpoint by (no validation annotations).")
    _show_pictures(model, data, context, output, title=f"{curves_title}, after epoch {final['epoch']}")
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
        print(f"Training loss and AP per epoch: {curves}")
    if sheet is not None:
        shown = len(sheet_indices(len(data.val)))
        print(f"Predictions on {shown} validation image(s), beside their ground truth: {sheet}")


def _validate(config: FinetuneConfig) -> None:
    if config.optimizer not in DEFAULT_LR:
        raise ValueError(f"--optimizer must be one of {tuple(DEFAULT_LR)}, got {config.optimizer!r}.")
    if config.amp is not None and config.amp not in AMP_DTYPES:
        raise ValueError(f"--amp must be one of {tuple(AMP_DTYPES)}, got {config.amp!r}.")
    for name in ("epochs", "batch_size", "grad_accum"):
        if getattr(config, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(config, name)}.")
    if config.lr is not None and not (math.isfinite(config.lr) and config.lr > 0):
        raise ValueError(f"--lr must be a positive number, got {config.lr}.")
    check_model_name(config.backbone)  # before any data is read: a typo costs seconds, not a data set scan
    check_detector_kwargs(config.detector_kwargs)


def _resume_checkpoint(config: FinetuneConfig, output: Path) -> Path | None:
    """The verified checkpoint to resume from; refuse to overwrite an existing run that is not resumed.

    ``--resume`` alone takes the newest intact checkpoint of ``output`` (the one ``last`` names,
    unless it is damaged), skipping damaged ones and moving the ``last`` / ``best`` links off them;
    ``--resume PATH`` takes PATH or fails, and when PATH is an earlier checkpoint of ``output``
    the run continues from there (:func:`~wnlb_zoo.engine.checkpoint.continue_from`).
    """
    if config.resume == "auto":
        checkpoint, skipped = newest_intact_checkpoint(output)
        for damaged, reason in skipped:
            print(f"Skipping {damaged}: {reason}")
        retarget_links(output, [damaged for damaged, _ in skipped], checkpoint)
        print(f"Resuming from {checkpoint}, the newest intact checkpoint.")
        return checkpoint
    if config.resume:
        checkpoint = resolve_checkpoint(config.resume)
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
        print(f"Resuming from {checkpoint}.")
        return checkpoint
    if checkpoint_candidates(output):
        raise ValueError(
            f"{output} already holds a training run. Pass --resume to continue it, or choose another --output."
        )
    return None


def _last_checkpoint(output: Path) -> Path | None:
    """The checkpoint a plain ``--resume`` starts from (``last``, always a verified one), as a path under ``output``."""
    candidates = checkpoint_candidates(output)
    return output / "checkpoints" / candidates[0].name if candidates else None


def _interrupted(output: Path, context: DistributedContext) -> TrainingInterrupted:
    """What Ctrl-C kept, and how to continue, as one line."""
    checkpoint = _last_checkpoint(output)
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


#: Options that may change when a run is resumed; everything else comes from the run itself.
RESUMABLE_OPTIONS = ("epochs", "workers", "device", "output", "resume", "eval_batch_size", "export")


def _resumed_config(config: FinetuneConfig, recorded: dict[str, Any], context: DistributedContext) -> FinetuneConfig:
    """The configuration of the run being resumed, with only :data:`RESUMABLE_OPTIONS` taken from ``config``.

    Other options given differently on the command line are ignored, with a note: a resumed run
    trains the model it started on the data it started with.
    """
    if not recorded:
        raise CheckpointError("The checkpoint has no run_config.json, so the run it belongs to cannot be resumed.")
    recorded = dict(recorded)
    data = DataSettings(**recorded.pop("data"))
    kept = {name: value for name, value in recorded.items() if name not in RESUMABLE_OPTIONS}
    resumed = FinetuneConfig(data=data, **{**kept, "lr_steps": tuple(kept.get("lr_steps", ()))})
    resumed = dataclasses.replace(resumed, **{name: getattr(config, name) for name in RESUMABLE_OPTIONS})
    comparable = dataclasses.replace(resumed, data=dataclasses.replace(resumed.data, val_split_sha256=None))
    given, running, defaults = _jsonable(config), _jsonable(comparable), _jsonable(FinetuneConfig())
    ignored = [name for name in given if given[name] != defaults[name] and given[name] != running[name]]
    if ignored and context.is_main:
        print(f"Resuming with the run's own settings; ignoring the differing option(s): {', '.join(ignored)}")
    return resumed


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


def _jsonable(config: FinetuneConfig) -> dict[str, Any]:
    return json.loads(json.dumps(dataclasses.asdict(config), default=list))
