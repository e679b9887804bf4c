"""The diffsolvers side of a cell: :func:`train_synthetic` on the cell's data.

The model is ``nn.Linear(5, d)`` built right after ``torch.manual_seed(seed)``, as PyEPO's
scripts build theirs, so both libraries start from the same weights; training batches are
drawn by diffsolvers' own shuffler. The regret is diffsolvers' normalised test regret
(:func:`diffsolvers.metrics.normalized_regret`, solutions of its own solver).
"""

from __future__ import annotations

from typing import Any

import solvers
from diffsolvers import registry
from diffsolvers.experiments.synthetic import SyntheticConfig, train_synthetic

from .methods import BATCH_SIZE, MethodSpec, epochs_for
from .problems import N_FEATURES, CellData, ours_solver, to_synthetic

__all__ = ["MethodNotRegistered", "ours_available", "ours_solver_label", "run_ours"]


class MethodNotRegistered(LookupError):
    """diffsolvers has no method of that name (yet)."""


def ours_available(spec: MethodSpec) -> bool:
    """Whether diffsolvers registers ``spec.ours``."""
    return spec.ours in registry.methods()


def run_ours(
    data: CellData,
    spec: MethodSpec,
    *,
    knapsack_solver: str = "auto",
    epochs: int | None = None,
) -> dict[str, Any]:
    """Train and evaluate one diffsolvers model; returns regret, time and what was run."""
    if not ours_available(spec):
        raise MethodNotRegistered(f"diffsolvers registers no method {spec.ours!r}")
    cell = data.cell
    problem, params = ours_solver(data, knapsack_solver)
    _, options = spec.options(cell.problem)
    config = SyntheticConfig(
        problem=problem,
        method=spec.ours,
        deg=cell.deg,
        n_train=cell.n_train,
        n_test=len(data.x_test),
        n_features=N_FEATURES,
        noise_width=cell.noise,
        epochs=epochs_for(cell.n_train) if epochs is None else epochs,
        batch_size=BATCH_SIZE,
        lr=spec.lr,
        seed=cell.seed,
        method_options=options,
    )
    res = train_synthetic(
        config, data=to_synthetic(data, problem, params), layer_loss=spec.layer_loss, curve=False
    )
    return {
        "regret": res["final_regret"],
        "regret_common": res["final_regret"],
        "train_seconds": res["train_seconds"],
        "train_cpu_seconds": res["train_cpu_seconds"],
        "epochs": config.epochs,
        "solver": ours_solver_label(data, knapsack_solver),
        "options": {**options, "layer_loss": spec.layer_loss} if _is_layer(spec) else options,
    }


def ours_solver_label(data: CellData, knapsack_solver: str = "auto") -> str:
    """``problem/backend`` of the diffsolvers solver of the cell, as recorded in the results."""
    problem, params = ours_solver(data, knapsack_solver)
    if problem == "lp":
        return "lp/ortools (SCIP)"
    if "backend" in params:
        return f"{problem}/{params['backend']}"
    info = next(i for i in solvers.available() if i.problem == problem and i.default)
    return f"{problem}/{info.backend}"


def _is_layer(spec: MethodSpec) -> bool:
    return registry.method_info(spec.ours).kind == "layer"
