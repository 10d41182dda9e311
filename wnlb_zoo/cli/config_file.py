"""``--config RECIPE``: a command's defaults read from a JSON file, overridden by explicit flags.

A recipe is a JSON object whose keys are the command's option names with underscores
(``"batch_size": 4``), holding values as the options would parse them (``"backbone_kwargs":
{"wnlb_stages": [2, 3, 4]}``), plus an optional ``"description"``. ``RECIPE`` is a path, or the
name of a recipe shipped in :mod:`wnlb_zoo.recipes` (``wnlb-zoo finetune --config synthetic-cpu-demo``).
Flags given on the command line win over the recipe, wherever they stand.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

RECIPES_DIR = Path(__file__).resolve().parents[1] / "recipes"


def add_config_option(parser: argparse.ArgumentParser) -> None:
    """Give ``parser`` a ``--config`` option (read by :func:`reparse_with_config`)."""
    names = ", ".join(bundled_recipes()) or "none"
    help_text = f"JSON file of option defaults, or a bundled recipe: {names}"
    parser.add_argument("--config", metavar="RECIPE", help=help_text)
    parser.set_defaults(command_parser=parser)


def bundled_recipes() -> list[str]:
    """Names of the recipes shipped with the package."""
    return sorted(path.stem for path in RECIPES_DIR.glob("*.json"))


def read_json_object(path: Path, kind: str) -> dict[str, Any]:
    """The JSON object in the file ``path``, or an error naming the ``kind`` of file ("Recipe", "Study file")."""
    try:
        values = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{kind} {path} is not valid JSON: {error}") from None
    if not isinstance(values, dict):
        raise ValueError(f"{kind} {path} must hold a JSON object.")
    return values


def option_names(parser: argparse.ArgumentParser) -> set[str]:
    """The names a recipe may set: ``parser``'s option destinations, not the parser's own bookkeeping."""
    return {action.dest for action in parser._actions} - {"help", "config", "command_parser", "handler"}


def load_recipe(recipe: str, parser: argparse.ArgumentParser) -> dict[str, Any]:
    """Read ``recipe`` (path or bundled name) and check every key is an option of ``parser``."""
    path = Path(recipe)
    if not path.is_file():
        path = RECIPES_DIR / f"{recipe}.json"
    if not path.is_file():
        raise FileNotFoundError(f"No recipe {recipe!r}: not a file, nor one of the bundled {bundled_recipes()}.")
    values = read_json_object(path, "Recipe")
    values.pop("description", None)
    options = option_names(parser)
    unknown = sorted(values.keys() - options)
    if unknown:
        raise ValueError(f"Recipe {path} has unknown option(s) {unknown}; options are {sorted(options)}.")
    return values


def reparse_with_config(
    parser: argparse.ArgumentParser, args: argparse.Namespace, argv: Sequence[str] | None
) -> argparse.Namespace:
    """Parse ``argv`` again with the recipe named by ``args.config`` as the command's defaults."""
    args.command_parser.set_defaults(**load_recipe(args.config, args.command_parser))
    return parser.parse_args(argv)
