"""Compare methods on the same data, model, optimiser and seeds.

``compare_warcraft`` trains every (method, seed) pair with :func:`.warcraft.train_warcraft`
into ``OUT/<method>/seed<s>/`` (a finished run, one with ``metrics.json``, is never redone;
an interrupted one resumes from its checkpoint), then writes ``summary.csv``,
``summary.json`` and ``validation_curves.png`` into ``OUT`` and prints a table of test
metrics as mean ± sd over seeds, with a note when the runs trained on different devices
(their timing columns then compare machines too), a table of the methods' test cost
profiles (:mod:`.cost_profile`, means over seeds) when every run recorded one, and, given
a ``reference`` method, each method's paired differences to it over the seeds
(:mod:`.paired`).

``compare_synthetic`` does the same for linear models on a synthetic problem across
polynomial degrees (``regret_vs_degree.png``).
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np

from ..datasets.synthetic import make_synthetic
from ..datasets.warcraft_generator import ensure_warcraft_data, existing_warcraft_data
from .cost_profile import (
    class_label,
    mean_profile,
    profile_cells,
    profile_levels,
    true_ratio_cells,
)
from .objectives import make_objective
from .paired import (
    check_reference,
    format_difference,
    format_interval,
    format_paired,
    paired_differences,
)
from .runner import RunInUse, run_holder, write_csv, write_json
from .synthetic import SyntheticConfig, train_synthetic
from .warcraft import (
    WarcraftConfig,
    check_same_run,
    data_signature,
    load_results,
    require_same_config,
    require_same_data,
    train_warcraft,
)

__all__ = [
    "compare_warcraft",
    "compare_synthetic",
    "mean_sd",
    "format_table",
    "exit_with_parent",
]


def mean_sd(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        return float("nan"), float("nan")
    return float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else 0.0


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain aligned text table (Markdown-compatible)."""
    cells = [list(header)] + [list(r) for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(cells[0], widths)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells[1:]:
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |")
    return "\n".join(lines)


def _pm(values: Sequence[float], scale: float = 100.0, digits: int = 1) -> str:
    m, s = mean_sd(values)
    return f"{scale * m:.{digits}f} ± {scale * s:.{digits}f}"


def _train_one(config: WarcraftConfig, run_dir: Path) -> dict[str, Any]:
    """Train (or resume) one run of a comparison; module level so that workers can run it."""
    return train_warcraft(config, run_dir, resume=(run_dir / "checkpoint.pt").exists())


def _train_in_processes(
    keys: Sequence[tuple[str, int]],
    configs: dict[tuple[str, int], WarcraftConfig],
    out: Path,
    jobs: int,
) -> dict[tuple[str, int], dict[str, Any]]:
    """Train the runs ``keys`` in ``jobs`` worker processes (spawned: safe with CUDA)."""
    jobs = min(jobs, len(keys))
    threads = max(1, _usable_cores() // jobs)
    results = {}
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=context,
        initializer=exit_with_parent,
        initargs=(os.getpid(),),
    )
    try:
        futures = {}
        for method, seed in keys:
            config = configs[method, seed]
            config = dataclasses.replace(config, progress=False, threads=config.threads or threads)
            run_dir = out / method / f"seed{seed}"
            futures[pool.submit(_train_one, config, run_dir)] = (method, seed)
        print(f"training {len(keys)} runs, {jobs} at a time ({out})")
        for future in as_completed(futures):
            method, seed = futures[future]
            results[method, seed] = done = future.result()
            print(
                f"[{method} seed {seed}] test optimal-cost paths "
                f"{100 * done['test']['optimal']:.1f}%, exact {100 * done['test']['exact']:.1f}%"
                f" ({len(results)}/{len(keys)} done)"
            )
    except BaseException:
        # Ctrl-C or a failed run: cancel the queued runs (one that the pool had already
        # handed on may still start; running ones got the Ctrl-C too and stop at their last
        # checkpoint; a later call resumes them).
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return results


def exit_with_parent(parent_pid: int, interval: float = 2.0) -> None:
    """Worker initializer: end this worker process once the comparison that started it
    (``parent_pid``) is gone.

    Ctrl-C reaches the workers with their parent, but a parent ended by a signal it does
    not pass on (``kill``, a closed terminal, a job scheduler) would leave them training,
    unseen, into the run folders, and a later call would then train the same runs again
    beside them. A daemon thread checks every ``interval`` seconds whether this process has
    been handed to another parent, and exits it if so; an unfinished run resumes from its
    last per-epoch checkpoint on the next call.
    """

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(interval)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _usable_cores() -> int:
    """Cores this process may run on (its affinity where the OS tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _run_device(run_dir: Path, result: dict[str, Any]) -> str:
    """Where a finished run trained: its results' ``device``, else (a run saved before that
    was recorded) the device its ``config.json`` asked for."""
    return result.get("device") or _saved_config(run_dir).get("device", "cpu")


def _saved_config(run_dir: Path) -> dict[str, Any]:
    """A run folder's ``config.json`` (``{}`` when it has none)."""
    path = run_dir / "config.json"
    return json.loads(path.read_text()) if path.exists() else {}


