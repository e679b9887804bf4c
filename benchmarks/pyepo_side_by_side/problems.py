"""One data set per cell, drawn as PyEPO's experiment scripts draw it, and each library's solver.

PyEPO's scripts (khalil-research/PyEPO, branch ``MPC``: ``run/utils.py``, ``config/``) draw
``n_train + 1000`` feature/cost pairs with ``pyepo.data.<problem>.genData(..., seed=seed)``
and split them with ``sklearn.model_selection.train_test_split(test_size=1000,
random_state=seed)``. Here the same numbers come from diffsolvers' generator
(:func:`diffsolvers.datasets.synthetic.polynomial_costs`, PyEPO's formula) fed with PyEPO's
random stream (``np.random.RandomState(seed)``, draws in PyEPO's order), so the data need no
PyEPO to exist; :func:`check_pyepo_data` compares them with PyEPO's own generator wherever
PyEPO is installed:

* shortest path, 5×5 grid, 40 edge costs: ``B`` (40×5 Bernoulli), ``x`` (n×5 normal), the
  noise, ``c`` as float32;
* 2-D knapsack, 32 items, capacity 20 in each dimension: the weights
  ``choice(300..799, (2, 32)) / 100`` first, then ``B``, ``x``, the noise, and the values
  ``ceil(5 c)``.

The split is sklearn's ``ShuffleSplit``: ``permutation = RandomState(seed).permutation(n)``,
test rows ``permutation[:1000]``, train rows ``permutation[1000:]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

import solvers
from diffsolvers.datasets.synthetic import SyntheticProblem, polynomial_costs
from solvers.shortest_path_graph import grid_dag

__all__ = [
    "PROBLEMS",
    "N_FEATURES",
    "N_TEST",
    "Cell",
    "CellData",
    "DataMismatch",
    "generate",
    "pyepo_split",
    "ours_solver",
    "to_synthetic",
    "pyepo_model",
    "pyepo_solver_label",
    "check_pyepo_data",
    "check_solvers_agree",
]

N_FEATURES = 5
N_TEST = 1000
GRID = (5, 5)
KS_ITEMS, KS_DIM, KS_CAPACITY = 32, 2, 20.0


@dataclass(frozen=True)
class ProblemSpec:
    """A PyEPO benchmark problem: its cost dimension and sense."""

    name: str
    n_costs: int
    minimize: bool
    description: str


PROBLEMS = {
    "shortest_path": ProblemSpec("shortest_path", 40, True, "5×5 grid, right/down edges"),
    "knapsack": ProblemSpec("knapsack", KS_ITEMS, False, "2-D knapsack, 32 items, capacity 20"),
}


class DataMismatch(RuntimeError):
    """The two libraries would not see the same data or the same optima."""


@dataclass(frozen=True)
class Cell:
    """One experiment: a data set (problem, degree, noise half-width, training size, seed)."""

    problem: str
    deg: int
    noise: float
    n_train: int
    seed: int

    def __post_init__(self) -> None:
        if self.problem not in PROBLEMS:
            raise ValueError(f"unknown problem {self.problem!r}; available: {', '.join(PROBLEMS)}")
        if isinstance(self.n_train, bool) or not isinstance(self.n_train, int) or self.n_train < 1:
            raise ValueError(f"n_train must be a positive integer, got {self.n_train!r}")
        if isinstance(self.deg, bool) or not isinstance(self.deg, int) or self.deg < 1:
            raise ValueError(f"deg must be a positive integer, got {self.deg!r}")
        if not 0.0 <= self.noise < 1.0:
            raise ValueError(f"noise must lie in [0, 1), got {self.noise!r}")

    def label(self) -> str:
        return f"{self.problem} deg {self.deg} noise {self.noise} n {self.n_train} seed {self.seed}"


@dataclass
class CellData:
    """The data of a cell, split as PyEPO splits it; float32 features and costs."""

    cell: Cell
    x_train: np.ndarray
    c_train: np.ndarray
    x_test: np.ndarray
    c_test: np.ndarray
    weights: np.ndarray | None = None  # knapsack: (2, 32)
    capacity: np.ndarray | None = None  # knapsack: (2,)
    cache: dict[Any, Any] = field(default_factory=dict, repr=False)  # e.g. solved test rows


def pyepo_split(n_rows: int, n_test: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train and test row indices of ``train_test_split(test_size=n_test, random_state=seed)``."""
    if not 0 < n_test < n_rows:
        raise ValueError(f"need 0 < n_test < n_rows, got n_test={n_test}, n_rows={n_rows}")
    perm = np.random.RandomState(seed).permutation(n_rows)
    return perm[n_test:], perm[:n_test]


