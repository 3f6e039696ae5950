"""Small statistics helpers: percentiles and summaries of latency samples (seconds in, milliseconds out)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    """Median, p90, mean and count of samples given in seconds, reported in milliseconds."""
    if not seconds:
        return {"n": 0, "median_ms": math.nan, "p90_ms": math.nan, "mean_ms": math.nan}
    return {
        "n": len(seconds),
        "median_ms": round(statistics.median(seconds) * 1000, 3),
        "p90_ms": round(percentile(seconds, 90) * 1000, 3),
        "mean_ms": round(statistics.fmean(seconds) * 1000, 3),
    }


def ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator rounded to 2 places; NaN when the denominator is not positive."""
    if not denominator or denominator <= 0 or math.isnan(denominator):
        return math.nan
    return round(numerator / denominator, 2)
