"""Warcraft path metrics, and a model's metrics on a split.

Evaluation solves ``y_pred = y*(−ĉ)`` with the Numba grid solver and reports, on the true
costs ``c``:

* ``exact``: share of predicted paths equal to the true path (``Σ|y − ŷ| < 0.5``);
* ``optimal``: share of predicted paths whose true cost is optimal,
  ``|⟨c, ŷ⟩ − ⟨c, y⟩| <= 1e-4 · ⟨c, y⟩`` (the metric of the literature's tables);
* ``regret``: mean of ``(⟨c, ŷ⟩ − ⟨c, y⟩) / ⟨c, y⟩``; ``normalized_regret``:
  ``Σ(⟨c, ŷ⟩ − ⟨c, y⟩) / Σ⟨c, y⟩``; ``cell_acc``: per-cell accuracy.

Example::

    metrics, c_hat, y_hat = evaluate(model, solvers.get("shortest_path"), *split)

Reference: Vlastelica et al., "Differentiation of Blackbox Combinatorial Solvers",
ICLR 2020 (the metrics of its tables).
"""

from __future__ import annotations

import torch

import solvers

__all__ = [
    "path_metrics",
    "path_metric_sums",
    "metrics_from_sums",
    "METRIC_SUMS",
    "solve_paths",
    "random_tie_paths",
    "TIE_JITTER",
    "evaluate",
]


def path_metrics(
    costs: torch.Tensor, y_true: torch.Tensor, y_pred: torch.Tensor
) -> dict[str, float]:
    """Warcraft metrics of predicted paths ``y_pred`` against ``y_true`` on true ``costs``."""
    return metrics_from_sums(path_metric_sums(costs, y_true, y_pred))


#: The sums behind :func:`path_metrics`, in the order of :func:`path_metric_sums`.
METRIC_SUMS = (
    "maps",
    "exact",
    "optimal",
    "regret",
    "pred_minus_true_cost",
    "true_cost",
    "equal_cells",
    "cells",
)


def path_metric_sums(
    costs: torch.Tensor, y_true: torch.Tensor, y_pred: torch.Tensor
) -> torch.Tensor:
    """The float64 sums over maps behind :func:`path_metrics`, named by
    :data:`METRIC_SUMS`: the sums of parts of a split add up to those of the whole split
    (how processes of a distributed run reduce their shares, whatever their sizes)."""
    c = costs.double()
    true_cost = (c * y_true.double()).flatten(1).sum(1)
    pred_cost = (c * y_pred.double()).flatten(1).sum(1)
    diff = (y_true - y_pred).abs().flatten(1).sum(1)
    return torch.stack(
        [
            torch.tensor(float(c.shape[0]), dtype=torch.float64),
            (diff < 0.5).double().sum(),
            ((pred_cost - true_cost).abs() <= 1e-4 * true_cost).double().sum(),
            ((pred_cost - true_cost) / true_cost).sum(),
            (pred_cost - true_cost).sum(),
            true_cost.sum(),
            (y_true == y_pred).double().sum(),
            torch.tensor(float(y_true.numel()), dtype=torch.float64),
        ]
    )


def metrics_from_sums(sums: torch.Tensor) -> dict[str, float]:
    """:func:`path_metrics` from :func:`path_metric_sums` (of one split, or added up over
    its parts); ``NaN`` throughout for an empty split."""
    s = dict(zip(METRIC_SUMS, sums.double().tolist()))
    maps, cells = s["maps"], s["cells"]
    if maps == 0:
        return {
            k: float("nan") for k in ("exact", "optimal", "regret", "normalized_regret", "cell_acc")
        }
    return {
        "exact": s["exact"] / maps,
        "optimal": s["optimal"] / maps,
        "regret": s["regret"] / maps,
        "normalized_regret": s["pred_minus_true_cost"] / s["true_cost"],
        "cell_acc": s["equal_cells"] / cells,
    }


def solve_paths(solver: solvers.Solver, costs: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """The solver's paths ``(B, k, k)`` of the costs ``(B, k, k)``, one batched call."""
    y = solver.solve(solvers.costs_to_theta(costs.detach().double().numpy()))
    return torch.from_numpy(y).to(dtype)


#: Largest cost added to a cell to break ties at random (:func:`random_tie_paths`). The five
#: float16-stored Warcraft costs are multiples of 1/1024, so distinct path costs differ by
#: at least 1/1024; a path of at most 30 × 30 cells gathers under 9e-5 of jitter, so the
#: path found is still optimal.
TIE_JITTER = 1e-7


def random_tie_paths(
    solver: solvers.Solver, costs: torch.Tensor, jitter: torch.Tensor, dtype: torch.dtype
) -> torch.Tensor:
    """An optimal path of each map, ties among optimal paths broken at random.

    The solver's path on ``costs + TIE_JITTER · jitter`` (``jitter`` uniform on [0, 1), one
    value per cell): among the paths of optimal cost it picks the one of least jitter, a
    random one, where the stored labels always pick the same one by the reference
    Dijkstra's rule. Raises ``ValueError`` if a path found is not optimal for ``costs``
    (costs whose distinct path costs lie closer than the jitter).
    """
    c = costs.detach().double().cpu()
    y = solve_paths(solver, c + TIE_JITTER * jitter.double().cpu(), torch.float64)
    found = (c * y).flatten(1).sum(1)
    best = (c * solve_paths(solver, c, torch.float64)).flatten(1).sum(1)
    if not torch.allclose(found, best, rtol=1e-9, atol=0.0):
        raise ValueError(
            "ties=random: a jittered path is not optimal (path costs closer than "
            f"{TIE_JITTER:g} per cell); these costs cannot have their ties broken this way"
        )
    return y.to(dtype)


@torch.no_grad()
def evaluate(
    model: torch.nn.Module,
    solver: solvers.Solver,
    images: torch.Tensor,
    costs: torch.Tensor,
    paths: torch.Tensor,
    batch_size: int = 250,
) -> tuple[dict[str, float], torch.Tensor, torch.Tensor]:
    """Metrics of ``y*(−ĉ)`` on a split (held on the CPU, batches moved to the model's
    device); also returns predicted costs and paths (on the CPU)."""
    model.eval()
    device = next(model.parameters()).device
    preds = []
    for start in range(0, images.shape[0], batch_size):
        batch = images[start : start + batch_size].to(device)
        preds.append(model(batch).float().cpu())
    c_hat = torch.cat(preds)
    y_hat = solve_paths(solver, c_hat, paths.dtype)
    model.train()
    return path_metrics(costs, paths, y_hat), c_hat, y_hat
