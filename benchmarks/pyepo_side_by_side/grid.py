"""The grid of cells, run resumably: one CSV row per (cell, method, library), appended.

A row is written as soon as its run ends, so an interrupted grid loses at most the run in
progress; a second call skips every (cell, method, side, solver) already in the CSV. Each
cell's data are drawn once and checked before any training: against PyEPO's own generator
(:func:`.problems.check_pyepo_data`) and, on 20 test instances, for equal optimal
objectives of both libraries' solvers (:func:`.problems.check_solvers_agree`). A failing
run is reported and logged to ``errors.csv`` next to the results, and the grid goes on.
"""

from __future__ import annotations

import csv
import itertools
import json
import os
import subprocess
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .methods import ALL_METHODS, BATCH_SIZE, MethodSpec
from .problems import (
    N_TEST,
    Cell,
    CellData,
    check_pyepo_data,
    check_solvers_agree,
    generate,
    ours_solver,
    pyepo_solver_label,
)

__all__ = [
    "COLUMNS",
    "SIDES",
    "Grid",
    "parse_ranges",
    "finished_keys",
    "merge_results",
    "row_key",
    "run_grid",
]

SIDES = ("ours", "pyepo")
COLUMNS = [
    "problem",
    "deg",
    "noise",
    "n_train",
    "seed",
    "method",
    "side",
    "solver",
    "regret",
    "regret_common",
    "train_seconds",
    "train_cpu_seconds",
    "epochs",
    "lr",
    "batch_size",
    "options",
    "version",
    "load1",
    "finished_at",
]


@dataclass
class Grid:
    """What to run: problems × degrees × noises × sizes × seeds, methods, sides."""

    problems: Sequence[str]
    degrees: Sequence[int]
    noises: Sequence[float]
    sizes: Sequence[int]
    seeds: Sequence[int]
    methods: Sequence[str]
    sides: Sequence[str] = SIDES
    knapsack_solver: str = "auto"
    n_test: int = N_TEST  # PyEPO's; smaller only for quick checks

    def __post_init__(self) -> None:
        unknown = [m for m in self.methods if m not in ALL_METHODS]
        if unknown:
            raise ValueError(f"unknown methods {unknown}; available: {', '.join(ALL_METHODS)}")
        bad = [s for s in self.sides if s not in SIDES]
        if bad:
            raise ValueError(f"unknown sides {bad}; available: {', '.join(SIDES)}")
        for name in ("problems", "degrees", "noises", "sizes", "seeds", "methods", "sides"):
            if not getattr(self, name):
                raise ValueError(f"the grid needs at least one of {name}")
        self.cells()  # unknown problem, bad size: ValueError now

    def cells(self) -> list[Cell]:
        """The cells in the order they run: problem, seed, size, degree, noise."""
        return [
            Cell(problem, deg, noise, n, seed)
            for problem, seed, n, deg, noise in itertools.product(
                self.problems, self.seeds, self.sizes, self.degrees, self.noises
            )
        ]


def row_key(row: dict[str, Any]) -> tuple:
    """What identifies a run in the CSV."""
    return (
        str(row["problem"]),
        int(row["deg"]),
        float(row["noise"]),
        int(row["n_train"]),
        int(row["seed"]),
        str(row["method"]),
        str(row["side"]),
        str(row["solver"]),
    )


def finished_keys(csv_path: Path) -> set[tuple]:
    """Keys of the runs already in ``csv_path`` (none if it does not exist)."""
    if not csv_path.exists():
        return set()
    with csv_path.open(newline="") as f:
        reader = csv.DictReader(f)
        missing = set(COLUMNS) - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{csv_path} is not a results file of this grid: no {sorted(missing)}")
        return {row_key(r) for r in reader}


def merge_results(inputs: list[str | Path], out: str | Path) -> tuple[int, int]:
    """Write to ``out`` the runs of the results files ``inputs`` (oldest first): a run of a
    later file replaces the run with the same :func:`row_key` of an earlier one, in its
    place. Returns (runs written, rows read)."""
    merged: dict[tuple, dict[str, Any]] = {}
    read = 0
    for path in map(Path, inputs):
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such results file")
        finished_keys(path)  # refuses a file that is not a results file of this grid
        with path.open(newline="") as f:
            for row in csv.DictReader(f):
                merged[row_key(row)] = row
                read += 1
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows({k: row.get(k, "") for k in COLUMNS} for row in merged.values())
    return len(merged), read


def append_row(csv_path: Path, row: dict[str, Any]) -> None:
    """Append one row (writing the header to a new file) and flush it to disk."""
    new = not csv_path.exists() or csv_path.stat().st_size == 0
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    with csv_path.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        if new:
            writer.writeheader()
        writer.writerow({k: row.get(k, "") for k in COLUMNS})
        f.flush()
        os.fsync(f.fileno())


def _side_solver(side: str, data: CellData, knapsack_solver: str) -> str:
    """The solver label a side records, known before the run (part of the row key)."""
    from .ours import ours_solver_label

    if side == "pyepo":
        return pyepo_solver_label(data.cell.problem)
    return ours_solver_label(data, knapsack_solver)


