"""``wnlb-zoo list [--pretrained] [--json]``: the wNLB variants, or their pretrained weights.

Without ``--pretrained``: one row per variant (``timm.list_models('wnlb_*')``) with its base
network, wNLB blocks, parameters, GMACs and feature pyramid. With ``--pretrained``: one row per
weight (``timm.list_pretrained('wnlb_*')``) with its training data, low-light AP, sha256 and
licence. These are the facts of the documentation's variants page, from the same source
(:mod:`wnlb_zoo.models.catalogue`, shown through :mod:`wnlb_zoo.cli.catalogue_cells`).
``wnlb-zoo info MODEL`` shows one variant in full.
"""

from __future__ import annotations

import argparse
import json

from ..models.catalogue import MAC_COUNTER, WeightFacts, variant_names, weight_facts, zoo_facts
from .catalogue_cells import variant_cells, variant_json, weight_cells, weight_json, weight_label
from .text_table import format_table


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "list",
        help="list the wNLB variants or their pretrained weights",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--pretrained", action="store_true", help="one row per pretrained weight (ARCH.TAG)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.pretrained:
        _print_weights(args.json)
    else:
        _print_variants(args.json)
    return 0


def _print_variants(as_json: bool) -> None:
    facts = zoo_facts()
    if as_json:
        print(json.dumps([variant_json(variant) for variant in facts], indent=2))
        return
    headers = ["Model", *variant_cells(facts[0]), "Default weights"]
    rows = [[variant.name, *variant_cells(variant).values(), _default_tag(variant.weights)] for variant in facts]
    print(format_table(headers, rows))
    print(f"\nMACs of one image through the features_only backbone, attention included ({MAC_COUNTER}).")
    print("wnlb-zoo info MODEL: one variant in full; wnlb-zoo list --pretrained: the weights.")


def _print_weights(as_json: bool) -> None:
    weights = [weight for name in variant_names() for weight in weight_facts(name)]
    if as_json:
        print(json.dumps([weight_json(weight) for weight in weights], indent=2))
        return
    headers = ["Weights", *weight_cells(weights[0]), "Source"]
    rows = [[weight_label(weight), *weight_cells(weight).values(), weight.source] for weight in weights]
    print(format_table(headers, rows))
    if not any(weight.published for weight in weights):
        print(
            "\nNo low-light weights are published yet: these tags start the backbone from timm's ImageNet weights "
            "(wNLB blocks at their identity initialisation). Box / mask AP are low-light results of published weights."
        )


def _default_tag(weights: tuple[WeightFacts, ...]) -> str:
    return next((weight.tag for weight in weights if weight.default), "-")
