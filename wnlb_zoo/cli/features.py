"""``wnlb-zoo features MODEL``: build a backbone and print its feature pyramid.

A quick way to see what a model gives a detector: the channels and strides of every level,
the wNLB blocks it holds and their gates, on an input of the size you choose.
"""

from __future__ import annotations

import argparse

import timm
import torch

from ..layers import WeightedNonLocalBlock
from ..models import check_model_name


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("features", help="print a backbone's feature pyramid", description=__doc__)
    parser.add_argument("model", nargs="?", default="wnlb_resnet18", help="timm model name (default: %(default)s)")
    parser.add_argument("--input-size", type=int, nargs=2, default=(400, 600), metavar=("H", "W"))
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--pretrained", action="store_true", help="load the default pretrained weights")
    parser.add_argument("--out-indices", type=int, nargs="+", default=None, help="feature levels to return")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    check_model_name(args.model)
    kwargs = {"out_indices": tuple(args.out_indices)} if args.out_indices else {}
    model = timm.create_model(args.model, pretrained=args.pretrained, features_only=True, **kwargs).eval()
    height, width = args.input_size
    image = torch.rand(args.batch_size, 3, height, width)
    with torch.inference_mode():
        maps = model(image)
    params = sum(p.numel() for p in model.parameters())
    blocks = [(name, m) for name, m in model.named_modules() if isinstance(m, WeightedNonLocalBlock)]
    print(f"{args.model}: {params / 1e6:.2f} M parameters, {len(blocks)} wNLB block(s), input {tuple(image.shape)}")
    print(f"{'level':>5}  {'module':<12} {'channels':>8} {'stride':>6}  shape")
    for level, (info, fmap) in enumerate(zip(model.feature_info.get_dicts(), maps, strict=True)):
        print(f"{level:>5}  {info['module']:<12} {info['num_chs']:>8} {info['reduction']:>6}  {tuple(fmap.shape)}")
    for name, block in blocks:
        print(
            f"wNLB {name}: C={block.channels} C'={block.inter_channels} mode={block.mode} "
            f"kv_stride={block.kv_stride} gate w={block.gate.item():.4f}"
        )
    return 0
