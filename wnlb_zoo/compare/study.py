"""What a comparison runs: configurations x seeds x (optionally) the points of one data axis.

A :class:`Study` is a base fine-tuning recipe (a :class:`~wnlb_zoo.engine.FinetuneConfig`), the
backbone :class:`Configuration` s to compare on it, the seeds, and optionally a :class:`DataAxis`
(one option of the recipe, such as ``synthetic_dark_ratio``, set to each of several values). Each
combination is a :class:`Cell`: one ordinary fine-tuning run in its own folder. Everything but the
backbone, the seed and the axis option is the same recipe for every cell.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..engine import FinetuneConfig
from ..engine.data_sources import DataSettings

#: Options a comparison sets itself (per cell), so neither a configuration nor the axis may vary them.
CELL_OPTIONS = ("backbone", "backbone_kwargs", "seed", "output", "resume")
_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")


@dataclass(frozen=True)
class Configuration:
    """One backbone to compare: a short ``label`` (a folder name, the table's row), a timm name and its kwargs."""

    label: str
    backbone: str
    backbone_kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DataAxis:
    """One recipe option varied over ``values`` (e.g. ``synthetic_dark_ratio`` over ``[[2, 4], [10, 100]]``).

    ``option`` names a field of :class:`~wnlb_zoo.engine.FinetuneConfig` or of its
    :class:`~wnlb_zoo.engine.data_sources.DataSettings` (the ``finetune`` option names with
    underscores); ``label`` titles the plots' x axis (default: ``option``).
    """

    option: str
    values: tuple[Any, ...]
    label: str | None = None

    @property
    def title(self) -> str:
        return self.label or self.option


@dataclass(frozen=True)
class Cell:
    """One fine-tuning run of a study: a configuration, a seed and a point of the axis (None without one)."""

    configuration: Configuration
    seed: int
    point_index: int | None = None
    point: Any = None

    @property
    def key(self) -> str:
        """The cell's identity and folder under ``cells/``: ``label/seed-S``, or ``label/p{i}_{value}/seed-S``."""
        parts = [self.configuration.label]
        if self.point_index is not None:
            value = re.sub(r"[^A-Za-z0-9.]+", "-", json.dumps(self.point)).strip("-")
            parts.append(f"p{self.point_index}_{value}")
        parts.append(f"seed-{self.seed}")
        return "/".join(parts)


@dataclass(frozen=True)
class Study:
    """A comparison: the ``base`` recipe, the configurations, the seeds and an optional data axis.

    ``baseline`` is the label the others are compared with (default: the first configuration).
    Cells run point by point and seed by seed, every configuration in turn: the pairs the
    statistics compare are then close in time (machine load drifts alike for both) and a stopped
    study holds whole pairs.
    """

    base: FinetuneConfig
    configurations: tuple[Configuration, ...]
    seeds: tuple[int, ...] = (0,)
    axis: DataAxis | None = None
    baseline: str | None = None

    def __post_init__(self) -> None:
        labels = [configuration.label for configuration in self.configurations]
        if not labels:
            raise ValueError("A study needs at least one configuration to run.")
        bad = [label for label in labels if not _LABEL.fullmatch(label)]
        if bad:
            raise ValueError(f"Configuration labels {bad} must be letters, digits and . _ + - (a folder name).")
        if len(set(labels)) != len(labels):
            raise ValueError(f"Configuration labels must be unique, got {labels}.")
        if self.baseline is not None and self.baseline not in labels:
            raise ValueError(f"The baseline {self.baseline!r} is not one of the configurations {labels}.")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"A study needs one or more distinct seeds, got {list(self.seeds)}.")
        if self.axis is not None:
            _check_axis(self.axis)

    @property
    def baseline_label(self) -> str:
        return self.baseline or self.configurations[0].label

    def cells(self) -> list[Cell]:
        """Every cell, in the order they run."""
        points: Sequence[tuple[int | None, Any]] = (
            list(enumerate(self.axis.values)) if self.axis is not None else [(None, None)]
        )
        return [
            Cell(configuration, seed, index, point)
            for index, point in points
            for seed in self.seeds
            for configuration in self.configurations
        ]

    def cell_config(self, cell: Cell, output: str | Path) -> FinetuneConfig:
        """The fine-tuning recipe of ``cell``, writing into its folder under ``output``."""
        config = dataclasses.replace(
            self.base,
            data=dataclasses.replace(self.base.data, seed=cell.seed),  # as finetune trains it
            backbone=cell.configuration.backbone,
            backbone_kwargs=dict(cell.configuration.backbone_kwargs),
            seed=cell.seed,
            output=str(cell_folder_path(output, cell)),
            resume=None,
        )
        if self.axis is None:
            return config
        if self.axis.option in _field_names(DataSettings):
            return dataclasses.replace(config, data=dataclasses.replace(config.data, **{self.axis.option: cell.point}))
        return dataclasses.replace(config, **{self.axis.option: cell.point})


def cell_folder_path(output: str | Path, cell: Cell) -> Path:
    """Where ``cell`` runs in a comparison writing to ``output``: ``OUTPUT/cells/<key>``."""
    return Path(output) / "cells" / cell.key


def point_text(point: Any) -> str:
    """A value of the axis as a table or plot shows it: ``[10.0, 100.0]`` -> ``10-100``."""
    if isinstance(point, list | tuple):
        return "-".join(f"{value:g}" if isinstance(value, float | int) else str(value) for value in point)
    return f"{point:g}" if isinstance(point, float) else str(point)


def _field_names(kind: type) -> set[str]:
    return {item.name for item in dataclasses.fields(kind)}


def _check_axis(axis: DataAxis) -> None:
    options = (_field_names(FinetuneConfig) | _field_names(DataSettings)) - {"data", *CELL_OPTIONS}
    if axis.option not in options:
        raise ValueError(f"The axis option {axis.option!r} is not a recipe option; choose one of {sorted(options)}.")
    if not axis.values:
        raise ValueError(f"The axis {axis.option!r} needs at least one value.")
    encoded = [json.dumps(value) for value in axis.values]
    if len(set(encoded)) != len(encoded):
        raise ValueError(f"The axis {axis.option!r} lists a value twice: {list(axis.values)}.")
