"""Peak memory of wNLB training passes, measured as peak RSS in a fresh subprocess.

Each measurement runs in its own interpreter so that allocator caches of other tests do not
leak in; the numbers are compared with generous margins, never timed.
"""

import subprocess
import sys
import textwrap

import pytest

MIB = 1024 * 1024


def peak_rss_growth(setup: str, step: str) -> float:
    """Peak RSS (MiB) reached while running ``step``, above the resident size just before it.

    The high-water mark is reset before the step (:class:`wnlb_zoo.benchmark.PeakMemory`), so a
    higher peak reached earlier (importing torch and timm, building the model) cannot hide part of
    the step's growth, which made a plain ``ru_maxrss`` difference read low now and then.
    """
    code = textwrap.dedent(
        f"""
        import torch, timm, wnlb_zoo
        from wnlb_zoo.benchmark import PeakMemory
        torch.set_num_threads(2)
        {setup}
        with PeakMemory(torch.device("cpu")) as memory:
            {step}
        print(memory.extra_bytes / 2**20)
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return float(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_wnlb_resnet50_training_pass_costs_little_more_than_resnet50():
    """fwd+bwd on one 400x608 image: a materialised wNLB would add ~2.7 GiB, ours must stay < 700 MiB."""
    setup = (
        "model = timm.create_model('{name}', features_only=True, out_indices=(1, 2, 3, 4)); "
        "x = torch.rand(1, 3, 400, 608)"
    )
    step = "sum(f.float().mean() for f in model(x)).backward()"
    plain = peak_rss_growth(setup.format(name="resnet50"), step)
    with_wnlb = peak_rss_growth(setup.format(name="wnlb_resnet50"), step)
    assert with_wnlb - plain < 700, (plain, with_wnlb)


@pytest.mark.slow
def test_block_memory_grows_linearly_with_positions():
    """9x the positions must cost about 9x the memory, not 81x (the N x N matrix alone would be 1.6 GiB)."""
    setup = (
        "from wnlb_zoo.layers import WeightedNonLocalBlock; "
        "block = WeightedNonLocalBlock(512, inter_channels=16); block.gate.data.fill_(0.5); "
        "x = torch.randn(1, 512, {size}, {size}, requires_grad=True)"
    )
    step = "block(x).square().mean().backward()"
    small = peak_rss_growth(setup.format(size=48), step)
    large = peak_rss_growth(setup.format(size=144), step)
    positions_ratio = (144 * 144) / (48 * 48)
    activation_mib = 144 * 144 * 512 * 4 / MIB  # one copy of the input feature map
    assert large < 30 * activation_mib, (small, large)
    assert large / max(small, activation_mib / positions_ratio) < 2 * positions_ratio, (small, large)
