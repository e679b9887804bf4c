"""The PyEPO side of a cell: PyEPO's own training loop on the cell's data.

As in PyEPO's experiment scripts (``pipeline.py``, ``run/train.py``, ``run/training/*.py``,
branch ``MPC``): ``torch.manual_seed(seed)``, ``optDataset`` on the train and test rows
(solving every instance; not timed), ``nn.Linear(5, d)``, Adam, ``DataLoader(batch_size=32,
shuffle=True)``, the method's loss, one solver process (``processes=1``, so the solver runs in
this process and its processor time is counted). The times (wall clock and processor) are
those of the training loop; two-stage is scikit-learn's ``LinearRegression`` (least squares).
The regret is ``pyepo.metric.regret`` (normalised; PyEPO's model solves the predicted costs),
and ``regret_common`` the same predictions scored by diffsolvers' solver and metric.
"""

from __future__ import annotations

import contextlib
import io
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

import solvers
from diffsolvers.metrics import normalized_regret

from .methods import BATCH_SIZE, MethodSpec, epochs_for
from .problems import PROBLEMS, CellData, ours_solver, pyepo_model, pyepo_solver_label

__all__ = ["PyepoData", "prepare_pyepo", "run_pyepo", "pyepo_version", "common_regret"]


def pyepo_version() -> str:
    from importlib.metadata import version

    return version("pyepo")


@dataclass
class PyepoData:
    """PyEPO's model and data sets of a cell (``optDataset`` solves every instance once)."""

    optmodel: Any
    trainset: Any
    testset: Any


def prepare_pyepo(data: CellData) -> PyepoData:
    """Build PyEPO's OR-Tools model and its train and test ``optDataset``."""
    import pyepo

    optmodel = pyepo_model(data)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        trainset = pyepo.data.dataset.optDataset(optmodel, data.x_train, data.c_train)
        testset = pyepo.data.dataset.optDataset(optmodel, data.x_test, data.c_test)
    return PyepoData(optmodel, trainset, testset)


def run_pyepo(
    data: CellData,
    spec: MethodSpec,
    *,
    epochs: int | None = None,
    prepared: PyepoData | None = None,
) -> dict[str, Any]:
    """Train and evaluate one PyEPO model; returns regret, time and what was run.

    ``prepared`` (from :func:`prepare_pyepo`) saves solving the data sets again per method.
    """
    import pyepo
    from torch.utils.data import DataLoader

    cell = data.cell
    epochs = epochs_for(cell.n_train) if epochs is None else epochs
    options, _ = spec.options(cell.problem)
    prepared = prepare_pyepo(data) if prepared is None else prepared
    optmodel, trainset, testset = prepared.optmodel, prepared.trainset, prepared.testset
    torch.manual_seed(cell.seed)
    test_loader = DataLoader(testset, batch_size=BATCH_SIZE, shuffle=False)
    if spec.pyepo_call == "regression":
        from sklearn.linear_model import LinearRegression

        start, start_cpu = time.perf_counter(), time.process_time()
        predictor = pyepo.twostage.sklearnPred(LinearRegression())
        predictor.fit(data.x_train, data.c_train)
        seconds, cpu = time.perf_counter() - start, time.process_time() - start_cpu
        epochs = 0

        def predict(x: np.ndarray) -> np.ndarray:
            return predictor.predict(np.asarray(x))

        regret = pyepo.metric.regret(predict, optmodel, test_loader)
        c_hat = predict(data.x_test)
    else:
        model = torch.nn.Linear(data.x_train.shape[1], data.c_train.shape[1])
        seconds, cpu = _train(model, optmodel, trainset, spec, options, epochs, cell.seed)
        regret = pyepo.metric.regret(model, optmodel, test_loader)
        with torch.no_grad():
            c_hat = model(torch.from_numpy(data.x_test)).numpy()
    return {
        "regret": float(regret),
        "regret_common": common_regret(data, c_hat),
        "train_seconds": seconds,
        "train_cpu_seconds": cpu,
        "epochs": epochs,
        "solver": pyepo_solver_label(cell.problem),
        "options": options,
    }


def _train(model, optmodel, trainset, spec, options, epochs, seed) -> tuple[float, float]:
    """PyEPO's training loop for one method; returns its wall-clock and processor seconds."""
    import pyepo
    from torch.utils.data import DataLoader

    start, start_cpu = time.perf_counter(), time.process_time()
    loader = DataLoader(trainset, batch_size=BATCH_SIZE, shuffle=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=spec.lr)
    extra: dict[str, Any] = {"processes": 1}
    if "solve_ratio" in options:
        extra["dataset"] = trainset
    if spec.pyepo in ("perturbedOpt", "perturbedFenchelYoung"):
        extra["seed"] = seed
    module = getattr(pyepo.func, spec.pyepo)(optmodel, **options, **extra)
    l1 = torch.nn.L1Loss()
    for _ in range(epochs):
        for x, c, w, z in loader:
            cp = model(x)
            if spec.pyepo_call == "spo":
                loss = module(cp, c, w, z)
            elif spec.pyepo_call == "objective":
                if spec.exact_optimum:
                    z = (w * c).sum(1, keepdim=True)
                loss = l1((module(cp) * c).sum(1, keepdim=True), z)
            elif spec.pyepo_call == "solution":
                loss = module(cp, w)
            else:
                loss = module(cp, c)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return time.perf_counter() - start, time.process_time() - start_cpu


def common_regret(data: CellData, c_hat: np.ndarray) -> float:
    """Normalised test regret of predicted costs ``c_hat`` by diffsolvers' solver and metric;
    NaN where diffsolvers has only the generic ``lp`` backend for the problem (as slow as
    PyEPO's own evaluation, which already gives the regret)."""
    problem, params = ours_solver(data)
    if problem == "lp":
        return math.nan
    sign = -1.0 if PROBLEMS[data.cell.problem].minimize else 1.0
    solver = solvers.get(problem, **params)
    costs = data.c_test.astype(np.float64)
    y_pred = solver.solve(sign * np.asarray(c_hat, np.float64))
    key = ("y_test", problem)
    if key not in data.cache:
        data.cache[key] = solver.solve(sign * costs)
    y_true = data.cache[key]
    return float(normalized_regret(y_pred, y_true, -sign * costs))
