"""The Hugging Face model card (``README.md``) of an exported wNLB weight.

YAML front matter the hub understands (``library_name: timm``, licence, datasets, base model, tags
and a ``model-index`` with the AP metrics), then a markdown body: what the weight is, how to load it
as a ``features_only`` backbone (also offline), the metrics table, the training command, and the
citation of the paper.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from huggingface_hub import EvalResult, ModelCardData

from .records import Evaluation

CITATION = """@inproceedings{lin2025multiscale,
  title     = {Multi-Scale Denoising in the Feature Space for Low-Light Instance Segmentation},
  author    = {Lin, Joanne and Anantrasirichai, Nantheera and Bull, David},
  booktitle = {IEEE International Conference on Acoustics, Speech and Signal Processing (ICASSP)},
  year      = {2025},
  eprint    = {2402.18307},
  archivePrefix = {arXiv}
}"""

_TAGS = ["timm", "wnlb", "low-light", "image-feature-extraction", "object-detection", "instance-segmentation"]
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")
_METRIC_COLUMNS = ("box_ap", "box_ap50", "box_ap75", "mask_ap", "mask_ap50", "mask_ap75")


@dataclass(frozen=True)
class WeightInfo:
    """What an exported weight is, beyond what the model says: for its model card and manifest record.

    With ``tag`` set the export also writes a manifest record, which needs every field but
    ``base_weights`` and ``notes``: a published weight says where it came from and what it scores.
    ``date`` defaults to the day of the export.
    """

    tag: str | None = None
    repo_id: str | None = None
    license: str | None = None
    base_weights: str | None = None
    training_data: tuple[str, ...] = ()
    recipe: str = ""
    metrics: tuple[Evaluation, ...] = ()
    notes: str = ""
    date: str | None = None


@dataclass(frozen=True)
class CardFacts:
    """Everything the card states about one exported weight: what the model and the file say, plus
    the :class:`WeightInfo` given to the export.

    ``info.tag``/``info.repo_id`` are None for a local export that is not (yet) published; empty
    ``training_data``/``metrics`` are stated as not recorded / not evaluated.
    """

    architecture: str
    model_args: dict[str, Any]
    num_params: int
    out_indices: tuple[int, ...]
    sha256: str
    size: int
    info: WeightInfo = field(default_factory=WeightInfo)

    @property
    def title(self) -> str:
        return f"{self.architecture}.{self.info.tag}" if self.info.tag else self.architecture


def render_model_card(facts: CardFacts) -> str:
    """The model card text: ``---`` YAML front matter ``---`` followed by markdown."""
    return f"---\n{_front_matter(facts).to_yaml()}\n---\n\n{_body(facts)}"


def _front_matter(facts: CardFacts) -> ModelCardData:
    base = facts.info.base_weights if facts.info.base_weights and _HUB_ID.match(facts.info.base_weights) else None
    results = [
        EvalResult(
            task_type="image-segmentation" if column.startswith("mask") else "object-detection",
            dataset_type=re.sub(r"[^a-z0-9]+", "-", evaluation.dataset.lower()).strip("-"),
            dataset_name=evaluation.dataset,
            dataset_split=evaluation.split,
            metric_type=column,
            metric_value=getattr(evaluation, column),
            metric_name=f"{_column_title(column)} ({evaluation.detector})",
        )
        for evaluation in facts.info.metrics
        for column in _METRIC_COLUMNS
        if getattr(evaluation, column) is not None
    ]
    return ModelCardData(
        library_name="timm",
        license=facts.info.license or "unknown",
        datasets=list(facts.info.training_data) or None,
        base_model=base,
        tags=list(_TAGS),
        pipeline_tag="image-feature-extraction",
        metrics=sorted({result.metric_type for result in results}) or None,
        model_name=facts.title,
        eval_results=results or None,
    )


def _body(facts: CardFacts) -> str:
    sections = [
        f"# {facts.title}\n\n"
        f"A `{facts.architecture}` backbone: a timm network with a weighted non-local block (wNLB) at the end of "
        "its stages, which denoises the features at every scale for detection and instance segmentation in the "
        "dark (Lin, Anantrasirichai and Bull, ICASSP 2025, [arXiv 2402.18307](https://arxiv.org/abs/2402.18307)). "
        "The architecture is defined by the `wnlb-zoo` package; import it before creating the model."
        + (f"\n\n{facts.info.notes}" if facts.info.notes else ""),
        _details(facts),
        _usage(facts),
        _evaluation(facts),
        _training(facts),
        f"## Citation\n\n```bibtex\n{CITATION}\n```\n",
    ]
    return "\n\n".join(section.rstrip("\n") for section in sections) + "\n"


def _details(facts: CardFacts) -> str:
    rows = [
        ("Architecture", f"`{facts.architecture}`, model args `{json.dumps(facts.model_args, sort_keys=True)}`"),
        ("Parameters", f"{facts.num_params / 1e6:.2f} M"),
        ("Base weights", f"`{base}`" if (base := facts.info.base_weights) else "none recorded (trained from scratch)"),
        ("Training data", ", ".join(facts.info.training_data) or "not recorded"),
        ("Weights", f"`model.safetensors`, {facts.size:,} bytes, sha256 `{facts.sha256}`"),
        ("Licence", facts.info.license or "not stated"),
    ]
    if facts.info.date:
        rows.append(("Date", facts.info.date))
    return "## Model details\n\n" + "\n".join(f"- **{label}:** {value}" for label, value in rows)


def _usage(facts: CardFacts) -> str:
    source = f"hf-hub:{facts.info.repo_id}" if facts.info.repo_id else "local-dir:/path/to/this/folder"
    snippet = (
        "```python\n"
        "import timm\n"
        "import torch\n"
        "import wnlb_zoo  # registers the wnlb_* architectures with timm\n\n"
        f'backbone = timm.create_model("{source}", pretrained=True, features_only=True, '
        f"out_indices={facts.out_indices}).eval()\n"
        "with torch.inference_mode():\n"
        "    features = backbone(torch.rand(1, 3, 400, 600))\n"
        "print(backbone.feature_info.channels(), backbone.feature_info.reduction())\n"
        "```"
    )
    offline = ""
    if facts.info.tag:
        offline = (
            f"\n\nWith `wnlb-zoo` installed the weight is also the registered tag `{facts.title}`: "
            f'`timm.create_model("{facts.title}", pretrained=True, features_only=True)` checks the file\'s sha256 '
            "before loading it. Offline, `wnlb-zoo weights pull "
            f"{facts.title}` on a connected machine fills the local mirror (`$WNLB_ZOO_WEIGHTS`) to copy over."
        )
    return f"## Usage\n\n{snippet}{offline}"


def _evaluation(facts: CardFacts) -> str:
    if not facts.info.metrics:
        return "## Evaluation\n\nNot evaluated yet."
    header = "| detector | dataset | split | " + " | ".join(_column_title(c) for c in _METRIC_COLUMNS) + " |"
    rule = "|" + "---|" * (3 + len(_METRIC_COLUMNS))
    rows = [
        f"| {e.detector} | {e.dataset} | {e.split} | "
        + " | ".join("-" if getattr(e, c) is None else f"{getattr(e, c):.1f}" for c in _METRIC_COLUMNS)
        + " |"
        for e in facts.info.metrics
    ]
    return "## Evaluation\n\nCOCO-style AP in percent.\n\n" + "\n".join([header, rule, *rows])


def _training(facts: CardFacts) -> str:
    if not facts.info.recipe:
        return "## Training\n\nThe training command was not recorded."
    return f"## Training\n\nThe exact command that produced these weights:\n\n```bash\n{facts.info.recipe}\n```"


def _column_title(column: str) -> str:
    kind, _, level = column.partition("_")
    return f"{kind} {level.replace('ap', 'AP')}"
