"""Compare methods on a synthetic problem: linear models across polynomial degrees.

:func:`compare_synthetic` trains a linear model ``x ↦ ĉ`` (:mod:`.synthetic`) for every
(method, degree, seed) into ``OUT/runs/<problem>_<method>_deg<d>_seed<s>.json`` (a finished
run is never redone), then writes ``summary.csv``, ``summary.json`` and
``regret_vs_degree.png`` and prints the normalised test regret per method and degree, mean ±
sd over seeds; with a ``reference`` method, also each method's paired differences to it.

Example::

    compare_synthetic("shortest_path_graph", ["fenchel_young", "spo_plus"], [1, 2, 4, 6],
                      [0, 1, 2], "runs/compare_sp", SyntheticConfig())

Reference: Tang and Khalil, "PyEPO: A PyTorch-based End-to-End Predict-then-Optimize
Library" (the protocol and its regret against the degree).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..datasets.synthetic import make_synthetic
from .objectives import make_objective
from .output import make_folder, write_csv, write_json
from .paired import check_reference, format_difference, format_interval, paired_differences
from .plots import plot_regret_vs_degree
from .runner import check_names
from .synthetic import SyntheticConfig, train_synthetic
from .tables import format_mean_sd, format_table, mean_sd
from .warcraft_run import require_same_config

__all__ = ["compare_synthetic"]


def compare_synthetic(
    problem: str,
    methods: Sequence[str],
    degrees: Sequence[int],
    seeds: Sequence[int],
    out: str | Path,
    base: SyntheticConfig,
    progress: bool = True,
    reference: str | None = None,
) -> dict[str, Any]:
    """Normalised test regret per (method, degree), mean ± sd over seeds; skips finished runs.

    Names, degrees and finished runs are checked before any training, as in
    :func:`.compare.compare_warcraft`. ``reference`` (one of ``methods``) adds a table of
    every other method's regret minus the reference's per degree, paired by seed (a seed
    fixes the data and the initial weights): mean ± sd and the 95% t-interval
    (:mod:`.paired`).
    """
    check_names(methods, seeds)
    if not degrees:
        raise ValueError("compare needs at least one degree")
    check_reference(reference, methods)
    out = Path(out)
    for deg in degrees:  # unknown problem, bad degree: ValueError
        params = make_synthetic(problem, n=1, deg=deg).solver_params
    configs = {}
    for method in methods:
        make_objective(problem, method, solver_params=params, method_options=base.method_options)
        for deg in degrees:
            for seed in seeds:
                config = dataclasses.replace(
                    base, problem=problem, method=method, deg=deg, seed=seed
                )
                path = out / "runs" / f"{problem}_{method}_deg{deg}_seed{seed}.json"
                if path.exists():
                    wanted = config.to_dict()
                    saved = json.loads(path.read_text())
                    require_same_config({k: saved.get(k) for k in wanted}, wanted, path)
                configs[method, deg, seed] = (config, path)
    make_folder(out)
    results: dict[tuple[str, int], list[float]] = {}
    for method in methods:
        for deg in degrees:
            for seed in seeds:
                config, path = configs[method, deg, seed]
                if path.exists():
                    res = json.loads(path.read_text())
                else:
                    res = train_synthetic(config)
                    make_folder(path.parent)
                    write_json(res, path)
                if progress:
                    print(
                        f"[{problem}] {method:<30} deg {deg} seed {seed}: regret "
                        f"{100 * res['initial_regret']:.1f}% → {100 * res['final_regret']:.1f}%"
                    )
                results.setdefault((method, deg), []).append(res["final_regret"])

    rows = []
    for method in methods:
        for deg in degrees:
            m, s = mean_sd(results[(method, deg)])
            rows.append({"method": method, "deg": deg, "regret_mean": m, "regret_sd": s})
    table = [
        [method] + [format_mean_sd(results[(method, d)], digits=2) for d in degrees]
        for method in methods
    ]
    text = format_table(["method"] + [f"deg {d}" for d in degrees], table)
    print(f"\n{problem}: normalised test regret % (mean ± sd over {len(seeds)} seeds)\n\n{text}\n")
    write_csv(rows, out / "summary.csv")
    paired, paired_text = None, None
    if reference is not None and len(methods) > 1:
        paired = {
            deg: paired_differences({m: results[(m, deg)] for m in methods}, reference)
            for deg in degrees
        }
        others = [m for m in methods if m != reference]
        paired_rows = [[m] + [_paired_cell(paired[d][m]) for d in degrees] for m in others]
        paired_text = format_table(["method"] + [f"deg {d}" for d in degrees], paired_rows)
        print(
            f"Paired by seed against {reference}: normalised test regret % minus {reference}'s "
            "at the same seed and degree, mean ± sd [95% t-interval]; below zero is better\n\n"
            f"{paired_text}\n"
        )
    write_json(
        {
            "problem": problem,
            "config": base.to_dict(),
            "rows": rows,
            "table": text,
            "paired": None if paired is None else {"reference": reference, "by_degree": paired},
            "paired_table": paired_text,
        },
        out / "summary.json",
    )
    plot_regret_vs_degree(problem, methods, degrees, results, out / "regret_vs_degree.png")
    return {"rows": rows, "table": text, "paired": paired, "paired_table": paired_text}


def _paired_cell(d: dict[str, Any]) -> str:
    """``"+0.12 ± 0.03 [+0.05, +0.19]"`` (percentages) for one paired difference."""
    return f"{format_difference(d, 2)} {format_interval(d, 2)}"
