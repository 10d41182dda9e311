"""Mean and spread over seeds, and the paired difference of two configurations with its t interval.

Seeds are paired: cell (configuration A, seed s) and cell (B, s) train on the same data with the
same initialisation seed, so the difference of their scores removes the part of the seed-to-seed
spread that both share. The interval for the mean paired difference is Student's t interval over
the n pairs: ``mean(d) +- t(1 - alpha/2, n - 1) * sd(d) / sqrt(n)``, with the sample standard
deviation (n - 1 in the denominator). It assumes the differences are roughly normal; with 2 or 3
seeds it is wide, as it should be. The t quantile is computed here (no SciPy), exactly for the
whole degrees of freedom it is needed for.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Spread:
    """Mean and sample standard deviation (None for fewer than two values) of ``n`` values."""

    mean: float
    std: float | None
    n: int


@dataclass(frozen=True)
class PairedDifference:
    """Mean of ``n`` paired differences with its ``confidence`` t interval (None for fewer than two pairs)."""

    mean: float
    low: float | None
    high: float | None
    n: int
    confidence: float


def spread(values: Sequence[float]) -> Spread:
    """Mean and sample standard deviation of ``values`` (at least one)."""
    if not values:
        raise ValueError("spread() needs at least one value.")
    n = len(values)
    mean = math.fsum(values) / n
    std = math.sqrt(math.fsum((value - mean) ** 2 for value in values) / (n - 1)) if n > 1 else None
    return Spread(mean, std, n)


def paired_difference(values: Sequence[float], baseline: Sequence[float], confidence: float = 0.95) -> PairedDifference:
    """The mean of ``values[i] - baseline[i]`` and its two-sided Student t interval over the pairs."""
    if len(values) != len(baseline) or not values:
        raise ValueError(f"paired_difference() needs equally many values, got {len(values)} and {len(baseline)}.")
    differences = [value - base for value, base in zip(values, baseline, strict=True)]
    summary = spread(differences)
    if summary.std is None:
        return PairedDifference(summary.mean, None, None, 1, confidence)
    half_width = t_quantile(confidence, summary.n - 1) * summary.std / math.sqrt(summary.n)
    return PairedDifference(summary.mean, summary.mean - half_width, summary.mean + half_width, summary.n, confidence)


def t_quantile(confidence: float, degrees_of_freedom: int) -> float:
    """The t with ``P(|T| < t) = confidence`` for Student's T with whole ``degrees_of_freedom`` >= 1.

    Found by bisection on the closed form of ``P(|T| < t)`` for whole degrees of freedom
    (Abramowitz and Stegun 26.7.3 and 26.7.4, in ``theta = atan(t / sqrt(df))``).
    """
    if not 0 < confidence < 1 or degrees_of_freedom < 1:
        raise ValueError(f"t_quantile() needs 0 < confidence < 1 and df >= 1, got {confidence}, {degrees_of_freedom}.")
    low, high = 0.0, math.pi / 2
    for _ in range(200):
        middle = (low + high) / 2
        if _two_sided_probability(middle, degrees_of_freedom) < confidence:
            low = middle
        else:
            high = middle
    return math.sqrt(degrees_of_freedom) * math.tan((low + high) / 2)


def _two_sided_probability(theta: float, df: int) -> float:
    """``P(|T| < sqrt(df) tan(theta))`` for Student's T with ``df`` degrees of freedom."""
    sine, cosine = math.sin(theta), math.cos(theta)
    if df % 2 == 0:  # sin(theta) * (1 + 1/2 cos^2 + 1*3/(2*4) cos^4 + ... up to cos^(df-2))
        term, total = 1.0, 1.0
        for k in range(1, df // 2):
            term *= (2 * k - 1) / (2 * k) * cosine**2
            total += term
        return sine * total
    if df == 1:
        return 2 * theta / math.pi
    term, total = cosine, cosine  # (2/pi) (theta + sin(theta) (cos + 2/3 cos^3 + ... up to cos^(df-2)))
    for k in range(1, (df - 1) // 2):
        term *= (2 * k) / (2 * k + 1) * cosine**2
        total += term
    return 2 / math.pi * (theta + sine * total)
