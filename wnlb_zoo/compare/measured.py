"""Measured AP of a variant from comparisons: what the variants page and ``wnlb-zoo info`` show.

A comparison folder (what ``wnlb-zoo compare`` writes: ``study.json`` and ``results.jsonl``)
measures every configuration it ran. A configuration measures a registered variant only as it
is named: its backbone is the variant and it sets no ``backbone_kwargs`` (kwargs build a
different network). For each such variant and comparison, a :class:`Measurement` holds where
the numbers come from (data set, recipe, seeds, device, date, command) and the AP at each point
of the comparison's data axis, with the paired gain over the comparison's baseline: the same
figures as the comparison's own summary table, as torchvision's weights carry their metrics.

The comparisons published with the package are the folders of ``docs/results/`` (installed as
``wnlb_zoo/results/``, their ``study.json`` and ``results.jsonl`` only): :func:`published_results`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..engine.finetune_config import DEFAULT_LR, REFERENCE_BATCH
from .runner import RESULTS_FILE, STUDY_FILE, read_results
from .statistics import PairedDifference, Spread
from .study import point_text
from .summary import AP_KINDS, SummaryRow, gain_text, spread_text, summarize


@dataclass(frozen=True)
class MeasuredPoint:
    """One variant at one point of a comparison's data axis (``condition`` None without an axis); AP in %."""

    condition: str | None
    seeds: tuple[int, ...]
    ap: dict[str, Spread | None]
    gain: dict[str, PairedDifference | None]

    def cells(self) -> dict[str, str]:
        """The point's row of a measurement table: condition, seeds, box and mask AP, and their gains."""
        cells = {"Condition": self.condition or "-", "Seeds": str(len(self.seeds))}
        cells.update({f"{name.capitalize()} AP": spread_text(self.ap[name]) for name, _ in AP_KINDS})
        cells.update({f"{name.capitalize()} AP gain [95% CI]": gain_text(self.gain[name]) for name, _ in AP_KINDS})
        return cells


@dataclass(frozen=True)
class Measurement:
    """What one comparison measured of one variant.

    Attributes:
        variant: The registered model measured (the configuration's backbone).
        label: The configuration's label in the comparison.
        source: The comparison folder.
        baseline: The label the gains are paired differences to.
        dataset, recipe: The data and training recipe every configuration of the comparison ran.
        device, date: Where and when (the first day a cell of the variant finished, ``YYYY-MM-DD``).
        command: The command that ran the comparison.
    """

    variant: str
    label: str
    source: Path
    baseline: str
    dataset: str
    recipe: str
    device: str
    date: str
    command: str
    points: tuple[MeasuredPoint, ...]

    def provenance(self) -> str:
        """One line: source, data, recipe, device, date and command (what the AP table is measured on)."""
        return (
            f"{source_label(self.source)}: {self.dataset}; {self.recipe}; {self.device}, {self.date}; "
            f"`{self.command}`. Gain: paired difference to {self.baseline} over the seeds."
        )

    def table(self) -> tuple[list[str], list[list[str]]]:
        """Headers and rows of the AP table: one row per point of the data axis."""
        cells = [point.cells() for point in self.points]
        return list(cells[0]), [list(row.values()) for row in cells]


def published_results() -> list[Path]:
    """The comparison folders published with the package (``wnlb_zoo/results/``, else ``docs/results/``)."""
    return sorted(folder for folder in _published_root().glob("*") if (folder / RESULTS_FILE).is_file())


def source_label(folder: Path) -> str:
    """How a comparison folder is named to a reader: ``docs/results/NAME`` for a published one, else its path."""
    if folder.resolve().parent == _published_root().resolve():
        return f"docs/results/{folder.name}"
    return str(folder)


def _published_root() -> Path:
    package = Path(__file__).resolve().parents[1]
    installed = package / "results"
    return installed if installed.is_dir() else package.parent / "docs" / "results"


