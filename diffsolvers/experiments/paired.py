"""Paired differences between methods over seeds: is one method at or above another?

In a comparison every method trains with the same seeds, and a seed fixes what the runs
share: on Warcraft the CNN's initial weights and the order of the training batches
(:func:`.warcraft.train_warcraft`), on a synthetic problem the data and the initial weights
(:func:`.synthetic.train_synthetic`). The runs of two methods with the same seed therefore
form a pair, and the per-seed differences

    d_s = v(method, s) − v(reference, s)

remove what the two runs share. :func:`paired_differences` reports their mean, sample
standard deviation, the two-sided Student-t confidence interval for the mean difference,

    d̄ ± t_{1−α/2, n−1} · sd(d) / √n,

and how many seeds have the method at or above the reference. With three seeds
``t_{0.975, 2} ≈ 4.30``: an interval that excludes 0 asks for a difference several
times larger than its spread, so an interval containing 0 says "not told apart at this
number of seeds", not "equal".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy import stats

__all__ = [
    "check_reference",
    "paired_differences",
    "format_difference",
    "format_interval",
    "format_paired",
]


def check_reference(reference: str | None, methods: Sequence[str]) -> None:
    """``ValueError`` unless ``reference`` is ``None`` or one of ``methods``."""
    if reference is not None and reference not in methods:
        raise ValueError(
            f"reference method {reference!r} is not among the compared methods "
            f"({', '.join(methods)})"
        )


def paired_differences(
    values: Mapping[str, Sequence[float]],
    reference: str,
    confidence: float = 0.95,
) -> dict[str, dict[str, Any]]:
    """Per method other than ``reference``: the paired differences to it (module doc).

    ``values[m][i]`` is method ``m``'s value at the ``i``-th seed (the same seeds, in the
    same order, for every method). Returns ``{method: {"mean", "sd", "low", "high", "at_or_above",
    "seeds", "differences"}}``; with a single seed ``sd`` is 0 and the interval bounds are
    ``None`` (no spread to estimate).
    """
    check_reference(reference, list(values))
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    base = np.asarray(values[reference], dtype=np.float64)
    out: dict[str, dict[str, Any]] = {}
    for method, series in values.items():
        if method == reference:
            continue
        v = np.asarray(series, dtype=np.float64)
        if v.shape != base.shape or v.ndim != 1 or v.size == 0:
            raise ValueError(
                f"{method!r} has {v.size} values and {reference!r} {base.size}: paired "
                "differences need one value per seed for both"
            )
        d = v - base
        mean = float(d.mean())
        sd = float(d.std(ddof=1)) if d.size > 1 else 0.0
        low = high = None
        if d.size > 1:
            half = float(stats.t.ppf(0.5 + confidence / 2, d.size - 1)) * sd / np.sqrt(d.size)
            low, high = mean - half, mean + half
        out[method] = {
            "mean": mean,
            "sd": sd,
            "low": low,
            "high": high,
            "at_or_above": int((d >= 0).sum()),
            "seeds": int(d.size),
            "differences": d.tolist(),
        }
    return out


def format_difference(d: Mapping[str, Any], digits: int = 1) -> str:
    """``"+2.0 ± 1.0"``: a paired difference (fractions) as mean ± sd in percent."""
    return f"{100 * d['mean']:+.{digits}f} ± {100 * d['sd']:.{digits}f}"


def format_interval(d: Mapping[str, Any], digits: int = 1) -> str:
    """``"[-0.5, +4.5]"``: its interval in percent, or ``"—"`` without one (one seed)."""
    if d["low"] is None:
        return "—"
    return f"[{100 * d['low']:+.{digits}f}, {100 * d['high']:+.{digits}f}]"


def format_paired(
    optimal: Mapping[str, Mapping[str, Any]],
    regret: Mapping[str, Mapping[str, Any]],
) -> list[list[str]]:
    """Table rows (method, Δ optimal-cost % ± sd, its interval, seeds at or above, Δ regret
    % ± sd) from :func:`paired_differences` of the optimal-cost and regret fractions."""
    return [
        [
            method,
            format_difference(d),
            format_interval(d),
            f"{d['at_or_above']} of {d['seeds']}",
            format_difference(regret[method], digits=2),
        ]
        for method, d in optimal.items()
    ]