# -- Warcraft -------------------------------------------------------------------------------------
def compare_warcraft(
    methods: Sequence[str],
    seeds: Sequence[int],
    out: str | Path,
    base: WarcraftConfig,
    *,
    jobs: int = 1,
    reference: str | None = None,
) -> dict[str, Any]:
    """Train each method with each seed (skipping finished runs); summarise and plot.

    Every method name and every existing run folder is checked before any training: an
    unknown method raises ``ValueError``, and a folder holding a run of another
    configuration, or a finished run trained on other data than is found now (see
    :func:`.warcraft.data_signature`), raises :class:`RunAlreadyExists`, so that results of
    different configurations or data are never mixed in one table; a run still to train
    that another process is training now raises :class:`.runner.RunInUse`.

    ``jobs > 1`` trains that many runs at once, each in its own process (each holds its
    own copy of the data; without ``base.threads``, the cores are shared out among them;
    progress bars are off and a line is printed as each run ends). Worth it on a GPU, whose
    small Warcraft steps leave it idle between the CPU's turns, and on many cores.

    ``reference`` (one of ``methods``) adds a table of every other method's test
    optimal-cost share and regret minus the reference's, paired by seed: mean ± sd, a 95%
    t-interval and the number of seeds at or above (:func:`.paired.paired_differences`).
    """
    if not seeds:
        raise ValueError("compare needs at least one seed")
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    check_reference(reference, methods)
    out = Path(out)
    configs = {}
    for method in methods:
        make_objective("shortest_path", method, method_options=base.method_options)
        for seed in seeds:
            config = dataclasses.replace(base, method=method, seed=seed)
            check_same_run(out / method / f"seed{seed}", config)
            configs[method, seed] = config
    results: dict[tuple[str, int], dict[str, Any]] = {
        key: done
        for key in configs
        if (done := load_results(out / key[0] / f"seed{key[1]}")) is not None
    }
    pending = [key for key in configs if key not in results]
    busy = [str(e) for m, sd in pending if (e := run_holder(out / m / f"seed{sd}")) is not None]
    if busy:
        raise RunInUse("\n".join(busy))
    # The data: generated now only if some run still has to train; every run folder that
    # recorded its data (finished, or with a config) must have used the data found now.
    root = base.data or existing_warcraft_data(base.k)
    if root is None and pending:
        root = ensure_warcraft_data(base.k, progress=base.progress)
    if root is not None:
        signature = data_signature(root, base.k)
        for method, seed in configs:
            run_dir = out / method / f"seed{seed}"
            saved = results.get((method, seed)) or _saved_config(run_dir)
            require_same_data(saved, signature, run_dir)
    for method, seed in results:
        print(f"[{method} seed {seed}] finished earlier: skipped ({out / method / f'seed{seed}'})")
    out.mkdir(parents=True, exist_ok=True)
    if jobs > 1 and len(pending) > 1:
        results.update(_train_in_processes(pending, configs, out, jobs))
    else:
        for method, seed in pending:
            results[method, seed] = _train_one(configs[method, seed], out / method / f"seed{seed}")
    runs: dict[str, list[dict[str, Any]]] = {
        method: [results[method, seed] for seed in seeds] for method in methods
    }

    rows, table, devices = [], [], {}
    for method, results in runs.items():
        tests = [r["test"] for r in results]
        devices[method] = sorted(
            {_run_device(out / method / f"seed{s}", r) for s, r in zip(seeds, results)}
        )
        row = {"method": method, "seeds": len(results), "devices": " ".join(devices[method])}
        for key in ("optimal", "exact", "regret", "cell_acc"):
            m, s = mean_sd([t[key] for t in tests])
            row[f"{key}_mean"], row[f"{key}_sd"] = m, s
        m, s = mean_sd([r["train_seconds_per_epoch"] for r in results])
        row["seconds_per_epoch_mean"], row["seconds_per_epoch_sd"] = m, s
        row["solver_share_mean"] = mean_sd([r["solver_share"] for r in results])[0]
        rows.append(row)
        table.append(
            [
                method,
                str(len(results)),
                _pm([t["optimal"] for t in tests]),
                _pm([t["exact"] for t in tests]),
                _pm([t["regret"] for t in tests], digits=2),
                f"{row['seconds_per_epoch_mean']:.1f}",
                f"{100 * row['solver_share_mean']:.1f}",
            ]
        )
    header = [
        "method",
        "seeds",
        "optimal-cost paths %",
        "exact paths %",
        "regret %",
        "s/epoch",
        "solver %",
    ]
    text = format_table(header, table)
    print(f"\nWarcraft {base.k}x{base.k}, {base.epochs} epochs, test split\n\n{text}\n")
    if len({d for ds in devices.values() for d in ds}) > 1:
        where = "; ".join(f"{m}: {', '.join(ds)}" for m, ds in devices.items())
        print(
            f"note: the runs trained on different devices ({where}), so s/epoch and solver % "
            "compare machines as well as methods\n"
        )
    paired, paired_text = _paired(runs, reference) if reference is not None else (None, None)
    if paired_text is not None:
        print(
            f"Paired by seed against {reference}: this method's test value minus {reference}'s "
            "at the same seed (mean ± sd over seeds), the 95% t-interval of the mean "
            f"difference, and the seeds at or above {reference}\n\n{paired_text}\n"
        )
    profiles = {m: mean_profile([r.get("test_cost_profile") for r in rs]) for m, rs in runs.items()}
    profile_text = _profile_table(profiles)
    if profile_text is None:
        print(
            "cost profiles: some runs were saved without one; "
            f"`diffsolvers evaluate warcraft {out}/*/seed*` computes them\n"
        )
    else:
        print(
            "Predicted cost per terrain class ÷ that of the cheapest class, mean ± sd over "
            f"the test cells (means over seeds)\n\n{profile_text}\n"
        )
    write_csv(rows, out / "summary.csv")
    write_json(
        {
            "config": base.to_dict(),
            "methods": rows,
            "table": text,
            "cost_profiles": profiles,
            "profile_table": profile_text,
            "paired": paired,
            "paired_table": paired_text,
        },
        out / "summary.json",
    )
    _plot_curves(runs, out / "validation_curves.png")
    return {
        "rows": rows,
        "table": text,
        "runs": runs,
        "profile_table": profile_text,
        "paired": paired,
        "paired_table": paired_text,
    }


