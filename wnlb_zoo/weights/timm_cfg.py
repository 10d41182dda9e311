"""The timm pretrained cfg of a manifest record: how a published weight becomes a timm tag."""

from __future__ import annotations

from typing import Any

from .records import WeightRecord

PAPER_ID = "arXiv:2402.18307"


def record_cfg(record: WeightRecord) -> dict[str, Any]:
    """The timm pretrained cfg of a record: its ``pretrained_cfg`` plus the hub location and licence."""
    cfg = {key: tuple(value) if isinstance(value, list) else value for key, value in record.pretrained_cfg.items()}
    cfg.update(
        hf_hub_id=record.repo_id,
        hf_hub_filename=record.filename,
        license=record.license,
        paper_ids=PAPER_ID,
        notes=(f"Trained on {', '.join(record.training_data)}; manifest record {record.name}.json.",),
    )
    return cfg
