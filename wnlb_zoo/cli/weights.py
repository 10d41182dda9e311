"""``wnlb-zoo weights ...``: list, verify, export, publish and pull published wNLB weights.

* ``list [--json]``: the manifest records, and where each weight is on this machine; invalid
  record files (or a missing manifest directory) are listed as such;
* ``verify (ARCH.TAG | --all)``: the sha256 of every local copy against its record; an invalid
  record fails the check;
* ``export --model ARCH [--checkpoint FILE] --out DIR``: the timm hub layout, model card and (with
  ``--tag``) the manifest record;
* ``publish DIR --repo-id ORG/NAME [--dry-run]``: validate an export and upload it;
* ``pull ARCH.TAG``: put the verified file in the local mirror (``$WNLB_ZOO_WEIGHTS``).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import timm

from ..engine.export import export_training_checkpoint
from ..weights import (
    Evaluation,
    WeightInfo,
    WeightRecord,
    check_local_copies,
    export_model,
    export_state_dict,
    load_state_dict_file,
    local_copies,
    manifest_dir,
    publish_folder,
    pull_weight,
    scan_manifest,
)
from ..weights.manifest import parse_evaluation
from .output_paths import writable_directory


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "weights",
        help="list, verify, export, publish and pull weights",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="weights_command", metavar="ACTION", required=True)

    listing = commands.add_parser("list", help="manifest records and their local availability")
    listing.add_argument("--json", action="store_true", help="print the records as JSON")
    listing.set_defaults(handler=run_list)

    verify = commands.add_parser("verify", help="check the sha256 of local copies")
    target = verify.add_mutually_exclusive_group(required=True)
    target.add_argument("name", nargs="?", metavar="ARCH.TAG", help="one manifest weight")
    target.add_argument("--all", action="store_true", help="every manifest weight")
    verify.set_defaults(handler=run_verify)

    export = commands.add_parser("export", help="write a backbone in the timm hub layout")
    export.add_argument("--model", metavar="ARCH", help="architecture, e.g. wnlb_resnet50 (not with --run)")
    export.add_argument(
        "--run",
        metavar="CHECKPOINT",
        help="a wnlb-zoo finetune run (or its checkpoint dir / best / last): exports its backbone to OUT/backbone "
        "and the whole detector to OUT/detector",
    )
    export.add_argument("--checkpoint", metavar="FILE", help=".safetensors or torch state dict (default: random init)")
    export.add_argument("--checkpoint-key", metavar="KEY", help="entry of a training checkpoint holding the weights")
    export.add_argument("--prefix", default="", help="keep keys with this prefix, stripped (e.g. backbone.body.)")
    export.add_argument("--model-kwargs", type=_json, default={}, metavar="JSON", help='e.g. {"wnlb_stages": [2, 3]}')
    export.add_argument("--tag", help="pretrained tag; writes the manifest record (needs the options below)")
    export.add_argument("--repo-id", metavar="ORG/NAME", help="hub repo the weight is published to")
    export.add_argument("--dataset", action="append", default=[], help="training data (repeat for several)")
    export.add_argument("--recipe", default="", help="the exact training command")
    export.add_argument(
        "--metrics",
        type=_json,
        default=[],
        metavar="JSON",
        help="evaluation object(s): detector, dataset, split, box_ap, box_ap50, box_ap75 [, mask_ap, mask_ap50, "
        "mask_ap75], AP in percent",
    )
    export.add_argument("--license", help="licence of the weights, e.g. apache-2.0")
    export.add_argument("--base-weights", help="weights training started from, e.g. timm/resnet50.a1_in1k")
    export.add_argument("--notes", default="", help="free text for the model card and record")
    export.add_argument("--date", help="YYYY-MM-DD (default: today)")
    export.add_argument("--out", required=True, metavar="DIR", help="new or empty output directory")
    export.set_defaults(handler=run_export)

    publish = commands.add_parser("publish", help="upload an exported folder to the Hugging Face hub")
    publish.add_argument("folder", metavar="DIR")
    publish.add_argument("--repo-id", required=True, metavar="ORG/NAME")
    publish.add_argument("--dry-run", action="store_true", help="validate and print the upload, touch no network")
    publish.add_argument("--private", action="store_true", help="create the repo private")
    publish.add_argument("--commit-message")
    publish.set_defaults(handler=run_publish)

    pull = commands.add_parser("pull", help="put a published weight in the local mirror")
    pull.add_argument("name", metavar="ARCH.TAG")
    pull.add_argument("--mirror", metavar="DIR", help="mirror directory (default: $WNLB_ZOO_WEIGHTS)")
    pull.set_defaults(handler=run_pull)


def run_list(args: argparse.Namespace) -> int:
    scan = scan_manifest()
    records = scan.records
    if args.json:
        entries = [
            {
                "name": name,
                **record.to_json(),
                "local": [{"source": c.source, "path": str(c.path)} for c in local_copies(record)],
            }
            for name, record in records.items()
        ]
        entries += [
            {"name": entry.path.stem, "file": str(entry.path), "invalid": entry.problem} for entry in scan.invalid
        ]
        print(json.dumps(entries, indent=2))
        return 0
    for entry in scan.invalid:
        print(f"INVALID   {entry.problem}")
    if not records:
        print(f"No published weights: the manifest {manifest_dir()} has no valid records.")
        return 0
    rows = [("weight", "hub repo", "size", "first result", "local")]
    rows += [
        (
            name,
            record.repo_id,
            f"{record.size / 2**20:.1f} MiB",
            _headline(record),
            "+".join(c.source for c in local_copies(record)) or "-",
        )
        for name, record in records.items()
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return 0


def run_verify(args: argparse.Namespace) -> int:
    scan = scan_manifest()
    records, invalid = scan.records, scan.invalid
    if args.name is not None:
        invalid = tuple(entry for entry in invalid if entry.path.name == f"{args.name}.json")
        if args.name not in records and not invalid:
            raise ValueError(f"No manifest record '{args.name}' in {manifest_dir()}: see `wnlb-zoo weights list`.")
        records = {args.name: records[args.name]} if args.name in records else {}
    for entry in invalid:
        print(f"INVALID   {entry.problem}")
    if not records and not invalid:
        print(f"Nothing to verify: the manifest {manifest_dir()} has no records.")
        return 0
    failed = checked = 0
    for name, record in records.items():
        checks = check_local_copies(record)
        if not checks:
            print(f"absent    {name}  (no mirror or cache copy; `wnlb-zoo weights pull {name}`)")
        for check in checks:
            checked += 1
            if check.ok:
                print(f"ok        {name}  {check.copy.source}  {check.copy.path}")
            else:
                failed += 1
                print(
                    f"MISMATCH  {name}  {check.copy.source}  {check.copy.path}\n"
                    f"          expected {check.expected_sha256}\n          actual   {check.actual_sha256}"
                )
    if failed:
        print(f"{failed} of {checked} local file(s) do not match the manifest: delete and pull them again.")
    if invalid:
        print(f"{len(invalid)} invalid manifest entry(ies): fix or remove them (the rest of the manifest is in use).")
    if failed or invalid:
        return 1
    if args.name is not None and not checked:
        return 1
    return 0


def run_export(args: argparse.Namespace) -> int:
    writable_directory(args.out, "--out")  # before any checkpoint is read or model built
    info = WeightInfo(
        tag=args.tag,
        repo_id=args.repo_id,
        license=args.license,
        base_weights=args.base_weights,
        training_data=tuple(args.dataset),
        recipe=args.recipe,
        metrics=_evaluations(args.metrics),
        notes=args.notes,
        date=args.date,
    )
    if args.run:
        out = export_training_checkpoint(args.run, args.out, info=info)
        print(f"Exported the backbone to {out / 'backbone'} and the detector to {out / 'detector'}")
        return 0
    if not args.model:
        raise ValueError("Name the architecture with --model ARCH, or export a fine-tuning run with --run RUN.")
    if args.checkpoint:
        state = load_state_dict_file(args.checkpoint, key=args.checkpoint_key, prefix=args.prefix)
        exported = export_state_dict(state, args.model, args.out, info=info, model_kwargs=args.model_kwargs)
    else:
        print(f"warning: no --checkpoint: exporting randomly initialised {args.model} weights", file=sys.stderr)
        model = timm.create_model(args.model, pretrained=False, **args.model_kwargs)
        exported = export_model(model, args.out, info=info, model_args=args.model_kwargs)
    print(f"Exported {args.model} to {exported.directory}:")
    for path in (exported.weights, exported.config, exported.card, exported.record_path):
        if path is not None:
            print(f"  {path.name}")
    if exported.record is None:
        print("No manifest record (no --tag): the folder loads with timm.create_model('local-dir:DIR').")
    else:
        print(
            f"Next: wnlb-zoo weights publish {exported.directory} --repo-id {exported.record.repo_id} --dry-run, "
            f"then add {exported.record_path.name} to weights_manifest/."
        )
    return 0


def run_publish(args: argparse.Namespace) -> int:
    plan = publish_folder(
        args.folder,
        args.repo_id,
        dry_run=args.dry_run,
        private=args.private or None,
        commit_message=args.commit_message,
    )
    print(plan.describe())
    if args.dry_run:
        print("Dry run: nothing was uploaded.")
    else:
        print(f"Uploaded to https://huggingface.co/{plan.repo_id}")
    return 0


def run_pull(args: argparse.Namespace) -> int:
    path = pull_weight(args.name, mirror=args.mirror)
    print(f"{args.name}: {path} (sha256 verified)")
    return 0


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"not valid JSON ({error}): {text!r}") from error


def _evaluations(value: Any) -> tuple[Evaluation, ...]:
    items = value if isinstance(value, list) else [value]
    return tuple(parse_evaluation(item, f"metrics[{index}]", "--metrics") for index, item in enumerate(items))


def _headline(record: WeightRecord) -> str:
    first = record.metrics[0]
    mask = f", mask AP {first.mask_ap:.1f}" if first.mask_ap is not None else ""
    return f"box AP {first.box_ap:.1f}{mask} ({first.dataset} {first.split})"
