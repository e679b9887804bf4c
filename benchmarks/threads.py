"""Solver threads on a shared machine: the runtime's options, idle and beside other work.

    python benchmarks/threads.py [--runs 5] [--seconds 2] [--quick] [--tbb-lib DIR]

Each (scenario, setting) pair is measured in fresh processes (Numba fixes its threading
layer at the first parallel call, OpenMP reads its environment when it is loaded), several
runs each, settings interleaved within a run so that drifting background load hits them
alike. One run of a worker: a batched 12×12 grid Dijkstra on B = 256 Warcraft cost grids
called in a loop for ``--seconds`` (µs per instance = time / instances, every call counted:
the stalls are the point); then the same kernel and the serial one called in turn (the
paired ratio: both under the same load, which the separate runs cannot promise on a shared
machine); then the batched assignment solver (n = 50, B = 64) alternating with SciPy called
once per instance.

Scenarios:

* ``alone``: the worker alone (other users of the machine are reported, not stopped: on an
  idle machine this is the idle figure);
* ``two solving``: two workers of the same setting at once, as two ranks of one job
  (the figure is the mean of the two);
* ``beside torch``: the worker beside another process training the Warcraft CNN with torch's
  default threads (all cores), started before and kept running.

Settings: one thread (the serial kernel: the reference of every ratio), Numba's defaults
(the parallel kernel called directly: the behaviour before the runtime), the OpenMP passive
wait policy, the ``workqueue`` and ``tbb`` layers, dynamic chunks, and the runtime (the
kernel called as the solvers call it, through :mod:`solvers.runtime`; input checks are
left out of every setting alike). ``tbb`` runs only if ``libtbb.so.12`` is found (``--tbb-lib``, or
``pip install tbb``'s ``lib`` folder, which the loader does not search by itself).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

_HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(_HERE)
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
sys.path.insert(0, ROOT)
sys.path.append(_HERE)

from _timing import print_table  # noqa: E402

GRID_B, GRID_K, ASSIGN_N, ASSIGN_B = 256, 12, 50, 64

#: label -> (environment, mode, chunks per thread or 0); mode: serial, parallel (the raw
#: Numba kernel, as before the runtime) or runtime (the solver as users call it).
SETTINGS: dict[str, tuple[dict[str, str], str, int]] = {
    "one thread (serial kernel)": ({}, "serial", 0),
    "Numba defaults (omp)": ({}, "parallel", 0),
    "omp, OMP_WAIT_POLICY=PASSIVE": ({"OMP_WAIT_POLICY": "PASSIVE"}, "parallel", 0),
    "omp, dynamic chunks (16/thread, chunksize 1)": ({}, "parallel", 16),
    "workqueue": ({"NUMBA_THREADING_LAYER": "workqueue"}, "parallel", 0),
    "tbb": ({"NUMBA_THREADING_LAYER": "tbb"}, "parallel", 0),
    "runtime (default)": ({}, "runtime", 0),
    "runtime, workqueue": ({"NUMBA_THREADING_LAYER": "workqueue"}, "runtime", 0),
}
#: short names for ``--only`` (the labels themselves hold commas)
SHORT = dict(
    zip(
        [
            "serial",
            "defaults",
            "passive",
            "chunks",
            "workqueue",
            "tbb",
            "runtime",
            "runtime-workqueue",
        ],
        SETTINGS,
    )
)
QUICK = ["one thread (serial kernel)", "Numba defaults (omp)", "runtime (default)"]


def worker(mode: str, chunks: int, seconds: float) -> None:
    """One measurement (run in a fresh process): prints 'ready', waits for a line on stdin,
    measures, prints one JSON line."""
    import numba
    import numpy as np
    from scipy.optimize import linear_sum_assignment

    from solvers import _assignment_kernels as ak
    from solvers import _shortest_path_kernels as sk
    from solvers import runtime

    rng = np.random.default_rng(os.getpid())
    values = [float(np.float16(v)) for v in (0.8, 1.2, 5.3, 7.7, 9.2)]
    theta = -rng.choice(values, size=(GRID_B, GRID_K, GRID_K))
    scores = rng.standard_normal((ASSIGN_B, ASSIGN_N, ASSIGN_N))
    threads = runtime.budget()
    n_chunks = (chunks or 4) * threads
    if chunks:
        numba.set_parallel_chunksize(1)
    if mode == "serial":
        grid = lambda: sk.grid_dijkstra_batch.serial(theta, sk.MOVES_8, n_chunks)  # noqa: E731
        assign = lambda: ak.assign_batch.serial(scores)  # noqa: E731
    elif mode == "parallel":
        grid = lambda: sk.grid_dijkstra_batch.parallel(theta, sk.MOVES_8, n_chunks)  # noqa: E731
        assign = lambda: ak.assign_batch.parallel(scores)  # noqa: E731
    else:
        grid = lambda: sk.grid_dijkstra_batch(theta, sk.MOVES_8, n_chunks)  # noqa: E731
        assign = lambda: ak.assign_batch(scores)  # noqa: E731
    for fn in (grid, assign):  # compile or load from the cache, then warm up
        fn()
    end = time.perf_counter() + 0.2
    while time.perf_counter() < end:
        grid()
    before = runtime.stats()
    print("ready", flush=True)
    sys.stdin.readline()

    calls, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        grid()
        calls += 1
    grid_us = (time.perf_counter() - t0) / (calls * GRID_B) * 1e6
    serial = lambda: sk.grid_dijkstra_batch.serial(theta, sk.MOVES_8, n_chunks)  # noqa: E731
    t_set = t_one = 0.0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:  # the same load for both: one call each in turn
        t = time.perf_counter()
        grid()
        t_set += time.perf_counter() - t
        t = time.perf_counter()
        serial()
        t_one += time.perf_counter() - t
    t_nb = t_sp = 0.0
    n_nb = n_sp = 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t = time.perf_counter()
        assign()
        t_nb += time.perf_counter() - t
        n_nb += 1
        t = time.perf_counter()
        for s in scores:
            linear_sum_assignment(s, maximize=True)
        t_sp += time.perf_counter() - t
        n_sp += 1
    after = runtime.stats()
    try:
        layer = numba.threading_layer()
    except ValueError:  # no parallel call was made
        layer = "-"
    print(
        json.dumps(
            {
                "grid_us": grid_us,
                "paired": t_set / t_one,
                "assign_us": t_nb / (n_nb * ASSIGN_B) * 1e6,
                "scipy_us": t_sp / (n_sp * ASSIGN_B) * 1e6,
                "parallel_share": (after["parallel"] - before["parallel"])
                / max(1, sum(after.values()) - sum(before.values()))
                if mode == "runtime"
                else float(mode == "parallel"),
                "layer": layer,
                "threads": threads,
            }
        ),
        flush=True,
    )


def trainer() -> None:
    """Train the Warcraft CNN (B = 70, Adam) with torch's default threads until killed."""
    import torch

    from diffsolvers.experiments.models import WarcraftCNN

    torch.manual_seed(0)
    model = WarcraftCNN(12, channels_last=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-4)
    images = torch.randn(70, 3, 96, 96)
    for step in range(10**9):
        loss = model(images).square().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step == 1:
            print("ready", flush=True)