def read_measurements(folder: str | Path, variants: Iterable[str]) -> list[Measurement]:
    """The measurements of ``variants`` in the comparison ``folder`` (or its ``results.jsonl``)."""
    folder = Path(folder)
    if folder.name == RESULTS_FILE:
        folder = folder.parent
    missing = [name for name in (STUDY_FILE, RESULTS_FILE) if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{folder} is not a comparison folder: {' and '.join(missing)} missing. Give the --output folder of "
            "a `wnlb-zoo compare` run (it holds study.json and results.jsonl)."
        )
    study = json.loads((folder / STUDY_FILE).read_text())
    records = read_results(folder / RESULTS_FILE)
    wanted = set(variants)
    measured = {
        configuration["label"]: configuration["backbone"]
        for configuration in study["configurations"]
        if configuration["backbone"] in wanted and not configuration.get("backbone_kwargs")
    }
    axis = study["axis"] or {}
    rows = summarize(records, study["baseline"], list(measured))
    measurements = []
    for label, variant in measured.items():
        points = [row for row in rows if row.label == label]
        cells = [record for record in records if record["label"] == label]
        if points:
            measurements.append(_measurement(variant, label, folder, study["baseline"], axis, points, cells))
    return measurements


def measurements_by_variant(folders: Sequence[str | Path], variants: Iterable[str]) -> dict[str, list[Measurement]]:
    """Every measurement of ``variants`` in ``folders``, by variant (a variant measured nowhere is absent)."""
    variants = list(variants)
    found: dict[str, list[Measurement]] = {}
    for folder in folders:
        for measurement in read_measurements(folder, variants):
            found.setdefault(measurement.variant, []).append(measurement)
    return found


def describe_dataset(data: dict[str, Any], varied: str | None = None) -> str:
    """The data a recipe trains and evaluates on, in words, from its ``data`` settings.

    ``varied``: the option the comparison's axis varies, left out here (each point names its value).
    """
    kind = data["dataset"]
    if kind == "synthetic":
        classes = data["synthetic_classes"]
        ratio = "" if varied == "synthetic_dark_ratio" else ", dark ratio " + point_text(data["synthetic_dark_ratio"])
        return (
            f"synthetic dark scenes ({data['synthetic_size']} px, {classes} class{'es' if classes != 1 else ''}, "
            f"{data['synthetic_train']} train / {data['synthetic_val']} val{ratio})"
        )
    darken = data.get("darken", "none")
    darkened = "" if darken == "none" or varied == "darken" else f", darkened ({darken})"
    if kind == "lis":
        return f"LIS {data['variant']}{darkened}"
    if kind == "pennfudan":
        return f"Penn-Fudan{darkened}"
    return f"COCO-format {Path(data['train_ann'] or data['val_ann'] or '?').name}{darkened}"


def describe_recipe(config: dict[str, Any]) -> str:
    """The training recipe in words: start, length, optimiser, input size (the same for every configuration)."""
    start = "from pretrained weights" if config["pretrained"] or config["weights"] else "from scratch"
    epochs = config["epochs"]
    lr = config["lr"] if config["lr"] is not None else DEFAULT_LR[config["optimizer"]]
    return (
        f"{start}, {epochs} epoch{'s' if epochs != 1 else ''} of batch {config['batch_size']}, "
        f"{config['optimizer']} lr {lr:g} per {REFERENCE_BATCH} images ({config['schedule']}), "
        f"images {_size_text(config['min_size'], config['max_size'])}"
    )


def _measurement(
    variant: str,
    label: str,
    folder: Path,
    baseline: str,
    axis: dict[str, Any],
    rows: list[SummaryRow],
    records: list[dict[str, Any]],
) -> Measurement:
    first = records[0]
    environment = first["environment"]
    axis_title = axis.get("label") or axis.get("option")
    points = tuple(
        MeasuredPoint(
            condition=None if axis_title is None else f"{axis_title} {point_text(row.point)}",
            seeds=row.seeds,
            ap=row.ap,
            gain=row.gain,
        )
        for row in rows
    )
    return Measurement(
        variant=variant,
        label=label,
        source=folder,
        baseline=baseline,
        dataset=describe_dataset(first["config"]["data"], axis.get("option")),
        recipe=describe_recipe(first["config"]),
        device=environment["device"],
        date=min(record["environment"]["date"] for record in records)[:10],
        command=first["command"],
        points=points,
    )


def _size_text(min_size: int, max_size: int) -> str:
    """``'64 px'`` for a fixed size, else ``'shorter side 800, longer at most 1333 px'``."""
    return f"{min_size} px" if min_size == max_size else f"shorter side {min_size}, longer at most {max_size} px"
