"""The parallel runtime (solvers.runtime): serial and parallel kernels agree, every rule that
sends a call to one thread, the per-rank thread budget, and the cases that used to hang or
abort (DataLoader workers forked after torch ran, two Python threads in one layer), each
in a fresh process bounded by a timeout so that a hang fails instead of blocking."""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys
import textwrap
import types

import numpy as np
import pytest

import solvers
from solvers import _load, runtime
from solvers import _shortest_path_kernels as sk
from solvers._stalls import MAX_HOLD, StallGuard
from solvers.isotonic import isotonic_decreasing

ROOT = pathlib.Path(__file__).resolve().parents[1]


def run_python(
    code: str, timeout: float = 180, script: pathlib.Path | None = None, **env: str
) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter at the repository root (written to ``script``
    and run as a file if given); a hang fails the test."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_", "OMP_"))}
    full_env.update(env)
    full_env["PYTHONPATH"] = str(ROOT) + os.pathsep + full_env.get("PYTHONPATH", "")
    try:
        return subprocess.run(
            [sys.executable, *_program(code, script)],
            cwd=ROOT,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as err:
        out = (err.stdout or b"").decode() if isinstance(err.stdout, bytes) else err.stdout
        pytest.fail(f"hung for more than {timeout} s; output so far:\n{out}")


def _program(code: str, script: pathlib.Path | None) -> list[str]:
    if script is None:
        return ["-c", textwrap.dedent(code)]
    script.write_text(textwrap.dedent(code))
    return [str(script)]


def assert_ok(proc: subprocess.CompletedProcess, marker: str = "OK") -> str:
    assert proc.returncode == 0, f"exit code {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert marker in proc.stdout, proc.stdout + proc.stderr
    return proc.stdout


# -- serial and parallel kernels give identical answers ----------------------------------------


@pytest.fixture
def force(monkeypatch):
    """``force("serial")`` / ``force("parallel")``: every kernel call runs that compilation
    (the parallel one with Numba's current thread count); returns the kernels called."""
    called: list[runtime.ParallelKernel] = []

    def set_mode(mode: str):
        def call(self, *args):
            called.append(self)
            return getattr(self, mode)(*args)

        monkeypatch.setattr(runtime.ParallelKernel, "__call__", call)
        return called

    return set_mode


def _solves(rng: np.random.Generator):
    """(name, solve) pairs reaching every batch kernel of the zoo, on integer scores
    (frequent ties) and batches above every kernel's serial threshold."""
    grid8, grid4 = solvers.get("shortest_path"), solvers.get("shortest_path", neighbourhood=4)
    theta = -rng.integers(1, 4, size=(40, 9, 11)).astype(float)
    yield "grid 8", lambda: grid8.solve(theta)
    yield "grid 4", lambda: grid4.solve(theta)
    yield "optimal path counts", lambda: solvers.count_optimal_paths(-theta)
    edges = [(u, v) for u in range(12) for v in range(12) if u != v and rng.random() < 0.4]
    graph = solvers.get("shortest_path_graph", n_nodes=12, edges=edges, source=0, target=11)
    costs = rng.integers(0, 3, size=(300, len(edges))).astype(float)
    yield "graph dijkstra", lambda: graph.solve(-costs)
    dag_edges = [(u, v) for u in range(12) for v in range(u + 1, 12) if rng.random() < 0.5]
    dag = solvers.get("shortest_path_graph", n_nodes=12, edges=dag_edges, source=0, target=11)
    scores = rng.integers(-3, 3, size=(300, len(dag_edges))).astype(float)
    yield "dag", lambda: dag.solve(scores)
    assignment = solvers.get("assignment")
    a = rng.integers(0, 3, size=(30, 9, 9)).astype(float)
    yield "assignment", lambda: assignment.solve(a)
    w = rng.integers(1, 10, size=(30, 15)).astype(float)
    knapsack, capacity = solvers.get("knapsack"), np.full(30, 25.0)
    values = rng.integers(0, 5, size=(30, 15)).astype(float)
    yield "knapsack", lambda: knapsack.solve(values, weights=w, capacity=capacity)
    nodes = 10
    complete = [(u, v) for u in range(nodes) for v in range(u + 1, nodes)]
    for algorithm in ("prim", "kruskal"):
        tree = solvers.get("spanning_tree", n_nodes=nodes, edges=complete, algorithm=algorithm)
        t = rng.integers(0, 3, size=(60, len(complete))).astype(float)
        yield f"spanning tree {algorithm}", lambda tree=tree, t=t: tree.solve(t)
    tsp = solvers.get("tsp", n_nodes=7)
    tour_scores = -rng.integers(1, 4, size=(20, 21)).astype(float)
    yield "tsp", lambda: tsp.solve(tour_scores)
    multi = solvers.get("multi_knapsack")
    mw = rng.integers(1, 6, size=(30, 2, 12)).astype(float)
    mv = rng.integers(0, 5, size=(30, 12)).astype(float)
    yield "multi knapsack", lambda: multi.solve(mv, weights=mw, capacity=np.full((30, 2), 15.0))
    bnb = solvers.get("multi_knapsack", backend="branch_and_bound")
    yield (
        "multi knapsack, branch and bound",
        lambda: bnb.solve(mv, weights=mw, capacity=np.full((30, 2), 15.0)),
    )
    routing_scores = rng.integers(-3, 1, size=(20, 21)).astype(float)
    demands = rng.integers(0, 3, size=(20, 6)).astype(float)  # two routes always fit
    for limit in (None, 2):
        routing = solvers.get("vehicle_routing", n_nodes=7, capacity=6, num_vehicles=limit)
        yield (
            f"vehicle routing, {limit} vehicles",
            lambda routing=routing: routing.solve(routing_scores, demands=demands),
        )
    ties = rng.integers(0, 4, size=(600, 9)).astype(float)
    yield "isotonic regression", lambda: isotonic_decreasing(ties)


@pytest.mark.parametrize("seed", range(3))
def test_serial_and_parallel_kernels_give_identical_answers(force, seed):
    names = []
    for name, solve in _solves(np.random.default_rng(seed)):
        force("serial")
        y_serial = solve()
        force("parallel")
        y_parallel = solve()
        np.testing.assert_array_equal(y_serial, y_parallel, err_msg=name)
        names.append(name)
    assert len(names) == 15


def test_every_parallel_kernel_goes_through_the_runtime(force):
    """No ``parallel=True`` jit outside the runtime, and the parity test reaches every
    registered kernel."""
    for path in (ROOT / "solvers").glob("*.py"):
        if path.name != "runtime.py":
            assert not re.search(r"parallel\s*=\s*True", path.read_text()), path.name
    called = force("serial")
    for _, solve in _solves(np.random.default_rng(0)):
        solve()
    assert {k.__name__ for k in runtime.kernels()} == {k.__name__ for k in called}
    assert len(runtime.kernels()) == 12


def test_kernels_keep_their_names_and_compile_twice():
    kernel = sk.grid_dijkstra_batch
    assert kernel.__name__ == "grid_dijkstra_batch" and "parallel kernel" in repr(kernel)
    assert kernel.parallel.targetoptions.get("parallel") is True
    assert not kernel.serial.targetoptions.get("parallel")
    assert kernel.serial.py_func.__qualname__ == "grid_dijkstra_batch_serial"


# -- the rules that pick one thread ------------------------------------------------------------


@pytest.fixture
def budget_of(monkeypatch):
    """Pretend the process may use ``cores`` cores, nothing else running."""

    def set_cores(cores: int, running: int = 1, system: int | None = None):
        monkeypatch.setattr(runtime, "_cores", (os.getpid(), cores, system or cores))
        monkeypatch.setattr(_load, "running_threads", lambda: running)
        monkeypatch.setattr(runtime.numba.config, "NUMBA_NUM_THREADS", 64)
        monkeypatch.setattr(runtime, "_explicit", None)
        monkeypatch.setattr(runtime, "_world", [-1e9, 1])  # re-read the environment
        for name in ("LOCAL_WORLD_SIZE", "WORLD_SIZE"):
            monkeypatch.delenv(name, raising=False)

    return set_cores


def test_budget_is_cores_per_local_rank(budget_of, monkeypatch):
    def budget_with(**env):
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        runtime._world[0] = -1e9  # the environment is re-read at most once a second
        return runtime.budget()

    budget_of(8)
    assert runtime.budget() == 8
    assert budget_with(WORLD_SIZE="2") == 4
    assert budget_with(LOCAL_WORLD_SIZE="3") == 2  # wins over WORLD_SIZE
    assert runtime.local_world_size() == 3
    assert budget_with(LOCAL_WORLD_SIZE="16") == 1
    monkeypatch.setattr(runtime, "_explicit", 5)  # set_threads(5) wins
    assert runtime.budget() == 5
    monkeypatch.setattr(runtime.numba.config, "NUMBA_NUM_THREADS", 3)  # Numba's pool caps it
    assert runtime.budget() == 3


@pytest.mark.parametrize("value", ["abc", "0", "-2", "1.5"])
def test_a_bad_world_size_is_a_clear_error(budget_of, monkeypatch, value):
    budget_of(4)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", value)
    with pytest.raises(ValueError, match="LOCAL_WORLD_SIZE must be a positive integer"):
        runtime.budget()
    with pytest.raises(ValueError, match="LOCAL_WORLD_SIZE must be a positive integer"):
        runtime.set_threads(None)


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
def test_set_threads_refuses_nonsense(bad):
    with pytest.raises(ValueError, match="threads must be a positive integer or None"):
        runtime.set_threads(bad)
    with pytest.raises(TypeError, match="adaptive takes True, False or None"):
        runtime.adaptive(1)


def test_free_cores_from_the_runnable_threads_of_other_processes(budget_of):
    cases = [  # (running incl. the caller, spinning own workers, system cores, free of 2)
        (1, 0, 2, 2),
        (2, 0, 2, 1),
        (3, 0, 2, 0),
        (2, 1, 2, 2),  # the only other runnable thread is our own spinning worker
        (7, 0, 8, 2),  # six others fit on the six cores that are not ours
        (9, 0, 8, 0),
    ]
    for running, spinning, system, free in cases:
        budget_of(2, running=running, system=system)
        assert _load.free_cores(2, system, spinning=spinning) == free, (running, spinning)
        if not spinning:
            assert runtime.threads_for(10**6) == max(1, free), (running, system)


def test_one_thread_when_busy_small_forked_or_in_a_dataloader_worker(budget_of, monkeypatch):
    budget_of(2)
    assert runtime.threads_for(10**6) == 2
    assert runtime.threads_for(100, min_size=2048) == 1  # small batch
    budget_of(2, running=3)
    assert runtime.threads_for(10**6) == 1  # both cores taken by other processes
    runtime.adaptive(False)
    try:
        assert runtime.threads_for(10**6) == 2
    finally:
        runtime.adaptive(True)
    budget_of(2)
    monkeypatch.setattr(runtime, "_PID", -1)  # as seen from a forked child
    assert runtime.threads_for(10**6) == 1
    monkeypatch.undo()
    budget_of(2)
    fake = types.SimpleNamespace(get_worker_info=lambda: object())
    monkeypatch.setitem(sys.modules, "torch.utils.data", fake)
    assert runtime.threads_for(10**6) == 1


def test_a_call_while_another_thread_holds_the_pool_runs_serially(budget_of):
    budget_of(2)
    theta = -np.random.default_rng(0).random((64, 12, 12))
    expected = sk.grid_dijkstra_batch.serial(theta, sk.MOVES_8, 8)
    before = runtime.stats()
    assert runtime._pool.acquire(blocking=False)
    try:
        y = sk.grid_dijkstra_batch(theta, sk.MOVES_8, 8)
    finally:
        runtime._pool.release()
    after = runtime.stats()
    np.testing.assert_array_equal(y, expected)
    assert after["serial"] == before["serial"] + 1 and after["parallel"] == before["parallel"]


def test_the_stall_guard_holds_after_parallel_calls_slower_than_one_thread():
    guard = StallGuard()
    # before any serial call the limit is 2 × threads × the best parallel rate
    assert not guard.record_parallel(1e-3, 1000, threads=2, now=0.0)  # 1 µs/entry, the best
    assert not guard.record_parallel(3.9e-3, 1000, threads=2, now=0.0)
    assert guard.record_parallel(4.5e-3, 1000, threads=2, now=1.0)  # above 4 µs: a stall
    assert guard.allows_parallel(1.0)  # a single stall is forgiven
    assert guard.record_parallel(4.5e-3, 1000, threads=2, now=1.1)  # the second in a row
    assert guard.hold == pytest.approx(0.5e-3)  # the hold is the time lost
    assert not guard.allows_parallel(1.1004) and guard.allows_parallel(1.1005)
    assert not guard.record_parallel(1e-3, 1000, threads=2, now=2.0)
    assert guard.hold == 0.0 and guard.streak == 0  # a clean call ends the row
    # a measured serial rate sets the limit once there is one (average weight 1/4): 2 × 5 µs
    guard.record_serial(4e-3, 1000)
    guard.record_serial(8e-3, 1000)
    assert guard.serial_rate == pytest.approx(5e-6)
    assert not guard.record_parallel(9.9e-3, 1000, threads=2, now=2.0)
    # stalls in a row: the first forgiven, then holds of the time lost, doubled, up to MAX_HOLD
    holds = []
    for k in range(14):
        assert guard.record_parallel(11e-3, 1000, threads=2, now=10.0 * (k + 1))  # 1 ms lost
        holds.append(max(0.0, guard.hold_until - 10.0 * (k + 1)))
    np.testing.assert_allclose(holds, [0.0] + [min(1e-3 * 2**k, MAX_HOLD) for k in range(13)])
    assert not guard.record_parallel(1e-3, 1000, threads=2, now=200.0)
    assert guard.hold == 0.0 and guard.stalls == 16
    assert not guard.record_parallel(1.0, 0, threads=2, now=0.0)  # an empty call says nothing


def test_a_kernel_runs_serially_after_a_stalled_parallel_call(budget_of, monkeypatch):
    """A parallel call that took longer per entry than the serial ones sends the next calls
    to one thread for the hold, then the pool is tried again."""
    budget_of(2)
    theta = -np.random.default_rng(0).random((64, 12, 12))
    monkeypatch.setattr(runtime, "_kernels", list(runtime._kernels))  # not one of the zoo's
    kernel = runtime.ParallelKernel(sk.grid_dijkstra_batch.serial.py_func, min_size=0, cache=False)
    clock = [0.0]
    monkeypatch.setattr(runtime.time, "perf_counter", lambda: clock[0])

    def slow_parallel(*args):
        clock[0] += 1.0  # one second for a batch: far slower than one thread
        return sk.grid_dijkstra_batch.serial(*args)

    def serial(*args):
        clock[0] += 1e-3
        return sk.grid_dijkstra_batch.serial(*args)

    monkeypatch.setattr(kernel, "parallel", slow_parallel)
    monkeypatch.setattr(kernel, "serial", serial)
    runtime.set_threads(2)
    try:
        before = runtime.stats()
        kernel.guard.record_serial(1e-3, theta.size)
        kernel(theta, sk.MOVES_8, 8)  # parallel, stalls: forgiven
        kernel(theta, sk.MOVES_8, 8)  # parallel, stalls again: a hold of the 0.998 s lost
        kernel(theta, sk.MOVES_8, 8)  # within the hold: serial
        clock[0] += 1.0
        kernel(theta, sk.MOVES_8, 8)  # hold over: parallel again, stalls again
        after = runtime.stats()
    finally:
        runtime.set_threads(None)
    assert after["parallel"] - before["parallel"] == 3
    assert after["serial"] - before["serial"] == 1
    assert kernel.guard.stalls == 3 and kernel.guard.hold == pytest.approx(2 * 0.998)


def test_a_clean_parallel_call_is_reused_for_a_millisecond(budget_of, monkeypatch):
    """Within runtime.REUSE of a parallel call that did not stall, after QUIET_LOOKS looks in
    a row found the cores free, the next call of the kernel takes the same threads without
    a new look at the load; a busy look, a stall, the window's end or another process (a
    fork child) looks again."""
    budget_of(2)
    theta = -np.random.default_rng(0).random((64, 12, 12))
    monkeypatch.setattr(runtime, "_kernels", list(runtime._kernels))
    kernel = runtime.ParallelKernel(sk.grid_dijkstra_batch.serial.py_func, min_size=0, cache=False)
    clock = [0.0]
    monkeypatch.setattr(runtime.time, "perf_counter", lambda: clock[0])
    looks = []
    real_threads_for = runtime.threads_for
    monkeypatch.setattr(runtime, "threads_for", lambda *a: looks.append(a) or real_threads_for(*a))

    def timed(seconds):
        def run(*args):
            clock[0] += seconds
            return sk.grid_dijkstra_batch.serial(*args)

        return run

    monkeypatch.setattr(kernel, "parallel", timed(1e-4))
    monkeypatch.setattr(kernel, "serial", timed(2e-4))
    runtime.set_threads(2)
    try:
        for _ in range(runtime.QUIET_LOOKS):  # looks, each finding the cores free
            kernel(theta, sk.MOVES_8, 8)
        assert len(looks) == runtime.QUIET_LOOKS
        kernel(theta, sk.MOVES_8, 8)  # 0.1 ms after a clean parallel call: reused
        assert len(looks) == runtime.QUIET_LOOKS
        clock[0] += runtime.REUSE
        kernel(theta, sk.MOVES_8, 8)  # the window is over: looks again
        assert len(looks) == runtime.QUIET_LOOKS + 1
        clock[0] += runtime.REUSE
        budget_of(2, running=3)  # a neighbour (beside our spinning worker): the streak ends
        kernel(theta, sk.MOVES_8, 8)
        assert len(looks) == runtime.QUIET_LOOKS + 2 and kernel._quiet == 0
        budget_of(2)
        kernel(theta, sk.MOVES_8, 8)  # right after, but the streak starts again: looks
        assert len(looks) == runtime.QUIET_LOOKS + 3
        monkeypatch.setattr(runtime.os, "getpid", lambda: -1)  # as a fork child sees it
        kernel._quiet = runtime.QUIET_LOOKS
        kernel(theta, sk.MOVES_8, 8)
        assert len(looks) == runtime.QUIET_LOOKS + 4
        monkeypatch.undo()
    finally:
        runtime.set_threads(None)


def test_usable_cores_follow_affinity_and_cgroup_quota(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    monkeypatch.setattr(_load, "cgroup_cpu_quota", lambda: None)
    assert runtime._read_usable_cores() == 4
    monkeypatch.setattr(_load, "cgroup_cpu_quota", lambda: 1.5)
    assert runtime._read_usable_cores() == 2


# -- per-rank budget, fork and threads: fresh processes ----------------------------------------

_BUDGET = """
import os
import numba, torch
from diffsolvers.experiments.runner import set_threads
from solvers import runtime

runtime.adaptive(False)  # the budget itself, whatever the machine's load


def report():
    return [torch.get_num_threads(), numba.get_num_threads(), runtime.threads_for(10**7)]


print("OK", len(os.sched_getaffinity(0)))
print("OK", set_threads(None), *report())  # rank of a 2-process job on this machine
print("OK", set_threads(2), *report())  # an explicit value wins
os.environ["LOCAL_WORLD_SIZE"] = "1"
print("OK", set_threads(None), *report())  # alone on the machine
"""


def test_thread_budget_is_applied_per_rank():
    env = {"LOCAL_WORLD_SIZE": "2", "WORLD_SIZE": "4", "RANK": "1", "NUMBA_NUM_THREADS": "2"}
    out = assert_ok(run_python(_BUDGET, **env))
    lines = [list(map(int, line.split()[1:])) for line in out.splitlines() if line[:2] == "OK"]
    cores = lines[0][0]
    half, whole = max(1, cores // 2), min(2, cores)  # NUMBA_NUM_THREADS=2 caps the pool
    assert lines[1] == [min(half, 2)] * 4
    assert lines[2] == [2, 2, 2, 2]
    assert lines[3] == [whole] * 4


#: The two orders in which torch's OpenMP and Numba's threading layer can be loaded: with
#: torch first, Numba's ``omp`` layer runs on torch's libgomp; with Numba first, torch
#: shares the system's.
IMPORTS = {
    "torch first": "import torch\nimport solvers",
    "solvers first": "import solvers\nimport numba\nnumba.get_num_threads()\nimport torch",
}

_FORK = """
import numpy as np
{imports}
from solvers import _shortest_path_kernels as sk


class Grids(torch.utils.data.Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        theta = -np.random.default_rng(i).random((64, 12, 12))
        return torch.from_numpy(solvers.get("shortest_path").solve(theta))


if {parent_parallel}:  # the parent's own OpenMP pool has run a parallel solve
    sk.grid_dijkstra_batch.parallel(-np.random.rand(64, 12, 12), sk.MOVES_8, 8)
a = torch.randn(512, 512)
a @ a
loader = torch.utils.data.DataLoader(
    Grids(), num_workers=2, batch_size=2, multiprocessing_context="fork"
)
got = torch.cat(list(loader)).numpy().reshape(-1, 12, 12)
theta = np.concatenate([-np.random.default_rng(i).random((64, 12, 12)) for i in range(8)])
assert np.array_equal(got, sk.grid_dijkstra_batch.serial(theta, sk.MOVES_8, 8))
print("OK")
"""


@pytest.mark.parametrize(
    ("order", "parent_parallel"),
    [("torch first", False), ("torch first", True), ("solvers first", True)],
    ids=lambda v: str(v).replace(" ", "-"),
)
def test_forked_dataloader_workers_solve_after_the_parent_ran_torch_and_a_parallel_solve(
    order, parent_parallel
):
    code = _FORK.format(imports=IMPORTS[order], parent_parallel=parent_parallel)
    assert_ok(run_python(code, timeout=240))


_SPAWNED_WORKER = """
import torch
from solvers import runtime


class Threads(torch.utils.data.Dataset):
    def __len__(self):
        return 2

    def __getitem__(self, i):
        return runtime.threads_for(10**7)


if __name__ == "__main__":
    runtime.adaptive(False)
    loader = torch.utils.data.DataLoader(Threads(), num_workers=1, multiprocessing_context="spawn")
    print("OK", [int(t) for t in loader], runtime.threads_for(10**7))
"""


def test_spawned_dataloader_workers_solve_in_one_thread(tmp_path):
    script = tmp_path / "spawned.py"
    out = assert_ok(run_python(_SPAWNED_WORKER, script=script, NUMBA_NUM_THREADS="2"))
    assert out.split("OK", 1)[1].split()[:2] == ["[1,", "1]"]


_THREADS = """
import threading
import numba
{imports}
import diffsolvers
from solvers import runtime

runtime.adaptive(False)  # use the pool whenever it is free, whatever the machine's load
runtime.set_threads(2)  # two threads even on a one-core machine
costs = torch.rand(16, 12, 12, generator=torch.Generator().manual_seed(0)) + 0.1


def run(seed, out):
    layer = diffsolvers.layer("shortest_path", method="perturbed", n_samples=10, seed=seed,
                              inputs="costs", sigma=0.5)
    for _ in range(25):
        x = costs.clone().requires_grad_()
        y = layer(x)
        (y * costs).sum().backward()
        out.append((y.detach(), x.grad))


serial = {{}}
for seed in (1, 2):
    serial[seed] = []
    run(seed, serial[seed])
together = {{1: [], 2: []}}
threads = [threading.Thread(target=run, args=(s, together[s])) for s in (1, 2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
for seed in (1, 2):
    assert len(together[seed]) == 25
    for (y0, g0), (y1, g1) in zip(serial[seed], together[seed]):
        assert torch.equal(y0, y1) and torch.equal(g0, g1)
assert runtime.stats()["parallel"] > 0, runtime.stats()
print("OK", numba.threading_layer())
"""


_PROBE_LAYER = """
import numba
numba.config.THREADING_LAYER = {layer!r}
try:
    numba.get_num_threads()
except ValueError:
    print("MISSING")
"""


@pytest.mark.parametrize(
    ("layer", "order"),
    [
        ("default", "torch first"),
        ("default", "solvers first"),
        ("workqueue", "torch first"),
        ("omp", "torch first"),
        ("tbb", "torch first"),
    ],
    ids=lambda v: v.replace(" ", "-"),
)
def test_two_python_threads_in_one_layer_neither_abort_nor_change_results(layer, order):
    if layer != "default":
        probe = run_python(_PROBE_LAYER.format(layer=layer))
        if "MISSING" in probe.stdout:
            pytest.skip(f"the {layer} threading layer cannot be loaded here")
    env = {"NUMBA_NUM_THREADS": "2"}
    if layer != "default":
        env["NUMBA_THREADING_LAYER"] = layer
    code = _THREADS.format(imports=IMPORTS[order])
    out = assert_ok(run_python(code, timeout=300, **env))
    if layer != "default":
        assert out.split()[-1] == layer
