"""Export a fine-tuned Mask R-CNN to ONNX, and check the exported model in onnxruntime against PyTorch.

The whole detector is exported, as torchvision's detection models export: one float32 image
``(3, H, W)`` in [0, 1] of any size goes in (resizing, normalisation, RPN, RoI heads and mask
pasting are in the graph), and the detections come out in the image's pixel coordinates:

* ``boxes`` (N, 4) float32, ``x1, y1, x2, y2``;
* ``labels`` (N,) int64, the detector's labels (1..num_classes-1; ``detector.json`` names them);
* ``scores`` (N,) float32;
* ``masks`` (N, 1, H, W) float32 mask probabilities (threshold at 0.5 for binary masks).

It uses torch's TorchScript-based exporter (``dynamo=False``), the one torchvision's own ONNX tests
export detectors with. The trace fixes what the example image does not vary: one image per run (no
batch), the detector's sizes and limits (``min_size``, ``max_size``, detections per image), and the
attention kernel, which is exported as MatMul-Softmax-MatMul (ONNX has no fused attention at these
opsets), so its memory grows with the square of the stride-4 positions.

The export is written to a temporary file beside ``output``, checked, and renamed into place: a
failed export or check leaves nothing at ``output``.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..data import SyntheticDarkScenes, read_image
from .checkpoint import load_detector

#: The block's attention (``scaled_dot_product_attention``) exports from opset 14 on (torchvision's
#: detectors from 11), torch's TorchScript-based exporter goes up to 20; 17 is what the tests check.
MIN_OPSET = 14
MAX_OPSET = 20
DEFAULT_OPSET = 17
INPUT_NAME = "image"
OUTPUT_NAMES = ("boxes", "labels", "scores", "masks")
#: What "the same detections" means: box corners within this many pixels, ...
BOX_TOLERANCE = 1e-2
#: ... scores within this, ...
SCORE_TOLERANCE = 1e-4
#: ... and mask probabilities within this, per pixel (labels equal, as many detections).
MASK_TOLERANCE = 1e-3


class OnnxExportError(ValueError):
    """A detector that cannot be exported to ONNX (an operator or a setting ONNX does not support)."""


class OnnxCheckError(ValueError):
    """The exported model's detections differ from PyTorch's on a sample image (nothing was written)."""

    def __init__(self, message: str, checks: Sequence[ImageCheck]) -> None:
        super().__init__(message)
        self.checks = list(checks)


@dataclass(frozen=True)
class ImageCheck:
    """PyTorch's and onnxruntime's detections on one image, paired detection by detection.

    The errors are the largest absolute differences over the paired detections (``nan`` when
    the counts or labels differ, as then there is no pairing to measure).
    """

    name: str
    size: tuple[int, int]
    torch_detections: int
    onnx_detections: int
    labels_match: bool
    box_error: float
    score_error: float
    mask_error: float

    @property
    def passed(self) -> bool:
        return (
            self.torch_detections == self.onnx_detections
            and self.labels_match
            and self.box_error <= BOX_TOLERANCE
            and self.score_error <= SCORE_TOLERANCE
            and self.mask_error <= MASK_TOLERANCE
        )


@dataclass(frozen=True)
class OnnxExport:
    """What :func:`export_detector_onnx` wrote and how it was checked (no checks: not checked)."""

    path: Path
    opset: int
    checks: list[ImageCheck]


def export_detector_onnx(
    checkpoint: str | os.PathLike,
    output: str | os.PathLike,
    images: Sequence[str | os.PathLike] = (),
    opset: int = DEFAULT_OPSET,
    check: bool = True,
) -> OnnxExport:
    """Export the Mask R-CNN of a checkpoint (dir, ``last``/``best`` link or run dir) to ``output``.

    The first of ``images`` is the tracing example; with ``check`` every image is run in PyTorch and in
    onnxruntime and the detections compared (see :class:`ImageCheck` and the tolerances above). Without
    images, two synthetic scenes at the detector's own size, one landscape and one portrait, are used,
    so that the check also covers a second image shape. Raises :class:`OnnxCheckError` when a check
    fails; ``output`` is then left as it was.
    """
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise ValueError(
            f"opset {opset} is not supported: choose one from {MIN_OPSET} (the wNLB attention) to "
            f"{MAX_OPSET} (torch's exporter)."
        )
    output = Path(output)
    samples = [(str(path), read_image(path)) for path in images]
    model, _, source = load_detector(checkpoint)
    model = model.eval().cpu().float()
    if model.transform.interpolation != "bilinear":
        raise OnnxExportError(
            f"{source} resizes images with interpolation={model.transform.interpolation!r}, which the ONNX "
            "exporter cannot express (no nearest-exact resize, and the scale would be fixed at the example's "
            "size): only detectors that resize with 'bilinear' (the default) can be exported."
        )
    samples = samples or synthetic_samples(model)
    temporary = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    try:
        export_onnx(model, samples[0][1], temporary, opset)
        checks = check_onnx(model, temporary, samples) if check else []
        failed = [result for result in checks if not result.passed]
        if failed:
            raise OnnxCheckError(
                f"The ONNX model's detections differ from PyTorch's on {len(failed)} of {len(checks)} image(s), "
                f"e.g. {failed[0].name}: nothing was written to {output} (--no-check writes it unchecked).",
                checks,
            )
        os.replace(temporary, output)
    finally:
        Path(temporary).unlink(missing_ok=True)
    return OnnxExport(output, opset, checks)


def export_onnx(model: nn.Module, example: torch.Tensor, path: str | os.PathLike, opset: int = DEFAULT_OPSET) -> None:
    """Trace the torchvision detector ``model`` (eval mode, on CPU) on one ``example`` image into ``path``.

    The image's height and width are dynamic axes, as is the number of detections.
    """
    try:
        with torch.no_grad(), warnings.catch_warnings():
            # The tracer warns at every Python value it fixes; the check in onnxruntime is what tells.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model,
                ([example],),
                str(path),
                dynamo=False,
                opset_version=opset,
                input_names=[INPUT_NAME],
                output_names=list(OUTPUT_NAMES),
                dynamic_axes={INPUT_NAME: [1, 2], "boxes": [0], "labels": [0], "scores": [0], "masks": [0, 2, 3]},
            )
    except torch.onnx.errors.OnnxExporterError as error:
        reason = str(error).splitlines()[0]  # the rest is the whole traced graph
        raise OnnxExportError(f"The detector cannot be exported to ONNX opset {opset}: {reason}") from error


def check_onnx(
    model: nn.Module, path: str | os.PathLike, samples: Sequence[tuple[str, torch.Tensor]]
) -> list[ImageCheck]:
    """Run each ``(name, image)`` of ``samples`` through ``model`` and through the ONNX file in onnxruntime."""
    import onnxruntime  # the interop extra; imported here so that the rest of wnlb_zoo does not need it

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    checks = []
    for name, image in samples:
        with torch.no_grad():
            expected = model([image])[0]
        arrays = session.run(list(OUTPUT_NAMES), {INPUT_NAME: image.numpy()})
        exported = {key: torch.from_numpy(array) for key, array in zip(OUTPUT_NAMES, arrays, strict=True)}
        checks.append(compare_detections(name, tuple(image.shape[-2:]), expected, exported))
    return checks


def compare_detections(
    name: str, size: tuple[int, int], expected: dict[str, torch.Tensor], exported: dict[str, torch.Tensor]
) -> ImageCheck:
    """Pair each of ``expected``'s detections with the closest unpaired one of ``exported`` of the same label.

    Pairing by box instead of by position tolerates detections whose scores are so close that the two
    runtimes sort them in a different order.
    """
    counts = len(expected["scores"]), len(exported["scores"])
    labels_match = counts[0] == counts[1] and bool(
        torch.equal(expected["labels"].sort().values, exported["labels"].sort().values)
    )
    if not labels_match:
        return ImageCheck(name, size, *counts, False, math.nan, math.nan, math.nan)
    distance = (expected["boxes"][:, None] - exported["boxes"][None]).abs().amax(-1)
    distance[expected["labels"][:, None] != exported["labels"][None]] = math.inf
    pairs = []
    for row in range(counts[0]):
        column = int(distance[row].argmin())
        pairs.append(column)
        distance[:, column] = math.inf
    order = torch.tensor(pairs, dtype=torch.long)

    def largest(key: str) -> float:
        difference = expected[key].float() - exported[key][order].float()
        return float(difference.abs().max()) if difference.numel() else 0.0

    return ImageCheck(name, size, *counts, True, largest("boxes"), largest("scores"), largest("masks"))


def synthetic_samples(model: nn.Module) -> list[tuple[str, torch.Tensor]]:
    """Two synthetic dark scenes at the detector's own size: ``min_size x max_size`` and ``max_size x min_size``.

    The detector resizes neither (its scale is exactly 1), so the check measures the network and not the
    sub-pixel difference between PyTorch's and ONNX's resizing (see ``docs/frameworks.md``).
    """
    short, long = model.transform.min_size[-1], model.transform.max_size
    samples = []
    for index, size in enumerate(((short, long), (long, short))):
        image, _ = SyntheticDarkScenes(1, image_size=size, seed=index)[0]
        samples.append((f"synthetic {size[0]}x{size[1]}", image))
    return samples