def _env(extra: dict[str, str], tbb_lib: str | None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    if extra.get("NUMBA_THREADING_LAYER") == "tbb":
        env["LD_LIBRARY_PATH"] = tbb_lib + os.pathsep + env.get("LD_LIBRARY_PATH", "")
    env.update(extra)
    return env


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), *args],
        env=env,
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    if line.strip() != "ready":
        proc.kill()
        raise RuntimeError(f"{args}: worker failed to start ({line!r})")
    return proc


def measure(setting: str, copies: int, seconds: float, tbb_lib: str | None) -> list[dict]:
    """``copies`` workers of one setting started together; their results."""
    extra, mode, chunks = SETTINGS[setting]
    env = _env(extra, tbb_lib)
    procs = [_start(["--worker", mode, str(chunks), str(seconds)], env) for _ in range(copies)]
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    out = [json.loads(p.communicate(timeout=60 + 4 * seconds)[0]) for p in procs]
    return out


def find_tbb(explicit: str | None) -> str | None:
    """The folder of a loadable ``libtbb.so.12``: ``explicit``, else ``pip install tbb``'s."""
    for folder in (explicit, os.path.join(sys.prefix, "lib")):
        if folder and os.path.exists(os.path.join(folder, "libtbb.so.12")):
            return folder
    return None


