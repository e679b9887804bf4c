"""The records of a Warcraft run: each epoch's row, checkpoint and line; the final results.

:func:`record_epoch` is the one place that writes an epoch's records (the history row, the
checkpoint, ``metrics.csv``, the printed line); :func:`finish_run` writes the results of a
trained run (``metrics.json``, ``curves.png``, ``examples.png``). In a distributed run
(:mod:`.distributed`) every rank calls both, the ranks' timings and random-number states
are gathered, and rank 0 alone writes and prints.

Example::

    record_epoch(run, train_epoch(run, train, epoch), val_metrics)
    results = finish_run(run, test_split, evaluate_split(run, test_split, predictions=True),
                         root, n_train)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from solvers import runtime

from .cost_profile import cost_profile
from .distributed import all_gather
from .output import atomic_save, write_csv, write_json
from .plots import plot_examples, plot_run_curves
from .warcraft_run import WarcraftConfig
from .warcraft_state import TrainingState, rng_state

__all__ = ["record_epoch", "finish_run", "tag"]

#: The timing columns of a row that are means over ranks in a distributed run.
_TIMINGS = ("epoch_seconds", "data_seconds", "step_seconds", "solver_seconds")


def record_epoch(run: TrainingState, row: dict[str, Any], val: dict[str, float]) -> None:
    """Record a finished epoch: its row (training columns of :func:`train_epoch` and the
    validation metrics) joins the history, then (rank 0) the checkpoint and ``metrics.csv``
    are written and a line printed.

    In a distributed run the timing columns are the means over ranks, ``solver_share_max``
    the largest rank's solver share, and the checkpoint holds every rank's random-number
    state (a collective: every rank calls this)."""
    config, world = run.config, run.world
    mine = {
        **{k: row[k] for k in _TIMINGS},
        "solver_instances": row["solver_instances"],
        "threads": run.threads,
        "solver_threads": runtime.budget(),
    }
    records = all_gather({**mine, "rng": rng_state(run.device)}, world)
    timings = {k: v for k, v in row.items() if k not in ("epoch", "train_loss", "solver_instances")}
    if world.active:
        shares = [r["solver_seconds"] / max(r["epoch_seconds"], 1e-12) for r in records]
        timings.update({k: float(np.mean([r[k] for r in records])) for k in _TIMINGS})
        timings["solver_share"] = float(np.mean(shares))
        timings["solver_share_max"] = float(max(shares))
    _add_rank_totals(run, records)
    row = {
        "epoch": row["epoch"],
        "train_loss": row["train_loss"],
        **{f"val_{k}": v for k, v in val.items()},
        **timings,
    }
    run.history.append(row)
    if not world.main:
        return
    ranks = [{"rng": r["rng"], "threads": r["threads"]} for r in records]
    atomic_save(run.checkpoint(ranks=ranks), run.checkpoint_path)
    write_csv(run.history, run.out / "metrics.csv")
    line = (
        f"{tag(config)} epoch {row['epoch']:>3}/{config.epochs}  "
        f"loss {row['train_loss']:.4f}  val optimal {100 * val['optimal']:.1f}%  "
        f"exact {100 * val['exact']:.1f}%  regret {100 * val['regret']:.2f}%  "
        f"{row['epoch_seconds']:.1f}s (solver {100 * row['solver_share']:.1f}%"
        f"{_busiest(row)})"
    )
    if config.progress:
        tqdm.write(line)  # above the progress bar
    else:
        print(line, flush=True)


def _busiest(row: dict[str, Any]) -> str:
    if "solver_share_max" not in row:
        return ""
    return f", busiest process {100 * row['solver_share_max']:.1f}%"


def _add_rank_totals(run: TrainingState, records: list[dict[str, Any]]) -> None:
    if not run.rank_totals:
        run.rank_totals = [
            {
                "rank": rank,
                "threads": r["threads"],
                "solver_threads": r["solver_threads"],
                "epochs": 0,
                "solver_instances": 0,
                **dict.fromkeys(_TIMINGS, 0.0),
            }
            for rank, r in enumerate(records)
        ]
    for total, r in zip(run.rank_totals, records):
        total["epochs"] += 1
        total["solver_instances"] += r["solver_instances"]
        for key in _TIMINGS:
            total[key] += r[key]


def tag(config: WarcraftConfig) -> str:
    """The prefix of a run's lines (runs of a comparison may print side by side)."""
    return f"[{config.method} seed {config.seed}]"


def finish_run(
    run: TrainingState,
    test_split: tuple[torch.Tensor, ...],
    tested: tuple[dict[str, float], torch.Tensor, torch.Tensor],
    root: str,
    n_train: int,
) -> dict[str, Any]:
    """The results of a trained run, given the final model's test metrics and predicted
    costs and paths (``tested``); rank 0 writes ``metrics.json`` and the figures and
    prints the test line. Returns the results (the same on every rank)."""
    config, history = run.config, run.history
    test, c_hat, y_hat = tested
    results = {
        "method": config.method,
        "seed": config.seed,
        "k": config.k,
        "epochs": config.epochs,
        "test": test,
        "test_cost_profile": cost_profile(c_hat, test_split[1]),
        "history": history,
        "train_seconds_per_epoch": float(np.mean([r["epoch_seconds"] for r in history]))
        if history
        else 0.0,
        "solver_share": float(
            sum(r["solver_seconds"] for r in history)
            / max(sum(r["epoch_seconds"] for r in history), 1e-12)
        ),
        "data_root": root,
        "data_signature": run.signature,
        "n_train": n_train,
        "device": str(run.device),
        "processes": run.world.size,
        "global_batch": config.global_batch,
        "ranks": run.rank_totals,
    }
    if not run.world.main:
        return results
    write_csv(history, run.out / "metrics.csv")
    write_json(results, run.out / "metrics.json")
    plot_run_curves(history, run.out / "curves.png", title=config.method)
    plot_examples(test_split, y_hat, c_hat, run.out / "examples.png")
    print(
        f"{tag(config)} test: optimal-cost paths {100 * test['optimal']:.1f}%, exact "
        f"{100 * test['exact']:.1f}%, regret {100 * test['regret']:.2f}%  → {run.out}",
        flush=True,
    )
    return results
