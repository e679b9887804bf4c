"""Compare methods on Warcraft maps: the same data, model, optimiser and seeds for each.

:func:`compare_warcraft` trains every (method, seed) pair with
:func:`.warcraft.train_warcraft` into ``OUT/<method>/seed<s>/`` (a finished run, one with
``metrics.json``, is never redone; an interrupted one resumes from its checkpoint), then
writes ``summary.csv``, ``summary.json`` and ``validation_curves.png`` into ``OUT`` and
prints a table of test metrics as mean ± sd over seeds, with a note when the runs trained
on different devices (their timing columns then compare machines too), a table of the
methods' test cost profiles (:mod:`.cost_profile`, means over seeds) when every run
recorded one, and, given a ``reference`` method, each method's paired differences to it
over the seeds (:mod:`.paired`).

Example::

    compare_warcraft(["fenchel_young", "blackbox"], [0, 1, 2], "runs/cmp", WarcraftConfig())

The synthetic comparison is :func:`.compare_synthetic.compare_synthetic` (importable from
here too); tables and figures are :mod:`.tables` and :mod:`.plots`.
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

from ..datasets.warcraft_generator import ensure_warcraft_data, existing_warcraft_data
from .compare_synthetic import compare_synthetic
from .cost_profile import mean_profile
from .distributed import launched, on_main, rank_device, setup
from .objectives import make_objective
from .output import make_folder, write_csv, write_json
from .paired import check_reference, format_paired, paired_differences
from .plots import plot_validation_curves, validation_curve
from .runner import RunInUse, check_names, run_holder
from .tables import format_mean_sd, format_table, mean_sd, profile_table
from .warcraft import train_warcraft
from .warcraft_data import generated_data_once
from .warcraft_run import (
    WarcraftConfig,
    check_config,
    check_same_run,
    data_signature,
    load_results,
    require_same_data,
    resolve_batch,
)

__all__ = [
    "compare_warcraft",
    "compare_synthetic",
    "mean_sd",
    "format_table",
    "validation_curve",
    "exit_with_parent",
]


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
    progress bars are off, each run prints its epochs' lines, and a line as it ends).
    Worth it on a GPU, whose small Warcraft steps leave it idle between the CPU's turns,
    and on many cores.

    Under torchrun (:mod:`.distributed`) every process calls it with the same arguments and
    the runs train one after the other, each on all the processes; rank 0 reads the run
    folders, writes the summary and prints, and returns the summary (``{}`` on the other
    ranks); ``jobs`` must then be 1.

    ``reference`` (one of ``methods``) adds a table of every other method's test
    optimal-cost share and regret minus the reference's, paired by seed: mean ± sd, a 95%
    t-interval and the number of seeds at or above (:func:`.paired.paired_differences`).
    """
    check_names(methods, seeds)
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    check_reference(reference, methods)
    world = launched()
    if world.active and jobs > 1:
        raise ValueError(
            f"jobs={jobs}: under torchrun every run trains on the job's {world.size} "
            "processes, one run after the other; use jobs=1"
        )
    out = Path(out)
    configs = {}
    for method in methods:
        make_objective("shortest_path", method, method_options=base.method_options)
        for seed in seeds:
            config = dataclasses.replace(base, method=method, seed=seed)
            check_config(config)
            configs[method, seed] = resolve_batch(config, world.size)
    if world.active:
        setup(rank_device(base.device, world), base.dist_timeout)
    # rank 0 reads the run folders (they may exist on its machine only) and tells the others
    results, pending = on_main(lambda: _plan(configs, out), world)
    # The data: generated now only if some run still has to train; every run folder that
    # recorded its data (finished, or with a config) must have used the data found now.
    root = base.data or existing_warcraft_data(base.k)
    if root is None and pending:
        root = (
            generated_data_once(base.k, world, base.progress)
            if world.active
            else ensure_warcraft_data(base.k, progress=base.progress)
        )
    if root is not None:
        on_main(lambda: _check_data(configs, results, out, root, base.k), world)
    if world.main:
        for method, seed in results:
            print(
                f"[{method} seed {seed}] finished earlier: skipped ({out / method / f'seed{seed}'})"
            )
        make_folder(out)
    if jobs > 1 and len(pending) > 1:
        results.update(_train_in_processes(pending, configs, out, jobs))
    else:
        for method, seed in pending:
            results[method, seed] = _train_one(configs[method, seed], out / method / f"seed{seed}")
    if not world.main:
        return {}
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
                format_mean_sd([t["optimal"] for t in tests]),
                format_mean_sd([t["exact"] for t in tests]),
                format_mean_sd([t["regret"] for t in tests], digits=2),
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
    profile_text = profile_table(profiles)
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
    plot_validation_curves(runs, out / "validation_curves.png")
    return {
        "rows": rows,
        "table": text,
        "runs": runs,
        "profile_table": profile_text,
        "paired": paired,
        "paired_table": paired_text,
    }


def _plan(
    configs: dict[tuple[str, int], WarcraftConfig], out: Path
) -> tuple[dict[tuple[str, int], dict[str, Any]], list[tuple[str, int]]]:
    """The finished runs' results and the runs still to train; :class:`RunAlreadyExists`
    for a folder of another configuration, :class:`.runner.RunInUse` for a run that
    another process is training now."""
    for (method, seed), config in configs.items():
        check_same_run(out / method / f"seed{seed}", config)
    results: dict[tuple[str, int], dict[str, Any]] = {
        key: done
        for key in configs
        if (done := load_results(out / key[0] / f"seed{key[1]}")) is not None
    }
    pending = [key for key in configs if key not in results]
    busy = [str(e) for m, sd in pending if (e := run_holder(out / m / f"seed{sd}")) is not None]
    if busy:
        raise RunInUse("\n".join(busy))
    return results, pending


def _check_data(
    configs: dict[tuple[str, int], WarcraftConfig],
    results: dict[tuple[str, int], dict[str, Any]],
    out: Path,
    root: str | Path,
    k: int,
) -> None:
    """:class:`RunAlreadyExists` if a run folder recorded other data than ``root`` holds."""
    signature = data_signature(root, k)
    for method, seed in configs:
        run_dir = out / method / f"seed{seed}"
        saved = results.get((method, seed)) or _saved_config(run_dir)
        require_same_data(saved, signature, run_dir)


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
