"""``wnlb-zoo compare``: fine-tune several backbones on one recipe over seeds (and a data axis), then tabulate and plot.

Examples::

    wnlb-zoo compare scripts/compare/synthetic-dark.json            # the CPU study of docs/results.md
    wnlb-zoo compare study.json --dry-run                            # list the cells and which are done
    wnlb-zoo compare study.json --set epochs=1 --output runs/quick  # any finetune option, as JSON
    wnlb-zoo compare study.json --devices cuda:0 cuda:1 cuda:2      # one cell per GPU at a time

A study file is a JSON object::

    {
      "description": "what it asks, and why this design",
      "recipe": "synthetic-cpu-demo",                 # optional: a finetune --config recipe (path or bundled name)
      "finetune": {"epochs": 3, "synthetic_size": 96},  # optional: finetune options over the recipe
      "configurations": [
        {"label": "resnet18", "backbone": "resnet18"},
        {"label": "wnlb", "backbone": "wnlb_resnet18", "backbone_kwargs": {"wnlb_stages": [3, 4]}}
      ],
      "baseline": "resnet18",                         # optional: default the first configuration
      "seeds": [0, 1, 2],
      "axis": {"option": "synthetic_dark_ratio", "values": [[2, 4], [10, 100]], "label": "dark ratio"},
      "output": "runs/compare"
    }

Options are named as in recipes (``finetune`` options with underscores). Every cell runs the same
recipe but for its backbone, its seed and its point of the axis. Results go to OUTPUT:
``results.jsonl``, ``summary.md``, ``summary.csv``, ``ap_by_point.png``, ``gain_vs_cost.png``, and
each cell's run in ``cells/``. A killed comparison continues where it stopped when run again;
rerunning a finished one only rewrites the report.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from ..compare import Configuration, DataAxis, Study, StudyIncompleteError, cell_statuses, run_study
from ..compare.study import CELL_OPTIONS
from ..models import check_model_name
from . import finetune
from .config_file import load_recipe, option_names, read_json_object

STUDY_KEYS = ("description", "recipe", "finetune", "configurations", "baseline", "seeds", "axis", "output")
DEFAULT_OUTPUT = "runs/compare"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="compare backbones on one recipe over seeds: results.jsonl, summary table, plots",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("study", help="study file (JSON; see above)")
    parser.add_argument("--output", help=f"comparison folder (default: the study's 'output', else {DEFAULT_OUTPUT})")
    parser.add_argument("--seeds", type=int, nargs="+", help="seeds instead of the study's")
    parser.add_argument(
        "--set",
        dest="overrides",
        metavar="OPTION=VALUE",
        action="append",
        default=[],
        help="a finetune option over the study's, VALUE as JSON (or a plain string), e.g. --set epochs=1",
    )
    parser.add_argument(
        "--devices", nargs="+", help="run one cell on each of these devices at a time (default: the recipe's)"
    )
    parser.add_argument("--dry-run", action="store_true", help="list the cells and their state, run nothing")
    parser.set_defaults(handler=run_compare)


def run_compare(args: argparse.Namespace) -> int:
    study, output = load_study(args.study, args.overrides, args.seeds, args.output)
    if args.dry_run:
        for status in cell_statuses(study, output):
            print(f"{status.state:<9} {status.cell.key}")
        return 0
    command = ["wnlb-zoo", "compare", args.study, "--output", str(output)]
    command += [f"--set={item}" for item in args.overrides]
    command += ["--seeds", *map(str, args.seeds)] if args.seeds else []
    command += ["--devices", *args.devices] if args.devices else []
    try:
        run_study(study, output, devices=args.devices or (None,), command=command)
    except StudyIncompleteError as error:
        print(f"wnlb-zoo compare: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        rerun = shlex.join(["wnlb-zoo", "compare", args.study, "--output", str(output)])
        raise KeyboardInterrupt(f"interrupted; finished cells are kept. Continue with: {rerun}") from None
    print(f"Results: {output / 'results.jsonl'}, {output / 'summary.md'}, plots in {output}")
    return 0


def load_study(
    path: str, overrides: list[str] = (), seeds: list[int] | None = None, output: str | None = None
) -> tuple[Study, Path]:
    """The study a file describes, with command-line ``overrides`` (``OPTION=VALUE``), and its output folder."""
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"No study file {path}.")
    spec = read_json_object(file, "Study file")
    unknown = sorted(spec.keys() - set(STUDY_KEYS))
    if unknown:
        raise ValueError(f"Study file {path} has unknown key(s) {unknown}; keys are {list(STUDY_KEYS)}.")
    if not isinstance(spec.get("configurations"), list) or not spec["configurations"]:
        raise ValueError(f"Study file {path} needs 'configurations': a list of {{label, backbone, backbone_kwargs}}.")
    options = dict(spec.get("finetune", {}))
    options.update(dict(_override(item) for item in overrides))
    recipe = spec.get("recipe")
    if recipe is not None and (file.parent / recipe).is_file():
        recipe = str(file.parent / recipe)  # a recipe beside the study file
    seeds = seeds or spec.get("seeds", [0])
    if not isinstance(seeds, list) or not all(isinstance(seed, int) for seed in seeds):
        raise ValueError(f"Study file {path}: 'seeds' is a list of whole numbers, got {seeds!r}.")
    configurations = tuple(_configuration(item, path) for item in spec["configurations"])
    for configuration in configurations:  # a typo costs seconds, also in a dry run
        check_model_name(configuration.backbone)
    study = Study(
        base=base_recipe(recipe, options),
        configurations=configurations,
        seeds=tuple(seeds),
        axis=_axis(spec.get("axis"), path),
        baseline=spec.get("baseline"),
    )
    return study, Path(output or spec.get("output") or DEFAULT_OUTPUT)


def base_recipe(recipe: str | None, options: dict[str, Any]) -> finetune.FinetuneConfig:
    """The fine-tuning recipe ``wnlb-zoo finetune --config RECIPE`` with ``options`` as flags would run."""
    parser = argparse.ArgumentParser(prog="wnlb-zoo")
    subparsers = parser.add_subparsers(dest="command")
    finetune.register(subparsers)
    finetune_parser = subparsers.choices["finetune"]
    known = option_names(finetune_parser)
    refused = sorted(options.keys() & set(CELL_OPTIONS))
    if refused:
        raise ValueError(
            f"The study sets {refused} itself (each configuration's backbone and kwargs, each seed, each cell's "
            "folder): give them as configurations, seeds and --output instead."
        )
    unknown = sorted(options.keys() - known)
    if unknown:
        raise ValueError(f"Unknown finetune option(s) {unknown}; options are {sorted(known)}.")
    defaults = load_recipe(recipe, finetune_parser) if recipe else {}
    finetune_parser.set_defaults(**{**defaults, **options})
    return finetune.config_from_args(parser.parse_args(["finetune"]))


def _configuration(item: Any, path: str) -> Configuration:
    fields = {"label", "backbone", "backbone_kwargs"}
    if (
        not isinstance(item, dict)
        or not {"label", "backbone"} <= item.keys()
        or item.keys() - fields
        or not isinstance(item.get("backbone_kwargs", {}), dict)
    ):
        raise ValueError(
            f"Study file {path}: each configuration is {{label, backbone, backbone_kwargs (an object)}}, got {item}."
        )
    return Configuration(str(item["label"]), item["backbone"], dict(item.get("backbone_kwargs", {})))


def _axis(item: Any, path: str) -> DataAxis | None:
    if item is None:
        return None
    if (
        not isinstance(item, dict)
        or not {"option", "values"} <= item.keys()
        or item.keys() - {"option", "values", "label"}
        or not isinstance(item["values"], list)
    ):
        raise ValueError(f"Study file {path}: 'axis' is {{option, values (a list), label}}, got {item}.")
    return DataAxis(item["option"], tuple(item["values"]), item.get("label"))


def _override(item: str) -> tuple[str, Any]:
    name, separator, text = item.partition("=")
    if not separator or not name:
        raise ValueError(f"--set takes OPTION=VALUE, got {item!r}.")
    try:
        return name.replace("-", "_"), json.loads(text)
    except json.JSONDecodeError:
        return name.replace("-", "_"), text
