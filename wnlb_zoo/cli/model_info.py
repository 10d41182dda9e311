"""``wnlb-zoo info MODEL[.TAG]``: everything about one wNLB variant, and how to load it.

Prints the variant's row of the documentation's variants table (base network, wNLB stages and mode,
parameters, GMACs at 400x600 and 800x1333 with the attention counted, feature channels and strides),
its wNLB blocks one by one, its pretrained weights (training data, low-light AP, sha256, licence,
source), the AP measured of it by comparisons (data set, recipe, seeds, device, date; the published
ones of docs/results.md, and any --results folder of your own `wnlb-zoo compare` runs; nothing
where it was not measured) and the code that loads it as a backbone and in a Mask R-CNN. An
unknown name is answered with the closest existing ones.
"""

from __future__ import annotations

import argparse
import difflib
import textwrap
from collections.abc import Sequence

from ..compare.measured import Measurement, measurements_by_variant, published_results
from ..models.catalogue import MAC_COUNTER, VariantFacts, variant_facts, variant_names, weight_facts, weight_names
from .catalogue_cells import block_cells, loading_code, variant_cells, weight_cells, weight_label
from .text_table import format_table


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "info",
        help="show one wNLB variant in full and how to load it",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", metavar="MODEL[.TAG]", help="a variant (wnlb_resnet50) or one of its weights")
    parser.add_argument(
        "--results",
        metavar="FOLDER",
        action="append",
        default=[],
        help="a `wnlb-zoo compare` output folder to show measured AP from as well (repeatable)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    architecture, _, tag = args.model.partition(".")
    if architecture not in variant_names():
        raise ValueError(unknown_name_message(args.model, variant_names() + weight_names()))
    weights = [weight.name for weight in weight_facts(architecture)]
    if tag and args.model not in weights:
        raise ValueError(unknown_name_message(args.model, weights))
    measured = measurements_by_variant([*published_results(), *args.results], [architecture])
    print(render_info(variant_facts(architecture), tag or None, measured.get(architecture, [])))
    return 0


def unknown_name_message(name: str, candidates: list[str]) -> str:
    """Say that ``name`` is unknown; suggest the closest ``candidates`` (difflib), else list the untagged ones."""
    close = difflib.get_close_matches(name, candidates, n=3, cutoff=0.6)
    if close:
        return f"Unknown model {name!r}. Did you mean: {', '.join(close)}? (wnlb-zoo list shows them all)"
    untagged = [candidate for candidate in candidates if "." not in candidate] or candidates
    return f"Unknown model {name!r}. Known: {', '.join(sorted(untagged))}."


def render_info(facts: VariantFacts, tag: str | None = None, measurements: Sequence[Measurement] = ()) -> str:
    """The text ``wnlb-zoo info`` prints for a variant (``tag``: the weight to load, else the default).

    ``measurements``: AP measured of the variant by comparisons, shown after the weights (no
    section without any).
    """
    lines = [f"{facts.name}: {facts.description}", ""]
    cells = variant_cells(facts)
    width = max(len(header) for header in cells)
    lines += [f"{header:<{width}}  {value}" for header, value in cells.items()]
    lines += ["", f"MACs: one image, attention products included, counted by {MAC_COUNTER}.", "", "wNLB blocks:"]
    if facts.blocks:
        rows = [block_cells(block) for block in facts.blocks]
        lines.append(format_table(list(rows[0]), [list(row.values()) for row in rows]))
    else:
        lines.append("none")
    lines += ["", "Pretrained weights:"]
    if facts.weights:
        headers = ["Weights", *weight_cells(facts.weights[0]), "Source"]
        rows = [[weight_label(weight), *weight_cells(weight).values(), weight.source] for weight in facts.weights]
        lines.append(format_table(headers, rows))
    else:
        lines.append("none")
    if not any(weight.published for weight in facts.weights):
        lines.append("No low-light weights of this variant are published yet; the tags start from ImageNet weights.")
    for measurement in measurements:
        headers, rows = measurement.table()
        lines += ["", *textwrap.wrap(f"Measured AP (%, mean ± std over seeds) from {measurement.provenance()}", 110)]
        lines.append(format_table(headers, rows))
    name = f"{facts.name}.{tag}" if tag else facts.name
    lines += ["", f"Load {name}:", "", loading_code(name, facts.out_indices)]
    return "\n".join(lines).rstrip() + "\n"