def _paired(
    runs: dict[str, list[dict[str, Any]]], reference: str
) -> tuple[dict[str, Any] | None, str | None]:
    """Paired differences of the test optimal-cost share and regret to ``reference``, and
    their table (``None`` when there is no other method)."""
    if len(runs) < 2:
        return None, None
    by_metric = {
        key: paired_differences(
            {m: [r["test"][key] for r in rs] for m, rs in runs.items()}, reference
        )
        for key in ("optimal", "regret")
    }
    header = [
        "method",
        f"Δ optimal-cost paths % vs {reference}",
        "95% interval",
        "seeds at or above",
        "Δ regret %",
    ]
    table = format_table(header, format_paired(by_metric["optimal"], by_metric["regret"]))
    return {"reference": reference, **by_metric}, table


def _profile_table(profiles: dict[str, dict[str, list[float]] | None]) -> str | None:
    """Methods × terrain classes table of cost profiles, or ``None`` if any is missing."""
    if not profiles or any(p is None for p in profiles.values()):
        return None
    levels = profile_levels(list(profiles.values()))
    rows = [[method, *profile_cells(p, levels)] for method, p in profiles.items()]
    rows.append(["true costs", *true_ratio_cells(levels)])
    return format_table(["method", *(class_label(c) for c in levels)], rows)


