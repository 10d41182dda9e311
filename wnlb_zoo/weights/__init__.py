"""Pretrained weights: the manifest, locating and verifying files, exporting and publishing them.

* :mod:`.manifest`: the directory of records, one JSON file per published weight; the source of the
  trained timm tags; :mod:`.records` (the record), :mod:`.record_schema` (its validation),
  :mod:`.timm_cfg` (its timm pretrained cfg);
* :mod:`.resolve` + :mod:`.integrity`: ``pretrained=True`` offline first, sha256-checked;
* :mod:`.hub`: the Hugging Face cache and hub, with a bounded wait for a hub that does not answer;
* :mod:`.local` + :mod:`.pull`: local copies (mirror, HF cache) and filling the mirror;
* :mod:`.state_dict_file`: reading weight files, with errors that name the file;
  :mod:`.state_dict_keys`: the strict key check of a state dict against its model;
* :mod:`.export` + :mod:`.model_card`: the timm hub layout of a trained backbone;
* :mod:`.publish`: uploading an export to the Hugging Face hub.
"""

from .export import ExportedWeights, WeightInfo, export_model, export_state_dict
from .integrity import WeightIntegrityError, sha256_file, verify_file
from .local import CopyCheck, LocalCopy, check_local_copies, local_copies
from .manifest import (
    MANIFEST_ENV,
    Evaluation,
    InvalidEntry,
    ManifestError,
    ManifestScan,
    ManifestWarning,
    WeightRecord,
    find_record,
    load_manifest,
    manifest_cfgs,
    manifest_dir,
    read_record,
    scan_manifest,
    write_record,
)
from .model_card import CardFacts, render_model_card
from .publish import UploadFile, UploadPlan, plan_upload, publish_folder
from .pull import pull_weight
from .resolve import MIRROR_ENV, PretrainedWeightsNotFound, mirror_path, resolve_pretrained_file
from .state_dict_file import StateDictFileError, check_state_dict_file, load_state_dict_file

__all__ = [
    "MANIFEST_ENV",
    "MIRROR_ENV",
    "CardFacts",
    "CopyCheck",
    "Evaluation",
    "ExportedWeights",
    "InvalidEntry",
    "LocalCopy",
    "ManifestError",
    "ManifestScan",
    "ManifestWarning",
    "PretrainedWeightsNotFound",
    "StateDictFileError",
    "UploadFile",
    "UploadPlan",
    "WeightInfo",
    "WeightIntegrityError",
    "WeightRecord",
    "check_local_copies",
    "check_state_dict_file",
    "export_model",
    "export_state_dict",
    "find_record",
    "load_manifest",
    "load_state_dict_file",
    "local_copies",
    "manifest_cfgs",
    "manifest_dir",
    "mirror_path",
    "plan_upload",
    "publish_folder",
    "pull_weight",
    "read_record",
    "render_model_card",
    "resolve_pretrained_file",
    "scan_manifest",
    "sha256_file",
    "verify_file",
    "write_record",
]