def _draw(cell: Cell, rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Features, costs (float32) and knapsack weights, in PyEPO's order of draws."""
    rnd = np.random.RandomState(cell.seed)
    spec = PROBLEMS[cell.problem]
    weights = None
    if cell.problem == "knapsack":
        weights = rnd.choice(range(300, 800), size=(KS_DIM, KS_ITEMS)) / 100
    x, c = polynomial_costs(rows, N_FEATURES, spec.n_costs, cell.deg, cell.noise, rnd)
    if cell.problem == "knapsack":
        c = np.ceil(5.0 * c)
    return x, c.astype(np.float32), weights


def generate(cell: Cell, n_test: int = N_TEST) -> CellData:
    """The data set of ``cell`` (module docstring), split into train and test rows
    (``n_test`` other than PyEPO's 1,000 only to make quick checks)."""
    rows = cell.n_train + n_test
    x, c, weights = _draw(cell, rows)
    train, test = pyepo_split(rows, n_test, cell.seed)
    x = x.astype(np.float32)
    capacity = None if weights is None else np.full(KS_DIM, KS_CAPACITY)
    return CellData(cell, x[train], c[train], x[test], c[test], weights, capacity)


def check_pyepo_data(data: CellData) -> None:
    """:class:`DataMismatch` unless PyEPO's own generator gives the same arrays."""
    import pyepo

    cell = data.cell
    n_test = len(data.x_test)
    rows = cell.n_train + n_test
    if cell.problem == "shortest_path":
        x, c = pyepo.data.shortestpath.genData(
            rows, N_FEATURES, GRID, deg=cell.deg, noise_width=cell.noise, seed=cell.seed
        )
        weights = None
    else:
        weights, x, c = pyepo.data.knapsack.genData(
            rows,
            N_FEATURES,
            KS_ITEMS,
            dim=KS_DIM,
            deg=cell.deg,
            noise_width=cell.noise,
            seed=cell.seed,
        )
    train, test = pyepo_split(rows, n_test, cell.seed)
    pairs = {
        "train features": (data.x_train, np.asarray(x, np.float32)[train]),
        "test features": (data.x_test, np.asarray(x, np.float32)[test]),
        "train costs": (data.c_train, np.asarray(c)[train]),
        "test costs": (data.c_test, np.asarray(c)[test]),
    }
    if weights is not None:
        pairs["weights"] = (data.weights, weights)
    for what, (ours, theirs) in pairs.items():
        if ours.shape != theirs.shape or not np.array_equal(ours, theirs):
            raise DataMismatch(f"{cell.label()}: {what} differ from pyepo.data's generator")


def ours_solver(data: CellData, knapsack_solver: str = "auto") -> tuple[str, dict[str, Any]]:
    """diffsolvers' problem name and solver parameters for the cell.

    Shortest path: ``shortest_path_graph`` on :func:`grid_dag` (PyEPO's edge order). Knapsack:
    ``multi_knapsack`` (weights ``(2, 32)``, capacity ``(2,)``) when that problem is
    registered, else (or with ``knapsack_solver="lp"``) the generic ``lp`` backend on
    ``A_ub = weights``, ``b_ub = capacity``, binary variables.
    """
    if data.cell.problem == "shortest_path":
        return "shortest_path_graph", grid_dag(*GRID)
    choices = ("auto", "multi_knapsack", "lp")
    if knapsack_solver not in choices:
        raise ValueError(f"knapsack_solver must be one of {choices}, got {knapsack_solver!r}")
    if knapsack_solver == "auto":
        registered = "multi_knapsack" in solvers.problems()
        knapsack_solver = "multi_knapsack" if registered else "lp"
    if knapsack_solver == "multi_knapsack":
        # PyEPO's weights are integers / 100: weight_scale=100 keeps them exact; on that grid
        # the branch and bound takes microseconds an instance, CP-SAT about 4 ms, the DP's
        # table (1.3e8 cells) 250 ms (benchmarks/bench_multi_knapsack.py)
        params = {
            "backend": "branch_and_bound",
            "weights": data.weights,
            "capacity": data.capacity,
            "weight_scale": 100,
        }
        return "multi_knapsack", params
    n = data.weights.shape[1]
    return "lp", {
        "A_ub": data.weights,
        "b_ub": data.capacity,
        "lower": np.zeros(n),
        "upper": np.ones(n),
        "integrality": np.ones(n, dtype=bool),
    }


def to_synthetic(data: CellData, problem: str, solver_params: dict[str, Any]) -> SyntheticProblem:
    """The cell as a diffsolvers :class:`SyntheticProblem`: train rows first, then test rows."""
    cell = data.cell
    return SyntheticProblem(
        problem=problem,
        x=np.concatenate([data.x_train, data.x_test]),
        costs=np.concatenate([data.c_train, data.c_test]),
        sign=-1.0 if PROBLEMS[cell.problem].minimize else 1.0,
        solver_params=solver_params,
        deg=cell.deg,
        noise_width=cell.noise,
        seed=cell.seed,
    )


def pyepo_solver_label(problem: str) -> str:
    """The OR-Tools solver PyEPO's model of ``problem`` uses, as recorded in the results."""
    return "pyepo.model.ort/" + ("glop" if problem == "shortest_path" else "scip")


def pyepo_model(data: CellData) -> Any:
    """PyEPO's OR-Tools model of the cell: GLOP on the path LP, SCIP on the knapsack MIP."""
    import pyepo

    if data.cell.problem == "shortest_path":
        return pyepo.model.ort.shortestPathModel(GRID)
    return pyepo.model.ort.knapsackModel(data.weights, data.capacity)


def check_solvers_agree(
    data: CellData, problem: str, solver_params: dict[str, Any], n: int = 20
) -> float:
    """Solve the first ``n`` test instances with both libraries; :class:`DataMismatch` unless
    the optimal objectives agree (relative 1e-6). Returns the largest relative difference."""
    costs = data.c_test[:n].astype(np.float64)
    sign = -1.0 if PROBLEMS[data.cell.problem].minimize else 1.0
    y = solvers.get(problem, **solver_params).solve(sign * costs)
    ours = (y * costs).sum(axis=1)
    model = pyepo_model(data)
    theirs = []
    for c in costs:
        model.setObj(c)
        sol, _ = model.solve()  # the solver's objective value carries its tolerance
        theirs.append(float(np.asarray(sol, np.float64) @ c))
    gap = np.abs(ours - np.array(theirs)) / np.maximum(1.0, np.abs(ours))
    if gap.max() > 1e-6:
        i = int(gap.argmax())
        raise DataMismatch(
            f"{data.cell.label()}: optimal objectives differ on test instance {i}: "
            f"diffsolvers {ours[i]:.6g}, PyEPO {theirs[i]:.6g}"
        )
    return float(gap.max())
