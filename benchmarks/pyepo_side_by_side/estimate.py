"""How long a grid will take: each (problem, method, side) timed briefly, then extrapolated.

For each problem one cell (degree 4, noise 0.5, 100 training instances, seed 0) is run for
``epochs`` epochs per method and side. A run's time splits into its training time, which
grows with the number of training examples seen (PyEPO's rule keeps that at 20,000 per run
for both sizes), and the rest (labelling, evaluation), taken as fixed per run::

    estimate(run) = (wall − train) + train × 20,000 / (epochs × 100)

plus PyEPO's data-set preparation once per cell. The measure is taken on the machine as it is
(other work included), so it is a rough guide, not a promise.
"""

from __future__ import annotations

import time
from typing import Any

from .grid import Grid
from .methods import ALL_METHODS
from .problems import Cell, generate

__all__ = ["estimate_grid", "EXAMPLES_PER_RUN"]

EXAMPLES_PER_RUN = 20000


def estimate_grid(grid: Grid, epochs: int = 2, log: Any = print) -> dict[str, Any]:
    """Seconds per run and in total for ``grid`` (see the module docstring)."""
    from .ours import MethodNotRegistered, run_ours
    from .theirs import prepare_pyepo, run_pyepo

    scale = EXAMPLES_PER_RUN / (epochs * 100)
    per_run: dict[tuple[str, str, str], float] = {}
    prepare: dict[str, float] = {}
    for problem in grid.problems:
        data = generate(Cell(problem, 4, 0.5, 100, 0), grid.n_test)
        prepared = None
        if "pyepo" in grid.sides:
            t0 = time.perf_counter()
            prepared = prepare_pyepo(data)
            prepare[problem] = time.perf_counter() - t0
        for name in grid.methods:
            spec = ALL_METHODS[name]
            for side in grid.sides:
                t0 = time.perf_counter()
                try:
                    if side == "ours":
                        res = run_ours(
                            data, spec, knapsack_solver=grid.knapsack_solver, epochs=epochs
                        )
                    else:
                        res = run_pyepo(data, spec, epochs=epochs, prepared=prepared)
                except MethodNotRegistered:
                    continue
                wall = time.perf_counter() - t0
                train = res["train_seconds"]
                if spec.pyepo_call == "regression" and side == "pyepo":
                    est = wall  # closed form: no epochs
                else:
                    est = wall - train + train * scale
                per_run[problem, name, side] = est
                log(f"{problem:<14} {name:<14} {side:<5} ~{est:7.1f}s per run")
    n_cells = {p: sum(c.problem == p for c in grid.cells()) for p in grid.problems}
    total = sum(n_cells[p] * s for (p, _, _), s in per_run.items())
    total += sum(n_cells[p] * s for p, s in prepare.items())
    by_problem = {
        p: n_cells[p] * (sum(s for (q, _, _), s in per_run.items() if q == p) + prepare.get(p, 0))
        for p in grid.problems
    }
    for p, s in by_problem.items():
        log(f"{p}: {n_cells[p]} cells, ~{s / 3600:.2f} h")
    log(f"total: ~{total / 3600:.2f} h (measured under the current load)")
    return {"per_run": per_run, "prepare": prepare, "by_problem": by_problem, "total": total}
