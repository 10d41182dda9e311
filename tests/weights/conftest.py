"""Fixtures for the weights tests: one exported wNLB ResNet-18, temporary manifests, an offline hub.

Nothing here touches the network or the user's caches: every test runs against an empty, temporary
Hugging Face cache in offline mode, with no ``$WNLB_ZOO_WEIGHTS`` mirror, unless it builds its own.
"""

from __future__ import annotations

import copy
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
import timm
import torch
from huggingface_hub import constants
from timm.models import FeatureListNet, PretrainedCfg
from timm.models._registry import _model_pretrained_cfgs

import wnlb_zoo  # noqa: F401  (registers the models)
from wnlb_zoo.weights import Evaluation, ExportedWeights, WeightInfo, WeightRecord, export_model
from wnlb_zoo.weights.manifest import record_cfg

OUT_INDICES = (1, 2, 3, 4)
MODEL_KWARGS = {"num_classes": 0, "wnlb_stages": [2, 3, 4]}  # not the defaults: the record's kwargs must apply
INFO = WeightInfo(
    tag="roundtrip_test",
    repo_id="wnlb-test/wnlb-resnet18-roundtrip",
    license="apache-2.0",
    base_weights="timm/resnet18.a1_in1k",
    training_data=("LIS", "PennFudanPed (synthetic low light)"),
    recipe="wnlb-zoo train --model wnlb_resnet18 --data lis --epochs 12",
    metrics=(
        Evaluation("Mask R-CNN R18-FPN", "LIS", "test (RGB-dark)", 12.5, 25.25, 11.0, 10.5, 21.0, 9.75),
        Evaluation("Faster R-CNN R18-FPN", "LIS", "test (RGB-dark)", 13.0, 26.0, 12.0),
    ),
    date="2025-03-01",
)


@dataclass
class Exported:
    """A random wNLB ResNet-18 (non-zero gates), its export, and its reference features."""

    model: torch.nn.Module
    export: ExportedWeights
    image: torch.Tensor
    features: list[torch.Tensor]

    @property
    def record(self) -> WeightRecord:
        return self.export.record

    def assert_same_features(self, model: torch.nn.Module) -> None:
        with torch.inference_mode():
            features = model.eval()(self.image)
        assert len(features) == len(self.features)
        for ours, reference in zip(features, self.features, strict=True):
            assert torch.equal(ours, reference)


@pytest.fixture(scope="session")
def exported(tmp_path_factory) -> Exported:
    torch.manual_seed(0)
    model = timm.create_model("wnlb_resnet18", **MODEL_KWARGS).eval()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith(".gate"):
                parameter.fill_(0.25)
        for name, buffer in model.named_buffers():
            if name.endswith("running_mean"):
                buffer.normal_(0, 0.1)
    export = export_model(model, tmp_path_factory.mktemp("export") / "wnlb_resnet18.roundtrip_test", INFO)
    image = torch.rand(2, 3, 64, 64)
    with torch.inference_mode():
        features = FeatureListNet(copy.deepcopy(model), out_indices=OUT_INDICES).eval()(image)
    return Exported(model, export, image, features)


@pytest.fixture(autouse=True)
def offline_hub(tmp_path, monkeypatch) -> Path:
    """An empty HF cache, offline; no mirror; any hub connection would go to a closed local port (HF_ENDPOINT)."""
    cache = tmp_path / "hf-cache"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # read at each lookup (wnlb_zoo.weights.hub)
    for proxy in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(proxy, raising=False)
    monkeypatch.delenv("WNLB_ZOO_WEIGHTS", raising=False)
    return cache


@pytest.fixture
def online(monkeypatch) -> None:
    """Lift offline mode: the hub is then probed (and unreachable: the endpoint is a closed port)."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("WNLB_ZOO_HUB_TIMEOUT", "0.5")


@pytest.fixture
def manifest(tmp_path, monkeypatch, exported) -> Path:
    """A manifest holding the exported record, also registered as a timm tag for this test."""
    directory = tmp_path / "manifest"
    directory.mkdir()
    shutil.copy(exported.export.record_path, directory)
    monkeypatch.setenv("WNLB_ZOO_MANIFEST", str(directory))
    record = exported.record
    cfg = PretrainedCfg(**record_cfg(record), architecture=record.architecture, tag=record.tag)
    monkeypatch.setitem(_model_pretrained_cfgs, record.name, cfg)
    return directory


@pytest.fixture
def mirror(tmp_path, monkeypatch, exported) -> Path:
    """``$WNLB_ZOO_WEIGHTS`` holding a copy of the exported weight; returns the file."""
    directory = tmp_path / "mirror"
    target = directory / exported.record.name / "model.safetensors"
    target.parent.mkdir(parents=True)
    shutil.copy(exported.export.weights, target)
    monkeypatch.setenv("WNLB_ZOO_WEIGHTS", str(directory))
    return target


@pytest.fixture
def hf_cache(offline_hub, exported) -> Path:
    """The exported folder laid out as huggingface_hub's cache holds a download; returns the snapshot."""
    repo = offline_hub / f"models--{exported.record.repo_id.replace('/', '--')}"
    revision = "0123456789abcdef0123456789abcdef01234567"
    snapshot = repo / "snapshots" / revision
    snapshot.mkdir(parents=True)
    for file in exported.export.directory.iterdir():
        shutil.copy(file, snapshot / file.name)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    return snapshot


@pytest.fixture
def flip_byte():
    """Corrupt one byte of a file in place, deep in the tensor data, keeping its size."""

    def flip(path: Path, offset: int = -100) -> None:
        data = bytearray(path.read_bytes())
        data[offset] ^= 0xFF
        path.write_bytes(data)

    return flip
