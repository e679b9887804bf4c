"""Evaluate saved Warcraft runs again, and see what their predicted costs look like per terrain.

:func:`evaluate_run` loads a finished (or interrupted) run's ``checkpoint.pt`` and
``config.json``, predicts the costs of one split and returns the metrics of
:func:`.warcraft_metrics.path_metrics` together with :func:`cost_profile`. By default the
split is the run's own data; ``data=`` evaluates the same model on another data set of the
same grid size (for example a model trained on generated maps, evaluated on the real ones).
Images are normalised as in training: with the channel statistics saved in the
checkpoint, or (a run saved before they were) those of the data the run trained on when
that data is still there, else with those of the evaluated data (a note says so).

The cost profile (:mod:`.cost_profile`) shows how the predicted costs of each terrain class
compare with the true ones, and why decision-focused models fail on maps two-stage regression
gets right.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

import solvers

from ..datasets.generator import FORMAT_VERSION, default_format, ensure_warcraft_data
from ..datasets.warcraft import find_size_folder, train_channel_stats
from .cost_profile import (
    class_label,
    cost_profile,
    per_class,
    profile_cells,
    profile_levels,
    true_ratio_cells,
)
from .models import WarcraftCNN
from .output import make_folder, write_csv, write_json
from .runner import set_threads
from .tables import format_table
from .warcraft_data import split_tensors
from .warcraft_metrics import evaluate
from .warcraft_run import CorruptCheckpoint, data_signature, read_checkpoint, restart_advice

__all__ = ["evaluate_run", "evaluate_runs", "label_ambiguity", "SPLITS", "PROFILE_CELLS"]

SPLITS = ("train", "val", "test")
#: Which cells a profile covers (every cell, those on the true path, or the others), in words.
CELLS_WORDS = {
    "all": "all cells",
    "path": "the cells on the true paths",
    "off-path": "the cells off the true paths",
}
PROFILE_CELLS = tuple(CELLS_WORDS)


def _run_files(run_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """A run's saved configuration and checkpoint state (checked:
    :func:`.warcraft_run.read_checkpoint`)."""
    ckpt = run_dir / "checkpoint.pt"
    if not ckpt.exists():
        raise FileNotFoundError(f"{run_dir}: no checkpoint.pt (not a Warcraft run folder?)")
    state = read_checkpoint(ckpt)
    config_path = run_dir / "config.json"
    try:
        config = json.loads(config_path.read_text()) if config_path.exists() else {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{config_path} is not a readable JSON file ({exc})") from exc
    if not isinstance(config, dict):
        raise ValueError(f"{config_path} holds no run configuration")
    return {**state["config"], **config}, state


def evaluate_run(
    run_dir: str | Path,
    data: str | Path | None = None,
    split: str = "test",
    n: int | None = None,
    cells: str = "all",
    progress: bool = False,
    labels: str = "check",
) -> dict[str, Any]:
    """Metrics and cost profile of a saved run's model on one split (module doc).

    ``data`` is a Warcraft root (or size folder) to evaluate on; default the data the run
    trained on (generated again if it was the default generated data and is gone). ``n``
    keeps the first ``n`` maps of the split; ``cells`` (one of :data:`PROFILE_CELLS`) the
    cells the profile covers; ``labels`` what to do with labels that are not optimal paths
    (``"check"``: refuse them, ``"report"``: warn and go on).
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ValueError(f"n must be a whole number of at least 1 (or None: all), got {n!r}")
    if cells not in PROFILE_CELLS:
        raise ValueError(f"unknown cells {cells!r}; use one of {', '.join(PROFILE_CELLS)}")
    run_dir = Path(run_dir)
    config, state = _run_files(run_dir)
    k = int(config["k"])
    trained_on = config.get("data_root") or config.get("data")
    root = data if data is not None else trained_on
    if data is None and config.get("data") is None and not (root and Path(root).exists()):
        # The generated default data, gone: made again (same seed, format and maps).
        fmt = default_format(trained_on) or FORMAT_VERSION
        root = trained_on = str(ensure_warcraft_data(k, progress=progress, format=fmt))
    notes = []
    normalization = state.get("normalization")
    if normalization is None:  # a run saved before checkpoints held it
        stats_from = trained_on if trained_on and Path(trained_on).exists() else root
        if stats_from != trained_on:
            notes.append(
                f"the data {run_dir.name} trained on ({trained_on}) is not here: images "
                "normalised with the evaluated data's train statistics"
            )
        mean, std = train_channel_stats(find_size_folder(stats_from, k), k)
        normalization = {"mean": mean.tolist(), "std": std.tolist()}
    images, costs, paths = split_tensors(root, k, split, n, normalization, labels)

    model = WarcraftCNN(k, channels_last=bool(config.get("channels_last", True)))
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as exc:
        detail = (str(exc).strip().splitlines() or [""])[0][:200]
        raise CorruptCheckpoint(
            f"{run_dir / 'checkpoint.pt'} is inconsistent: its model does not fit a "
            f"{k}x{k} Warcraft CNN ({detail}); {restart_advice(run_dir / 'checkpoint.pt')}"
        ) from exc
    metrics, c_hat, y_hat = evaluate(model, solvers.get("shortest_path"), images, costs, paths)
    labels = label_ambiguity(costs, paths, y_hat)
    same_data = state.get("data_signature") == data_signature(root, k)
    if not same_data and state.get("data_signature") is not None:
        notes.append(f"{run_dir} did not train on {root}: these figures measure a transfer")
    return {
        "run": str(run_dir),
        "method": config.get("method"),
        "seed": config.get("seed"),
        "epoch": int(state.get("epoch", 0)),
        "epochs": int(config.get("epochs", 0)),
        "data_root": str(root),
        "trained_on_this_data": bool(same_data),
        "split": split,
        "n": int(images.shape[0]),
        "metrics": metrics,
        "labels": labels,
        "cells": cells,
        "cost_profile": cost_profile(c_hat, costs, _cell_mask(cells, paths)),
        "notes": notes,
    }


