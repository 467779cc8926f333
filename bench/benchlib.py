"""What every bench script shares: timing a callable and reading a percentile off the samples."""

from __future__ import annotations

import time
from collections.abc import Callable


def sample(fn: Callable[[], object], runs: int, warm: int = 1) -> list[float]:
    """`runs` timings of fn() in milliseconds, after `warm` untimed calls."""
    for _ in range(warm):
        fn()
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def percentile(samples: list[float], q: float) -> float:
    """The q-th quantile (0 < q < 1) by nearest rank: percentile(xs, 0.99) is the p99."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