def _load() -> str:
    with open("/proc/loadavg") as fh:
        return " ".join(fh.read().split()[:3])


def run(runs: int, seconds: float, settings: list[str], tbb_lib: str | None) -> None:
    cores = len(os.sched_getaffinity(0))
    scenarios = {"alone": 1, "two solving": 2, "beside torch": 1}
    results: dict[tuple[str, str], list[dict]] = {}
    started = time.time()
    print(f"{cores} cores; load average before: {_load()}")
    for scenario, copies in scenarios.items():
        background = None
        if scenario == "beside torch":
            env = _env({}, None)
            background = _start(["--trainer"], env)
        try:
            for _ in range(runs):
                for setting in settings:
                    got = measure(setting, copies, seconds, tbb_lib)
                    mean = {k: statistics.fmean(r[k] for r in got) for k in got[0] if k != "layer"}
                    mean["layer"] = got[0]["layer"]
                    results.setdefault((scenario, setting), []).append(mean)
        finally:
            if background is not None:
                background.kill()
                background.wait()
    print(f"load average after: {_load()}; wall time {time.time() - started:.0f} s")
    _report(results, scenarios, settings, runs)


def _mmm(values: list[float]) -> str:
    return "/".join(_fmt(v) for v in (min(values), statistics.median(values), max(values)))


def _fmt(v: float) -> str:
    return f"{v:.1f}" if v >= 10 else f"{v:.2f}"


def _report(results, scenarios, settings, runs) -> None:
    base = settings[0]
    for scenario in scenarios:
        ref = statistics.median(r["grid_us"] for r in results[(scenario, base)])
        rows = []
        for setting in settings:
            rs = results[(scenario, setting)]
            grid = [r["grid_us"] for r in rs]
            rows.append(
                [
                    setting,
                    rs[0]["layer"],
                    _mmm(grid),
                    _mmm([g / ref for g in grid]),
                    _mmm([r["paired"] for r in rs]),
                    _mmm([r["assign_us"] for r in rs]),
                    _mmm([r["scipy_us"] / r["assign_us"] for r in rs]),
                    f"{statistics.fmean(r['parallel_share'] for r in rs):.0%}",
                ]
            )
        print_table(
            f"{scenario}: µs per instance, min/median/max of {runs} runs",
            [
                "setting",
                "layer",
                "grid 12x12, B=256",
                "ratio to one thread",
                "paired ratio",
                "assignment n=50, B=64",
                "SciPy / batched",
                "parallel calls",
            ],
            rows,
        )


def main() -> None:
    if sys.argv[1:2] == ["--worker"]:
        worker(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
        return
    if sys.argv[1:2] == ["--trainer"]:
        trainer()
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--quick", action="store_true", help="three settings, 2 runs of 1 s")
    parser.add_argument(
        "--only", help=f"comma-separated settings out of {','.join(SHORT)} (default: all)"
    )
    parser.add_argument("--tbb-lib", help="folder holding libtbb.so.12")
    args = parser.parse_args()
    settings = list(SETTINGS)
    if args.quick:
        settings, args.runs, args.seconds = QUICK, 2, 1.0
    if args.only:
        unknown = [s for s in args.only.split(",") if s not in SHORT]
        if unknown:
            parser.error(f"unknown setting(s) {unknown}; choose from {list(SHORT)}")
        chosen = [SHORT[s] for s in args.only.split(",")]
        settings = [settings[0]] + [s for s in chosen if s != settings[0]]
    tbb_lib = find_tbb(args.tbb_lib)
    if tbb_lib is None:
        settings = [s for s in settings if SETTINGS[s][0].get("NUMBA_THREADING_LAYER") != "tbb"]
    run(args.runs, args.seconds, settings, tbb_lib)


if __name__ == "__main__":
    main()