def label_ambiguity(
    costs: torch.Tensor, paths: torch.Tensor, y_hat: torch.Tensor
) -> dict[str, float | None]:
    """How ambiguous a split's labels are, and how often predictions match them anyway.

    ``unique`` is the share of maps with a single optimal path
    (:func:`solvers.count_optimal_paths`); ``median_paths`` and ``max_paths`` the number of
    optimal paths. ``exact_tied`` is the share of exact matches among the maps with several
    optimal paths (``None`` when there are none): there a prediction of optimal cost matches
    the label only if the model also reproduces the label's tie-breaking.
    """
    counts = solvers.count_optimal_paths(costs.double().numpy())
    tied = torch.from_numpy(counts > 1)
    exact = (paths - y_hat).abs().flatten(1).sum(1) < 0.5
    return {
        "unique": float((~tied).double().mean()),
        "median_paths": float(np.median(counts)),
        "max_paths": float(counts.max()),
        "exact_tied": float(exact[tied].double().mean()) if bool(tied.any()) else None,
    }


def _cell_mask(cells: str, paths: torch.Tensor) -> torch.Tensor | None:
    """The cells a profile covers (``None``: all of them)."""
    on_path = paths > 0.5
    return {"all": None, "path": on_path, "off-path": ~on_path}[cells]


def _csv_row(result: dict[str, Any]) -> dict[str, Any]:
    """One flat CSV row: the run, its metrics, the scale of its costs (mean predicted cost of
    the cheapest class) and ``ratio_<c>`` / ``sd_<c>`` per class."""
    keys = ("run", "method", "seed", "epoch", "split", "n", "data_root", "cells")
    row = {k: result[k] for k in keys}
    row.update(result["metrics"])
    row["exact_tied"] = result["labels"]["exact_tied"]
    row["scale"] = _scale(result["cost_profile"])
    for c, ratio, sd in per_class(result["cost_profile"]):
        row[f"ratio_{c:g}"], row[f"sd_{c:g}"] = ratio, sd
    return row


def _scale(profile: dict[str, Any] | None) -> float | None:
    """The mean predicted cost of the cheapest class (``None`` without a profile)."""
    return None if profile is None else profile.get("scale")


def _format_share(share: float | None) -> str:
    return "-" if share is None else f"{100 * share:.1f}"


def _format_scale(scale: float | None) -> str:
    return "—" if scale is None else f"{scale:.3g}"


def evaluate_runs(
    run_dirs: Sequence[str | Path],
    data: str | Path | None = None,
    split: str = "test",
    n: int | None = None,
    cells: str = "all",
    out: str | Path | None = None,
    threads: int | None = None,
    progress: bool = True,
    labels: str = "check",
) -> dict[str, Any]:
    """:func:`evaluate_run` on each folder; prints one table (metrics, then the cost profile:
    predicted ratio ± spread per class, and the true ratios) and writes ``OUT.csv`` /
    ``OUT.json`` when ``out`` is given."""
    if not run_dirs:
        raise ValueError("no run folders given")
    set_threads(threads)
    results = []
    for run_dir in run_dirs:
        result = evaluate_run(
            run_dir, data=data, split=split, n=n, cells=cells, progress=progress, labels=labels
        )
        results.append(result)
        for note in result["notes"]:
            print(f"note: {note}", file=sys.stderr)
    levels = profile_levels([r["cost_profile"] for r in results])
    header = ["run", "method", "seed", "optimal %", "exact %", "exact % tied", "regret %"]
    header += ["scale"]
    header += [class_label(level) for level in levels]
    table = []
    for r in results:
        m = r["metrics"]
        table.append(
            [
                r["run"],
                str(r["method"]),
                str(r["seed"]),
                f"{100 * m['optimal']:.1f}",
                f"{100 * m['exact']:.1f}",
                _format_share(r["labels"]["exact_tied"]),
                f"{100 * m['regret']:.2f}",
                _format_scale(_scale(r["cost_profile"])),
                *profile_cells(r["cost_profile"], levels),
            ]
        )
    if levels:
        true_row = ["true costs", "", "", "", "", "", "", f"{levels[0]:g}"]
        table.append(true_row + true_ratio_cells(levels))
    text = format_table(header, table)
    where = {r["data_root"] for r in results}
    labels = results[0]["labels"]
    print(
        f"\n{split} split ({results[0]['n']} maps) of {', '.join(sorted(where))}: "
        f"{100 * labels['unique']:.1f}% of the maps have a single optimal path (median "
        f"{labels['median_paths']:.0f}, at most {labels['max_paths']:.0f}); 'exact % tied' is "
        "the exact matches on the others, where matching the label means reproducing its "
        "tie-breaking. Per class: predicted cost ÷ mean predicted cost of the cheapest class "
        f"(the scale column), mean ± sd over {CELLS_WORDS[cells]}\n\n"
        f"{text}\n"
    )
    if out is not None:
        out = Path(out)
        make_folder(out.parent)
        rows = [_csv_row(r) for r in results]
        write_csv(rows, out.with_suffix(".csv"))
        write_json({"runs": results, "table": text}, out.with_suffix(".json"))
    return {"runs": results, "table": text}
