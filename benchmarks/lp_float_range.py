"""How wide a range of |θ| the floating-point path of the ``lp`` backend solves exactly.

The ``lp`` backend solves integer programs with integer data exactly (``solvers._lp_exact``)
and falls back to plain GLOP / SCIP for other forms (fractional LPs, continuous variables,
non-integer data), with a RuntimeWarning above ``solvers.lp.DYNAMIC_RANGE_LIMIT``. This
script measures where that floating-point path starts to return suboptimal answers, on
registered problems forced through it, compared with the exact engines. Two kinds of θ
over a range of ``d`` decades (random signs where the problem allows):

* ``spread``: log-uniform, ``|θ| ∈ [1, 10^d]``;
* ``ties``: small integers (many ties among the large entries) plus ``10^-d`` times a
  uniform on [1, 2] on every entry, so the small parts decide between tied solutions (the shape of
  the issue's ``[[1, 1e-8], [1, 1]]``).

It prints, per problem and range, the share of suboptimal instances (relative gap above
1e-12).

    python benchmarks/lp_float_range.py [--instances 40] [--decades 3 4 5 6 7 8 9]
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

_HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(_HERE.parent)]  # this checkout, not an installed copy

import solvers  # noqa: E402
from solvers._lp_float import FloatModel  # noqa: E402
from solvers.lp import _Model  # noqa: E402
from solvers.shortest_path_graph import grid_dag  # noqa: E402

#: problem -> (solver parameters, instance shape, sign of θ: -1 where θ = -costs)
CASES = {
    "shortest_path": ({}, (4, 4), -1),
    "shortest_path_graph": (grid_dag(3, 3), (12,), -1),
    "ranking": ({}, (6,), 0),
    "assignment": ({}, (5, 5), 0),
    "top_k": ({"k": 3}, (8,), 0),
    "knapsack": ({"weights": [3, 1, 4, 1, 5, 9, 2, 6, 5, 3], "capacity": 15}, (10,), 1),
    "spanning_tree": ({"n_nodes": 5}, (10,), 0),
}


def draw(rng: np.random.Generator, shape: tuple, sign: int, decades: float, kind: str):
    if kind == "spread":
        theta = 10.0 ** rng.uniform(0.0, decades, size=shape) * rng.uniform(1.0, 2.0, shape)
    else:
        theta = rng.integers(1, 4, size=shape) + 10.0**-decades * rng.uniform(1.0, 2.0, shape)
    if sign == 0:
        return theta * rng.choice([-1.0, 1.0], size=shape)
    return sign * theta


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=40)
    parser.add_argument("--decades", type=float, nargs="+", default=[3, 4, 5, 6, 7, 8, 9])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kinds", nargs="+", default=["spread", "ties"])
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    print(f"suboptimal share of {args.instances} instances, float path vs exact engines")
    for kind in args.kinds:
        print(f"\n{kind + ': range':<22}" + "".join(f"1e{d:<6g}" for d in args.decades))
        for problem, (params, shape, sign) in CASES.items():
            print(f"{problem:<22}" + _row(rng, args, kind, problem, params, shape, sign))


def _row(rng, args, kind, problem, params, shape, sign) -> str:
    """The suboptimal share per range for one problem."""
    solver = solvers.get(problem, **params)
    form = solver.lp_form(shape)
    exact, floating = _Model(form, problem), FloatModel(form, problem)
    row = []
    for decades in args.decades:
        bad = 0
        for _ in range(args.instances):
            theta = draw(rng, shape, sign, decades, kind)
            y_exact, certified = exact.solve(theta)
            assert certified, f"{problem}: the exact engine did not certify"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                y_float = floating.solve(theta)
            best = float(solver.objective(theta, y_exact))
            got = float(solver.objective(theta, y_float))
            bad += (best - got) > 1e-12 * abs(best)
        row.append(f"{bad / args.instances:<8.2f}")
    return "".join(row)


if __name__ == "__main__":
    main()