def validation_curve(
    histories: Sequence[Sequence[dict[str, Any]]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Epochs, mean and sd (``None`` for one run) of the validation optimal-cost share (%)
    over runs' histories, cut to the shortest run."""
    curves = [[100 * h["val_optimal"] for h in history] for history in histories]
    length = min(len(c) for c in curves)
    values = np.array([c[:length] for c in curves])
    sd = values.std(0, ddof=1) if len(curves) > 1 else None
    return np.arange(1, length + 1), values.mean(0), sd


def _plot_curves(runs: dict[str, list[dict[str, Any]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for method, results in runs.items():
        histories = [r["history"] for r in results if r["history"]]
        if not histories:
            continue
        epochs, mean, sd = validation_curve(histories)
        ax.plot(epochs, mean, marker=".", label=method)
        if sd is not None:
            ax.fill_between(epochs, mean - sd, mean + sd, alpha=0.2)
    ax.set(xlabel="epoch", ylabel="validation paths with optimal cost (%)")
    ax.set_title("Warcraft: validation curves (mean ± sd over seeds)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# -- synthetic ---------------------------------------------------------------------------
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
    :func:`compare_warcraft`. ``reference`` (one of ``methods``) adds a table of every other
    method's regret minus the reference's per degree, paired by seed (a seed fixes the data
    and the initial weights): mean ± sd and the 95% t-interval (:mod:`.paired`).
    """
    if not seeds or not degrees:
        raise ValueError("compare needs at least one seed and one degree")
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
    out.mkdir(parents=True, exist_ok=True)
    results: dict[tuple[str, int], list[float]] = {}
    for method in methods:
        for deg in degrees:
            for seed in seeds:
                config, path = configs[method, deg, seed]
                if path.exists():
                    res = json.loads(path.read_text())
                else:
                    res = train_synthetic(config)
                    path.parent.mkdir(parents=True, exist_ok=True)
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
        [method] + [_pm(results[(method, d)], digits=2) for d in degrees] for method in methods
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
    _plot_degrees(problem, methods, degrees, results, out / "regret_vs_degree.png")
    return {"rows": rows, "table": text, "paired": paired, "paired_table": paired_text}


def _paired_cell(d: dict[str, Any]) -> str:
    """``"+0.12 ± 0.03 [+0.05, +0.19]"`` (percentages) for one paired difference."""
    return f"{format_difference(d, 2)} {format_interval(d, 2)}"


def _plot_degrees(problem, methods, degrees, results, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for method in methods:
        stats = [mean_sd(results[(method, d)]) for d in degrees]
        means = 100 * np.array([s[0] for s in stats])
        sds = 100 * np.array([s[1] for s in stats])
        ax.errorbar(degrees, means, yerr=sds, marker="o", capsize=3, label=method)
    ax.set(xlabel="polynomial degree", ylabel="normalised test regret (%)", title=problem)
    ax.set_xticks(list(degrees))
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
