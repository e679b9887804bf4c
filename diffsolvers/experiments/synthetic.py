"""Train a linear model ``x ↦ ĉ`` through each method on a synthetic problem.

The data come from :func:`diffsolvers.datasets.synthetic.make_synthetic` (PyEPO-style
polynomial costs). The model is a linear layer from features to costs (or values); the
objective is the method's (see :mod:`.objectives`); the reported metric is the normalised
regret on a held-out test set,

    Σ_i (⟨c_i, y*(ĉ_i)⟩ − ⟨c_i, y*(c_i)⟩) / Σ_i |⟨c_i, y*(c_i)⟩|

for minimisation problems (and the mirror image for maximisation problems: value lost over
optimal value), as in PyEPO.

``two_stage`` with ``two_stage_fit="least_squares"`` (the default) fits the linear model in
closed form, the least-squares solution of ``[x, 1] W = c`` over the training rows (what
the mean squared error that the ``two_stage`` loss trains on converges to, and what
PyEPO's two-stage baseline fits with scikit-learn's ``LinearRegression``); ``"gradient"``
trains it by Adam on that loss for ``epochs`` epochs like every other method.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

import solvers

from ..datasets.synthetic import SyntheticProblem, make_synthetic
from ..metrics import normalized_regret
from .objectives import make_objective

__all__ = ["SyntheticConfig", "TWO_STAGE_FITS", "train_synthetic"]

TWO_STAGE_FITS = ("least_squares", "gradient")


@dataclass
class SyntheticConfig:
    problem: str = "shortest_path_graph"
    method: str = "fenchel_young"
    deg: int = 1
    n_train: int = 1000
    n_test: int = 1000
    n_features: int = 5
    noise_width: float = 0.5
    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-2
    seed: int = 0
    two_stage_fit: str = "least_squares"
    method_options: dict[str, Any] = field(
        default_factory=lambda: {"sigma": 1.0, "n_samples": 10, "lambda_": 10.0}
    )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def train_synthetic(
    config: SyntheticConfig,
    *,
    data: SyntheticProblem | None = None,
    layer_loss: str = "hamming",
    curve: bool = True,
) -> dict[str, Any]:
    """Train one linear model; returns train/test regrets before and after training.

    ``data`` (optional) is a data set to use instead of drawing one with
    :func:`make_synthetic`: its first ``config.n_train`` rows train, the next
    ``config.n_test`` test (its problem and sizes must match ``config``), so that another
    library can be run on the very same data. ``layer_loss`` is what layer methods are
    trained on (:data:`.objectives.LAYER_LOSSES`). ``curve=False`` skips the test regret
    after every epoch (the final one is still computed). ``train_seconds`` in the result is
    the wall-clock time spent in the training steps, test evaluations excluded, and
    ``train_cpu_seconds`` the processor time of this process over the same steps. A loss on
    a solution pool (``nce``, the learning-to-rank losses...) starts its pool from the
    training solutions, as PyEPO's do, unless ``method_options`` gives one.
    """
    if config.two_stage_fit not in TWO_STAGE_FITS:
        choices = ", ".join(TWO_STAGE_FITS)
        raise ValueError(f"two_stage_fit must be one of {choices}, got {config.two_stage_fit!r}")
    torch.manual_seed(config.seed)
    if data is None:
        data = make_synthetic(
            config.problem,
            n=config.n_train + config.n_test,
            p=config.n_features,
            deg=config.deg,
            noise_width=config.noise_width,
            seed=config.seed,
        )
    else:
        _check_data(data, config)
    solver = solvers.get(config.problem, **data.solver_params)
    cut = config.n_train
    x = torch.from_numpy(data.x)
    # Every method and the regret see one convention, costs (θ = −costs): the true costs of
    # minimisation problems, the negated values of maximisation problems.
    costs = torch.from_numpy(-data.theta)
    y = torch.from_numpy(solver.solve(data.theta)).float()
    sign = data.sign
    out_shape = data.costs.shape[1:]
    model = torch.nn.Linear(data.x.shape[1], int(np.prod(out_shape)))

    def predict(xb: torch.Tensor) -> torch.Tensor:
        """The model's costs in the common convention (θ = −costs)."""
        return -sign * model(xb).reshape(xb.shape[0], *out_shape)

    objective = make_objective(
        config.problem,
        config.method,
        solver_params=data.solver_params,
        method_options=config.method_options,
        layer_loss=layer_loss,
    )
    pool = getattr(objective.module, "pool", None)
    if pool is not None and (config.method_options or {}).get("pool") is None:
        pool.add(y[:cut])  # the losses on a pool start from the training solutions, as PyEPO's
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)

    def test_regret() -> float:
        with torch.no_grad():
            c_hat = predict(x[cut:]).double()
        y_pred = torch.from_numpy(solver.solve(-c_hat.numpy()))
        return float(normalized_regret(y_pred, y[cut:].double(), costs[cut:].double()))

    initial = test_regret()
    gen = torch.Generator().manual_seed(config.seed)
    regrets = []
    train_seconds = train_cpu_seconds = 0.0
    closed_form = config.method == "two_stage" and config.two_stage_fit == "least_squares"
    if closed_form:
        start_time, start_cpu = time.perf_counter(), time.process_time()
        _fit_least_squares(model, x[:cut], -sign * costs[:cut].reshape(cut, -1))
        train_seconds = time.perf_counter() - start_time
        train_cpu_seconds = time.process_time() - start_cpu
        regrets.append(test_regret())
    for epoch in range(0 if closed_form else config.epochs):
        start_time, start_cpu = time.perf_counter(), time.process_time()
        objective.manual_seed(config.seed * 1000 + epoch)
        order = torch.randperm(cut, generator=gen)
        for start in range(0, cut, config.batch_size):
            idx = order[start : start + config.batch_size]
            loss = objective(predict(x[idx]), costs_true=costs[idx], y_true=y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        train_seconds += time.perf_counter() - start_time
        train_cpu_seconds += time.process_time() - start_cpu
        if curve or epoch == config.epochs - 1:
            regrets.append(test_regret())
    return {
        **config.to_dict(),
        "initial_regret": initial,
        "final_regret": regrets[-1] if regrets else initial,
        "regret_curve": regrets,
        "layer_loss": layer_loss,
        "train_seconds": train_seconds,
        "train_cpu_seconds": train_cpu_seconds,
    }


def _fit_least_squares(model: torch.nn.Linear, x: torch.Tensor, target: torch.Tensor) -> None:
    """Set ``model`` to the least-squares fit of ``target`` on ``[x, 1]`` (float64, minimum
    norm where the features are collinear)."""
    design = torch.cat([x.double(), torch.ones(x.shape[0], 1, dtype=torch.float64)], dim=1)
    solution = torch.linalg.lstsq(design, target.double(), driver="gelsd").solution
    with torch.no_grad():
        model.weight.copy_(solution[:-1].T)
        model.bias.copy_(solution[-1])


def _check_data(data: SyntheticProblem, config: SyntheticConfig) -> None:
    """``ValueError`` unless ``data`` fits ``config`` (problem, rows, features)."""
    rows = config.n_train + config.n_test
    if data.problem != config.problem:
        raise ValueError(f"data is a {data.problem!r} problem, config asks for {config.problem!r}")
    if len(data) != rows or data.costs.shape[0] != rows:
        raise ValueError(f"data has {len(data)} rows, config needs n_train + n_test = {rows}")
    if data.x.ndim != 2 or data.x.shape[1] != config.n_features:
        raise ValueError(
            f"data has features of shape {data.x.shape}, config needs {config.n_features}"
        )
