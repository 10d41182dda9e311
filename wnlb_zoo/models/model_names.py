"""Check a model name (``arch``, ``arch.tag``, ``local-dir:DIR``, ``hf-hub:ORG/NAME``) before building it.

timm answers an unknown architecture with ``RuntimeError: Unknown model`` and an unknown tag with
``RuntimeError: Invalid pretrained tag``, neither of which says what would have worked. These
checks raise errors the command line prints as one line, with the closest architectures or the
tags the architecture has. Hub and folder names are left to timm, which resolves them.
"""

from __future__ import annotations

import difflib

import timm
from timm.models import parse_model_name, split_model_name_tag


class UnknownPretrainedTagError(ValueError, RuntimeError):
    """A model name whose pretrained tag the architecture does not have; the message lists the tags it has.

    A RuntimeError too, as timm's own error for an unknown tag, so that existing handlers still catch it.
    """


def check_model_name(name: str) -> None:
    """Raise ``ValueError`` for an architecture timm does not know (with the closest names) or an unknown tag."""
    source, _ = parse_model_name(name)
    if source is not None:  # hf-hub: / local-dir: are timm's to resolve
        return
    architecture, tag = split_model_name_tag(name)
    if not timm.is_model(architecture):
        close = difflib.get_close_matches(architecture, timm.list_models(), n=3, cutoff=0.6)
        hint = f"did you mean {', '.join(close)}?" if close else "see timm.list_models() or `wnlb-zoo list`."
        raise ValueError(f"Unknown model {name!r}: {hint}")
    if tag:
        check_pretrained_tag(architecture, tag)


def check_pretrained_tag(architecture: str, tag: str) -> None:
    """Raise :class:`UnknownPretrainedTagError`, naming the known tags, if ``architecture.tag`` has no cfg."""
    try:
        timm.models.get_pretrained_cfg(f"{architecture}.{tag}")
    except RuntimeError:  # timm's "Invalid pretrained tag", which names no valid tag
        known = timm.list_pretrained(f"{architecture}.*")
        raise UnknownPretrainedTagError(
            f"Unknown pretrained tag '{tag}' for {architecture}: its tags are {', '.join(known) or 'none'} "
            "(the first is the default; `wnlb-zoo list --pretrained` shows the wNLB weights)."
        ) from None
