"""The predicted costs of a Warcraft model per terrain class, relative to the cheapest class.

Cells are grouped by their true cost ``c`` (on Warcraft maps the five terrain classes:
grass 0.8, dirt 1.2, forest 5.3, water 7.7, rock 9.2). For each class the profile gives the
mean and the standard deviation of the predicted costs ``ĉ`` over the class's cells, both
divided by the mean predicted cost of the cheapest class, beside the true ratio
``c / c_min``. The division makes models comparable whatever the scale they learnt: the
optimal path of ``ĉ`` does not change when ``ĉ`` is multiplied by a positive number, and
decision-focused losses fix that scale only loosely. The scale itself, the mean predicted
cost of the cheapest class, is kept beside the ratios: additive noise of size ``σ`` acts
relative to it.

What it shows: a regression on the true costs (``two_stage``) is asked for every cell's
cost, so it recovers both the ratios and small within-class spreads. A decision-focused loss
(Fenchel-Young, blackbox, I-MLE) only asks that ``ĉ`` select the true path: its gradient is
zero once the (perturbed) solutions are the true path, and otherwise a difference of paths
(``y_ε(θ) − y`` for FY, Berthet et al., 2020, Section 4; ``(y*(θ') − y*(θ)) / λ`` for
blackbox, Vlastelica et al., 2020), which constrains sums of costs along paths, not each
cell's cost. Per-cell errors that change no training path are
never corrected; a spread within the cheap classes comparable to their gap (0.8 vs 1.2)
is what lets a near-tied alternative path win on a new map. ``cells`` restricts the profile
to some cells (for example those on the true paths) to see where the errors are.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..datasets.warcraft_generator import CLASS_COSTS, CLASS_NAMES

__all__ = [
    "cost_profile",
    "mean_profile",
    "class_label",
    "per_class",
    "profile_cells",
    "profile_levels",
    "true_ratio_cells",
    "MAX_CLASSES",
]

#: More distinct true costs than this and the costs are not classes: no profile.
MAX_CLASSES = 10


def cost_profile(
    predicted: torch.Tensor,
    true: torch.Tensor,
    cells: torch.Tensor | None = None,
    decimals: int = 2,
) -> dict[str, list[float]] | None:
    """Predicted costs per class of true cost, relative to the cheapest class (module doc).

    ``predicted`` and ``true`` are ``(N, k, k)`` (any matching shapes); ``cells``, a boolean
    mask of the same shape, keeps only the cells it marks (default: all). True costs are
    grouped after rounding to ``decimals`` (the data store them as float16: 7.6992 is
    class 7.7). Returns ``{"true_cost", "true_ratio", "predicted_ratio", "predicted_sd",
    "cells"}``, one entry per class in increasing true cost, and ``"scale"``, the mean
    predicted cost of the cheapest class (the divisor); or ``None`` when the true costs
    take more than :data:`MAX_CLASSES` values (they are then not classes) or the cheapest
    class's mean predicted cost is zero (there is no ratio to form).
    """
    if predicted.shape != true.shape:
        raise ValueError(
            f"predicted costs {tuple(predicted.shape)} and true costs {tuple(true.shape)} "
            "must have the same shape"
        )
    c_hat = predicted.detach().double().cpu().flatten().numpy()
    c = np.round(true.detach().double().cpu().flatten().numpy(), decimals)
    if cells is not None:
        if cells.shape != true.shape:
            raise ValueError(
                f"the cell mask {tuple(cells.shape)} must have the shape of the costs "
                f"{tuple(true.shape)}"
            )
        keep = cells.detach().cpu().flatten().numpy().astype(bool)
        c_hat, c = c_hat[keep], c[keep]
    levels = np.unique(c)
    if levels.size == 0 or levels.size > MAX_CLASSES:
        return None
    groups = [c_hat[c == level] for level in levels]
    means = np.array([g.mean() for g in groups])
    sds = np.array([g.std() for g in groups])
    base = means[0]
    if not np.isfinite(base) or abs(base) < 1e-12:
        return None
    return {
        "true_cost": levels.tolist(),
        "true_ratio": (levels / levels[0]).tolist(),
        "predicted_ratio": (means / base).tolist(),
        "predicted_sd": (sds / abs(base)).tolist(),
        "cells": [g.size for g in groups],
        "scale": float(base),
    }


def class_label(cost: float) -> str:
    """``"0.8 grass"`` for a Warcraft class cost, else the cost itself."""
    match = np.flatnonzero(np.isclose(CLASS_COSTS, cost, atol=5e-3))
    return f"{cost:g} {CLASS_NAMES[match[0]]}" if match.size else f"{cost:g}"


def mean_profile(
    profiles: Sequence[dict[str, list[float]] | None],
) -> dict[str, list[float]] | None:
    """The mean of several runs' profiles over the same classes (e.g. over seeds): mean
    ratio and mean within-class spread per class, and the mean scale where every profile
    records one; ``None`` if any is missing or the runs saw different classes."""
    if not profiles or any(p is None for p in profiles):
        return None
    classes = profiles[0]["true_cost"]
    if any(p["true_cost"] != classes for p in profiles):
        return None
    out: dict[str, list[float]] = {"true_cost": list(classes)}
    out["true_ratio"] = list(profiles[0]["true_ratio"])
    for key in ("predicted_ratio", "predicted_sd"):
        out[key] = np.mean([p[key] for p in profiles], axis=0).tolist()
    out["cells"] = np.sum([p["cells"] for p in profiles], axis=0).astype(int).tolist()
    if all("scale" in p for p in profiles):  # profiles saved before it was recorded lack it
        out["scale"] = float(np.mean([p["scale"] for p in profiles]))
    return out


def profile_levels(profiles: Sequence[dict[str, list[float]] | None]) -> list[float]:
    """Every class cost that occurs in any of the profiles, in increasing order."""
    return sorted({round(c, 2) for p in profiles if p for c in p["true_cost"]})


def per_class(profile: dict[str, list[float]] | None) -> list[tuple[float, float, float]]:
    """``(true cost, predicted ratio, predicted sd)`` per class of a profile (or none)."""
    if profile is None:
        return []
    return list(zip(profile["true_cost"], profile["predicted_ratio"], profile["predicted_sd"]))


def profile_cells(profile: dict[str, list[float]] | None, levels: Sequence[float]) -> list[str]:
    """Table cells ``"ratio ± sd"`` of a profile at the classes ``levels`` (``—`` if absent)."""
    if profile is None:
        return ["—"] * len(levels)
    by_level = {round(c, 2): (r, s) for c, r, s in per_class(profile)}
    cells = []
    for level in levels:
        r, s = by_level.get(round(level, 2), (None, None))
        cells.append("—" if r is None else f"{r:.2f} ± {s:.2f}")
    return cells


def true_ratio_cells(levels: Sequence[float]) -> list[str]:
    """Table cells of the true ratios ``c / c_min`` of the classes ``levels``."""
    return [f"{c / levels[0]:.2f}" for c in levels]
