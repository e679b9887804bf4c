"""Grid shortest path (Warcraft costs): Numba against SciPy, networkx and plain-Python heapq.

    python benchmarks/solver_speed.py --only shortest_path [--quick]

Microseconds per instance at 12×12 and 30×30 on random Warcraft cost grids. The Numba
backend is timed on batches of 1 and 1024 (one call each); the references solve one
instance at a time, so they are timed on a smaller batch and divided by its size. Ratios
compare each reference with the batched Numba time. The compile table starts fresh
processes: one with an empty Numba cache directory (cold: compiles) and one re-using it
(warm: loads the cached machine code).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import numpy as np
from _timing import best_time, numba_note, print_table

import solvers
from solvers import runtime

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WARCRAFT = [float(np.float16(v)) for v in (0.8, 1.2, 5.3, 7.7, 9.2)]


_FIRST_CALL = """
import time
t0 = time.perf_counter()
import numpy as np
import solvers
t1 = time.perf_counter()
s = solvers.get("shortest_path")
s.solve(-np.ones((1, 12, 12)))
t2 = time.perf_counter()
s.solve(-np.ones((1024, 12, 12)))
t3 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2)
"""


def _speed(quick: bool) -> None:
    rng = np.random.default_rng(0)
    threads = runtime.budget()
    rows = []
    for k in (12, 30):
        theta = -rng.choice(WARCRAFT, size=(1024, k, k))
        solve = solvers.get("shortest_path").solve
        t_one = best_time(lambda f=solve, t=theta[:1]: f(t)) * 1e6
        t_batch = best_time(lambda f=solve, t=theta: f(t), repeat=3 if quick else 5) * 1e6 / 1024
        n_ref = {12: 32, 30: 8}[k] if quick else {12: 128, 30: 32}[k]
        ref = {}
        for backend in ("scipy", "networkx", "python"):
            solver = solvers.get("shortest_path", backend=backend)
            sub = theta[:n_ref]
            ref[backend] = best_time(lambda s=solver, t=sub: s.solve(t), repeat=3) * 1e6 / n_ref
        rows.append(
            [
                f"{k}x{k}",
                t_one,
                t_batch,
                t_batch * threads,
                ref["scipy"],
                ref["networkx"],
                ref["python"],
                f"{ref['scipy'] / t_batch:.0f}x",
                f"{ref['networkx'] / t_batch:.0f}x",
                f"{ref['python'] / t_batch:.0f}x",
            ]
        )
    print_table(
        f"shortest_path (grid, 8-neighbour), µs per instance; Numba on {threads} threads",
        [
            "grid",
            "numba B=1",
            "numba B=1024",
            "per core",
            "scipy",
            "networkx",
            "python heapq",
            "scipy/numba",
            "nx/numba",
            "python/numba",
        ],
        rows,
    )
    print("\n" + numba_note())


def _compile(quick: bool) -> None:
    rows = []
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    with tempfile.TemporaryDirectory() as cache:
        env["NUMBA_CACHE_DIR"] = cache
        for label in ("cold (empty cache)", "warm (cache filled)"):
            out = subprocess.run(
                [sys.executable, "-c", _FIRST_CALL],
                env=env,
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            )
            t_import, t_first, t_first_batch = (float(v) for v in out.stdout.split())
            rows.append([label, t_import, t_first, t_first_batch])
    print_table(
        "shortest_path first call in a fresh process, seconds",
        ["numba cache", "import solvers", "first solve B=1", "first solve B=1024"],
        rows,
    )


def run(quick: bool = False) -> None:
    _speed(quick)
    _compile(quick)


if __name__ == "__main__":
    run(quick="--quick" in sys.argv)
