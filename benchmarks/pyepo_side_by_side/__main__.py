"""``python -m benchmarks.pyepo_side_by_side {run,estimate,merge,table}`` (see the package
docstring)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .grid import SIDES, Grid, parse_ranges
from .methods import ALL_METHODS, DIAGNOSTICS, METHODS
from .problems import PROBLEMS

DEFAULT_CSV = "runs/pyepo_side_by_side/results.csv"


def _list(kind):
    def parse(text: str):
        try:
            values = [kind(v) for v in text.split(",") if v.strip()]
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"not a comma-separated list: {text!r}") from exc
        if not values:
            raise argparse.ArgumentTypeError(f"empty list: {text!r}")
        return values

    return parse


def _ranges(text: str) -> list[int]:
    try:
        return parse_ranges(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _add_grid(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--problems",
        type=_list(str),
        default=list(PROBLEMS),
        help=f"comma-separated, of {', '.join(PROBLEMS)} (default: all)",
    )
    p.add_argument("--deg", type=_list(int), default=[1, 2, 4, 6], help="default 1,2,4,6")
    p.add_argument("--noise", type=_list(float), default=[0.0, 0.5], help="default 0,0.5")
    p.add_argument(
        "--n", type=_list(int), default=[100, 1000], help="training sizes (default 100,1000)"
    )
    p.add_argument("--seeds", type=_ranges, default=[0], help="e.g. 0-2,5 (default 0)")
    p.add_argument(
        "--methods",
        type=_list(str),
        default=list(METHODS),
        help=f"comma-separated, of {', '.join(ALL_METHODS)} (default: all but the "
        f"diagnostics {', '.join(DIAGNOSTICS)})",
    )
    p.add_argument(
        "--sides", type=_list(str), default=list(SIDES), help="ours,pyepo (default both)"
    )
    p.add_argument(
        "--knapsack-solver",
        default="auto",
        choices=("auto", "multi_knapsack", "lp"),
        help="diffsolvers' 2-D knapsack solver (default auto: multi_knapsack if "
        "registered, else lp)",
    )
    p.add_argument("--threads", type=int, default=1, help="torch and Numba threads (default 1)")


def _grid(args) -> Grid:
    return Grid(
        args.problems,
        args.deg,
        args.noise,
        args.n,
        args.seeds,
        args.methods,
        args.sides,
        args.knapsack_solver,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pyepo_side_by_side")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the grid, appending to the CSV (skips finished runs)")
    _add_grid(run)
    run.add_argument("--csv", default=DEFAULT_CSV, help=f"results file (default {DEFAULT_CSV})")
    run.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="override PyEPO's epochs (200 for n=100, 20 for n=1000): checks only",
    )
    est = sub.add_parser("estimate", help="time each method briefly; print the grid's total")
    _add_grid(est)
    est.add_argument("--epochs", type=int, default=2, help="calibration epochs (default 2)")
    mer = sub.add_parser(
        "merge",
        help="one results CSV from several (a later file's run replaces the same run of an "
        "earlier one: same cell, seed, method, side and solver)",
    )
    mer.add_argument("out", help="the merged results file (overwritten)")
    mer.add_argument("inputs", nargs="+", help="results files, oldest first")
    tab = sub.add_parser("table", help="Markdown tables and figures from a results CSV")
    tab.add_argument("csv", help="results file")
    tab.add_argument(
        "--page", default=None, help="Markdown page whose tables (between the markers) are replaced"
    )
    tab.add_argument(
        "--figures", default="docs/figures", help="figure folder (default docs/figures)"
    )
    args = parser.parse_args(argv)
    try:
        return _dispatch(args)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _dispatch(args) -> int:
    if args.command == "table":
        return _table(args)
    if args.command == "merge":
        from .grid import merge_results

        kept, read = merge_results(args.inputs, args.out)
        print(f"{args.out}: {kept} runs (of {read} rows read from {len(args.inputs)} files)")
        return 0
    if args.threads < 1:
        raise ValueError(f"--threads must be at least 1, got {args.threads}")
    if args.epochs is not None and args.epochs < 1:
        raise ValueError(f"--epochs must be at least 1, got {args.epochs}")
    grid = _grid(args)
    from diffsolvers.experiments.runner import set_threads

    set_threads(args.threads)
    if args.command == "estimate":
        from .estimate import estimate_grid

        estimate_grid(grid, epochs=args.epochs)
        return 0
    from .grid import run_grid

    counts = run_grid(grid, args.csv, epochs=args.epochs, log=lambda m: print(m, flush=True))
    return 1 if counts["failed"] else 0


def _table(args) -> int:
    from .table import (
        load_rows,
        markdown,
        plot_regret_vs_degree,
        replace_between_markers,
        sections,
        summarise,
    )

    rows = load_rows(args.csv)
    if not rows:
        raise ValueError(f"{args.csv} holds no results")
    summaries = summarise(rows)
    figures = {}
    folder = Path(args.figures)
    folder.mkdir(parents=True, exist_ok=True)
    page_dir = Path(args.page).parent if args.page else Path(".")
    for (problem, solver), items in sections(summaries).items():
        tag = "" if solver is None or not solver.startswith("lp/") else "_lp"
        path = folder / f"pyepo_side_by_side_{problem}{tag}.png"
        plot_regret_vs_degree(
            items,
            path,
            f"{problem}: normalised test regret, mean ± sd "
            "over seeds (diffsolvers solid, PyEPO dashed)",
        )
        figures[problem, solver] = _relative(path, page_dir)
    text = markdown(summaries, figures)
    if args.page:
        page = Path(args.page)
        page.write_text(replace_between_markers(page.read_text(), text))
        print(f"tables written into {page}")
    else:
        print(text)
    return 0


def _relative(path: Path, start: Path) -> str:
    import os

    return os.path.relpath(path, start)


if __name__ == "__main__":
    sys.exit(main())
