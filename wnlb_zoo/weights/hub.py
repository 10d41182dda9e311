"""Take a weight file from the Hugging Face cache or hub, and never wait long for a hub that does not answer.

With no cached copy, huggingface_hub retries a metadata request that timed out for minutes (one
10 s try, then five 60 s tries with back-off): behind a proxy or firewall that accepts connections
and never answers, ``pretrained=True`` would hang for six minutes. So before any download the hub
must answer a HEAD request for the very file within ``WNLB_ZOO_HUB_TIMEOUT`` seconds (default 10).
The limit is wall-clock time, not time per socket read, so no network behaviour (a silent proxy, a
hanging DNS lookup, a trickle of bytes) stretches it. Only a hub that answered is asked for the
file, whose download huggingface_hub ends after ``HF_HUB_DOWNLOAD_TIMEOUT`` seconds without data.

huggingface_hub's own ``HF_HUB_ETAG_TIMEOUT`` and ``HF_HUB_DOWNLOAD_TIMEOUT`` do not replace this:
they limit each socket read, and the request is retried, so with both set to 2 s a download from
a silent or a trickling hub is still waiting after 150 s (``python scripts/hub_timeouts.py``).

``HF_ENDPOINT`` and ``HF_HUB_OFFLINE`` are read at each lookup, not once when huggingface_hub was
imported, so a script (or test) that sets them after ``import timm`` is obeyed.
"""

from __future__ import annotations

import math
import os
import threading
from pathlib import Path

from huggingface_hub import constants, get_hf_file_metadata, hf_hub_download, hf_hub_url, try_to_load_from_cache
from huggingface_hub.errors import HfHubHTTPError

HUB_TIMEOUT_ENV = "WNLB_ZOO_HUB_TIMEOUT"
DEFAULT_HUB_TIMEOUT = 10.0


def hub_offline() -> bool:
    """True when huggingface_hub must not touch the network (``HF_HUB_OFFLINE``), read at call time."""
    value = os.environ.get("HF_HUB_OFFLINE", "")
    return value.upper() in {"1", "ON", "YES", "TRUE"}


def hub_endpoint() -> str:
    """The hub URL: ``HF_ENDPOINT`` as set now, else huggingface_hub's endpoint."""
    return (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


def hub_timeout() -> float:
    """Seconds the hub has to answer: ``WNLB_ZOO_HUB_TIMEOUT``, default 10; a bad value is a ValueError."""
    text = os.environ.get(HUB_TIMEOUT_ENV, "").strip()
    if not text:
        return DEFAULT_HUB_TIMEOUT
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise ValueError(
            f"{HUB_TIMEOUT_ENV}={text!r} is not a number of seconds greater than 0: set it to e.g. 30 "
            f"for a slow network, or unset it for the default of {DEFAULT_HUB_TIMEOUT:g} s."
        )
    return seconds


def find_hub_file(repo_id: str, filename: str, cache_dir: str | os.PathLike | None = None) -> tuple[Path | None, str]:
    """Look in the HF cache, then download if the hub answers in time. Returns (path, why-not)."""
    cached = try_to_load_from_cache(repo_id, filename, cache_dir=cache_dir)
    if isinstance(cached, str):
        return Path(cached), ""
    where = f"not in the cache ({cache_dir or constants.HF_HUB_CACHE})"
    if hub_offline():
        return None, f"{where} and HF_HUB_OFFLINE is set"
    endpoint, timeout = hub_endpoint(), hub_timeout()
    problem = _unanswered(hf_hub_url(repo_id, filename, endpoint=endpoint), timeout)
    if problem:
        return None, f"{where} and the hub at {endpoint} {problem}"
    try:
        path = hf_hub_download(repo_id, filename, cache_dir=cache_dir, endpoint=endpoint, etag_timeout=timeout)
    except Exception as error:  # any hub failure becomes one clear error for the caller
        return None, f"{where} and the download failed ({_first_line(error)})"
    return Path(path), ""


def _unanswered(url: str, timeout: float) -> str:
    """Why a HEAD request for ``url`` got no usable answer within ``timeout`` seconds, or '' when it did.

    The request runs in a daemon thread that is abandoned at the deadline, so the deadline holds
    whatever the network does; huggingface_hub's own (longer) timeout ends the thread soon after,
    and a daemon thread cannot delay the interpreter's exit.
    """
    outcome: list[BaseException | None] = []

    def ask() -> None:
        try:
            get_hf_file_metadata(url, timeout=2 * timeout)
            outcome.append(None)
        except Exception as error:  # reported by the caller's thread
            outcome.append(error)

    thread = threading.Thread(target=ask, name="wnlb-zoo-hub-probe", daemon=True)
    thread.start()
    thread.join(timeout)
    if not outcome:
        return f"cannot be reached (no answer within {timeout:g} s, {HUB_TIMEOUT_ENV})"
    error = outcome[0]
    if error is None:
        return ""
    if isinstance(error, HfHubHTTPError):  # the hub answered, with an error (no such repo or file, no access)
        return f"refused the file ({_first_line(error)})"
    return f"cannot be reached ({_first_line(error)})"


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
