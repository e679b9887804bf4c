"""Thread settings for training: Numba's threading layers and torch's threads, measured.

    python benchmarks/threads.py [--quick]

The training loop calls the Numba solver and the torch CNN one after the other, so each may
use every core; what matters is how each behaves when the cores are shared. Each Numba
setting runs in a fresh process (the threading layer is fixed at the first parallel call):
the 12×12 grid Dijkstra on a batch of B = 70 Warcraft cost grids (one training step's
solve at M = 1), median µs per instance over many calls, alone and while another process
keeps every core busy. Then the Warcraft CNN's training step (forward, backward, Adam) on
B = 70 with torch on all cores and on one.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import subprocess
import sys
import time

_HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(_HERE)
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
sys.path.insert(0, ROOT)
sys.path.append(_HERE)

from _timing import print_table  # noqa: E402

_SOLVE = """
import time, numpy as np, numba, solvers
rng = np.random.default_rng(0)
values = [float(np.float16(v)) for v in (0.8, 1.2, 5.3, 7.7, 9.2)]
theta = -rng.choice(values, size=(70, 12, 12))
solve = solvers.get("shortest_path").solve
solve(theta)
times = []
for _ in range({repeats}):
    t0 = time.perf_counter()
    solve(theta)
    times.append(time.perf_counter() - t0)
print(numba.threading_layer(), float(np.median(times)) * 1e6 / 70)
"""


def _spin(stop_at: float) -> None:
    x = 0
    while time.perf_counter() < stop_at:
        x += 1


def _busy(seconds: float) -> list[mp.Process]:
    """One spinning process per core, for ``seconds``."""
    stop_at = time.perf_counter() + seconds
    procs = [mp.Process(target=_spin, args=(stop_at,)) for _ in range(os.cpu_count() or 1)]
    for p in procs:
        p.start()
    return procs


def _solver_time(layer: str, threads: int, repeats: int, busy: bool) -> tuple[str, float]:
    env = dict(os.environ)
    env.update(
        NUMBA_THREADING_LAYER=layer,
        NUMBA_NUM_THREADS=str(threads),
        PYTHONPATH=ROOT + os.pathsep + env.get("PYTHONPATH", ""),
    )
    procs = _busy(60.0) if busy else []
    try:
        out = subprocess.run(
            [sys.executable, "-c", _SOLVE.format(repeats=repeats)],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
    finally:
        for p in procs:
            p.terminate()
            p.join()
    return out[0], float(out[1])


def _cnn_step_ms(threads: int, repeats: int) -> float:
    import torch

    from diffsolvers.experiments.models import WarcraftCNN

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = WarcraftCNN(12, channels_last=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-4)
    images = torch.randn(70, 3, 96, 96)
    times = []
    for i in range(repeats + 2):
        t0 = time.perf_counter()
        loss = model(images).square().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if i >= 2:  # the first steps allocate
            times.append(time.perf_counter() - t0)
    times.sort()
    return 1e3 * times[len(times) // 2]


def run(quick: bool = False) -> None:
    cores = os.cpu_count() or 1
    repeats = 200 if quick else 1000
    rows = []
    for layer, threads in (("omp", cores), ("omp", 1), ("workqueue", cores), ("workqueue", 1)):
        used, alone = _solver_time(layer, threads, repeats, busy=False)
        _, shared = _solver_time(layer, threads, repeats // 4, busy=True)
        rows.append([f"{used}, {threads} thread{'s' * (threads > 1)}", alone, shared])
    print_table(
        f"grid Dijkstra 12x12, B = 70, median µs per instance ({cores} cores)",
        ["Numba threading layer", "alone", f"with {cores} busy processes"],
        rows,
    )
    steps = 5 if quick else 15
    print_table(
        "Warcraft CNN step (B = 70, forward + backward + Adam), median ms",
        ["torch threads", "ms per step"],
        [[t, _cnn_step_ms(t, steps)] for t in sorted({cores, 1}, reverse=True)],
    )


if __name__ == "__main__":
    run(quick="--quick" in sys.argv)
