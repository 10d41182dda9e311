"""wNLB peak memory grows linearly with the number of positions: never the N x N matrix.

Both sizes are measured in one fresh interpreter, small first, each as the peak RSS above the
resident size before its forward+backward (see :class:`wnlb_zoo.benchmark.PeakMemory`), so that
the memory of other tests does not count. Not a timing test.
"""

import json
import subprocess
import sys
import textwrap

import pytest

MIB = 2**20


def peak_growth_mib(mode: str, channels: int, sides: tuple[int, ...]) -> list[float]:
    code = textwrap.dedent(
        f"""
        import json, torch
        from wnlb_zoo.benchmark import PeakMemory
        from wnlb_zoo.layers import WeightedNonLocalBlock
        torch.set_num_threads(2)
        block = WeightedNonLocalBlock({channels}, mode={mode!r})
        block.gate.data.fill_(0.5)
        growth = []
        for side in {list(sides)}:
            x = torch.randn(1, {channels}, side, side, requires_grad=True)
            grad = torch.randn_like(x)
            with PeakMemory(torch.device("cpu")) as memory:
                block(x).backward(grad)
            growth.append(memory.extra_bytes / 2**20)
            del x, grad
        print(json.dumps(growth))
        """
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("mode", ["embedded", "gaussian"])
def test_block_memory_grows_linearly_with_positions(mode):
    """9x the positions: the N x N float32 matrix alone would be 0.8 GiB at the large size."""
    channels, small_side, large_side = 32, 40, 120
    small, large = peak_growth_mib(mode, channels, (small_side, large_side))
    positions_ratio = (large_side / small_side) ** 2
    activation_mib = large_side**2 * channels * 4 / MIB  # one float32 copy of the input
    pairwise_mib = large_side**4 * 4 / MIB
    assert large < 64 + 20 * activation_mib, (small, large)  # the math kernel needs GiBs here
    assert large < pairwise_mib / 10, (small, large)
    assert large / max(small, 64 / positions_ratio) < 2 * positions_ratio, (small, large)