def _versions() -> dict[str, str]:
    from .theirs import pyepo_version

    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    try:
        theirs = pyepo_version()
    except Exception:  # PyEPO absent: only the diffsolvers side can run
        theirs = "absent"
    return {"ours": f"diffsolvers@{commit}", "pyepo": f"pyepo {theirs}"}


def _format_seconds(s: float) -> str:
    s = int(round(s))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def run_grid(
    grid: Grid,
    csv_path: str | Path,
    *,
    epochs: int | None = None,
    log: Any = print,
) -> dict[str, int]:
    """Run every unfinished (cell, method, side) of ``grid``, appending rows to ``csv_path``.

    ``epochs`` overrides PyEPO's epoch rule (for quick checks). Returns counts of runs done,
    skipped (already in the CSV), pending (diffsolvers has no such method yet) and failed.
    """
    from .ours import MethodNotRegistered, ours_available, run_ours
    from .theirs import prepare_pyepo, run_pyepo

    csv_path = Path(csv_path)
    errors_path = csv_path.with_name("errors.csv")
    done = finished_keys(csv_path)
    versions = _versions()
    specs: list[MethodSpec] = [ALL_METHODS[m] for m in grid.methods]
    cells = grid.cells()
    runnable = [
        (spec, side)
        for spec, side in itertools.product(specs, grid.sides)
        if side == "pyepo" or ours_available(spec)
    ]
    todo = len(cells) * len(runnable)
    pending = len(cells) * (len(specs) * len(grid.sides) - len(runnable))
    counts = {"done": 0, "skipped": 0, "pending": pending, "failed": 0}
    started = time.perf_counter()
    for cell in cells:
        data = generate(cell, grid.n_test)
        wanted = []
        for spec, side in runnable:
            solver = _side_solver(side, data, grid.knapsack_solver)
            base = {
                **{k: getattr(cell, k) for k in ("problem", "deg", "noise", "n_train", "seed")},
                "method": spec.name,
                "side": side,
                "solver": solver,
            }
            if row_key(base) in done:
                counts["skipped"] += 1
            else:
                wanted.append((spec, side, base))
        if not wanted:
            continue
        if "pyepo" in grid.sides:
            check_pyepo_data(data)
            problem, params = ours_solver(data, grid.knapsack_solver)
            check_solvers_agree(data, problem, params)
        prepared = None
        for spec, side, base in wanted:
            t0 = time.perf_counter()
            try:
                if side == "ours":
                    res = run_ours(data, spec, knapsack_solver=grid.knapsack_solver, epochs=epochs)
                else:
                    if prepared is None:
                        prepared = prepare_pyepo(data)
                    res = run_pyepo(data, spec, epochs=epochs, prepared=prepared)
            except MethodNotRegistered:
                counts["pending"] += 1
                continue
            except Exception as exc:  # one failed run must not stop the grid
                counts["failed"] += 1
                log(f"FAILED {cell.label()} {spec.name} [{side}]: {exc!r}")
                append_error(errors_path, base, traceback.format_exc())
                continue
            row = {
                **base,
                "regret": res["regret"],
                "regret_common": res["regret_common"],
                "train_seconds": res["train_seconds"],
                "train_cpu_seconds": res["train_cpu_seconds"],
                "epochs": res["epochs"],
                "lr": spec.lr,
                "batch_size": BATCH_SIZE,
                "options": json.dumps(res["options"], sort_keys=True),
                "version": versions[side],
                "load1": round(os.getloadavg()[0], 2),
                "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            }
            append_row(csv_path, row)
            counts["done"] += 1
            elapsed = time.perf_counter() - started
            finished = counts["done"] + counts["skipped"] + counts["failed"]
            eta = elapsed / counts["done"] * (todo - finished)
            log(
                f"[{finished}/{todo}] {cell.label()} {spec.name:<13} {side:<5} regret "
                f"{100 * res['regret']:6.2f}%  train {res['train_seconds']:7.2f}s "
                f"(cpu {res['train_cpu_seconds']:7.2f}s)  "
                f"(run {time.perf_counter() - t0:5.1f}s; elapsed {_format_seconds(elapsed)}, "
                f"left ~{_format_seconds(eta)})"
            )
    log(
        f"grid: {counts['done']} runs done, {counts['skipped']} already in {csv_path}, "
        f"{counts['pending']} waiting for a diffsolvers method, {counts['failed']} failed"
    )
    return counts


def append_error(path: Path, base: dict[str, Any], text: str) -> None:
    """Log a failed run (its key and traceback) to ``errors.csv``."""
    new = not path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", newline="") as f:
        writer = csv.writer(f)
        if new:
            writer.writerow([*base.keys(), "traceback"])
        writer.writerow([*base.values(), text])


def parse_ranges(text: str) -> list[int]:
    """``"0-2,5"`` → ``[0, 1, 2, 5]``."""
    out: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part[1:]:
            lo, hi = part.split("-", 1)
            out += list(range(int(lo), int(hi) + 1))
        else:
            out.append(int(part))
    if not out:
        raise ValueError(f"no integers in {text!r}")
    return out
