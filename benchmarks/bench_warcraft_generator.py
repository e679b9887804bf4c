"""Warcraft map generation: format 3 against format 2, 1,000 maps per size, same run.

Times :func:`diffsolvers.datasets.generator.generate_maps` (layout, rendering and labels:
the grid solver on every map) for both formats, best of ``--repeat`` runs each, and
prints seconds per 1,000 maps and the ratio format 3 / format 2 (the goal: the same speed
class, a ratio near 1 or below).

    python benchmarks/bench_warcraft_generator.py [--sizes 12,18] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(_HERE.parent), str(_HERE)]  # checkout first: benchmarks/solver_speed.py

from _timing import print_table  # noqa: E402

from diffsolvers.datasets.generator import generate_maps  # noqa: E402


def seconds(n: int, k: int, fmt: int, repeat: int) -> float:
    """Best of ``repeat`` wall times of generating ``n`` maps (after one warm-up)."""
    generate_maps(min(n, 64), k, seed=1, format=fmt)
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        generate_maps(n, k, seed=0, format=fmt)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="12,18", help="grid sizes, comma-separated")
    parser.add_argument("--n", type=int, default=1000, help="maps per timing")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = []
    for k in (int(s) for s in args.sizes.split(",")):
        old = seconds(args.n, k, 2, args.repeat)
        new = seconds(args.n, k, 3, args.repeat)
        per = 1000 / args.n
        rows.append([f"{k}x{k}", old * per, new * per, new / old])
    header = ["size", "format 2 s / 1,000 maps", "format 3 s / 1,000 maps", "ratio 3 / 2"]
    print_table("Warcraft generation", header, rows)


if __name__ == "__main__":
    main()
