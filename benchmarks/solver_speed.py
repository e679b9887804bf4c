"""Solver speed: the Numba kernels against reference implementations, in one run.

    python benchmarks/solver_speed.py            # every section
    python benchmarks/solver_speed.py --only shortest_path --quick

Each section lives in ``benchmarks/bench_<name>.py`` and exposes ``run(quick: bool)``,
which prints its own table (microseconds per instance and speed ratios measured in the
same process).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

# Run as a script, this file's folder comes first on sys.path: put the repository root (this
# checkout's packages) first and the sections last.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
sys.path.insert(0, os.path.dirname(_HERE))
sys.path.append(_HERE)

SECTIONS = [
    "shortest_path",
    "assignment",
    "spanning_tree",
    "knapsack",
    "multi_knapsack",
    "tsp",
    "vehicle_routing",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=SECTIONS, help="sections to run")
    parser.add_argument("--quick", action="store_true", help="fewer sizes and repeats")
    args = parser.parse_args()
    for name in args.only or SECTIONS:
        module = importlib.import_module(f"bench_{name}")
        module.run(quick=args.quick)


if __name__ == "__main__":
    main()
