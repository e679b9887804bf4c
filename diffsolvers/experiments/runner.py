"""Shared machinery of the training commands: the run folder's lock, timing, threads.

Nothing here knows about a particular data set: :mod:`.warcraft` and :mod:`.synthetic`
build on it, and :mod:`.compare` runs them for several methods and seeds. Files are
written by :mod:`.output` (its writers are importable from here too).
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from torch import nn

from solvers.base import Solver

from .output import atomic_save, output_error, write_csv, write_json

try:
    import fcntl
except ImportError:  # Windows: runs are not locked
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "RunInUse",
    "run_lock",
    "run_holder",
    "SolverClock",
    "atomic_save",
    "write_json",
    "write_csv",
    "set_threads",
    "check_names",
    "Stopwatch",
]


LOCK_NAME = ".lock"


class RunInUse(RuntimeError):
    """Another process is training the same run folder right now."""


def _in_use(out: Path, pid: str) -> RunInUse:
    who = f"process {pid}" if pid else "another process"
    return RunInUse(
        f"{out} is being trained by {who}: wait for it to finish, or stop it; two processes "
        "training one run folder would overwrite each other's checkpoint and metrics"
    )


@contextmanager
def run_lock(out: str | Path) -> Iterator[None]:
    """Hold an exclusive lock on the run folder ``out`` (which must exist) while training it.

    A second process that tries to train the same folder at the same time (two ``compare``
    calls on one ``--out``, or a worker left running by a stopped one) gets
    :class:`RunInUse` instead of racing the first on ``checkpoint.pt`` and ``metrics.csv``.
    The lock is an ``flock`` on ``out/.lock``, which holds the holder's process id; the OS
    releases it when the holder exits, however it exits, so no stale lock is ever left.
    Where ``fcntl`` is missing (Windows) no lock is taken, and where the file system refuses
    locks a warning says so and the run trains unlocked.
    """
    if fcntl is None:
        yield
        return
    out = Path(out)
    try:
        fh = open(out / LOCK_NAME, "a+")
    except OSError as exc:
        raise output_error(exc, out / LOCK_NAME) from exc
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            raise _in_use(out, fh.read().strip()) from None
        except OSError as exc:  # a file system without locks (some network mounts)
            warnings.warn(f"{out} cannot be locked ({exc}); training it unlocked", stacklevel=3)
            yield
            return
        try:
            fh.seek(0)
            fh.truncate()
            fh.write(str(os.getpid()))
            fh.flush()
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def run_holder(out: str | Path) -> RunInUse | None:
    """The :class:`RunInUse` error :func:`run_lock` would raise on ``out`` now, or ``None``
    (a probe: the lock is not kept)."""
    out = Path(out)
    if fcntl is None or not (out / LOCK_NAME).exists():
        return None
    try:
        with run_lock(out):
            return None
    except RunInUse as exc:
        return exc


class SolverClock:
    """Accumulates the wall time spent inside the solvers of a module tree.

    :meth:`attach` wraps the ``solve`` method of every :class:`solvers.Solver` found as an
    attribute ``solver`` of the module or its submodules (instance-level wrap; the solver
    itself is unchanged), so perturbation-and-solve time can be reported separately from
    the network's time.
    """

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0
        self.instances = 0

    def attach(self, module: nn.Module) -> SolverClock:
        seen: set[int] = set()
        for m in module.modules():
            solver = getattr(m, "solver", None)
            if isinstance(solver, Solver) and id(solver) not in seen:
                seen.add(id(solver))
                self._wrap(solver)
        return self

    def _wrap(self, solver: Solver) -> None:
        inner = solver.solve

        def timed_solve(theta: Any, **side: Any):
            start = time.perf_counter()
            out = inner(theta, **side)
            self.seconds += time.perf_counter() - start
            self.calls += 1
            self.instances += int(out.size // max(1, _instance_size(solver, out)))
            return out

        solver.solve = timed_solve  # type: ignore[method-assign]

    def reset(self) -> None:
        self.seconds, self.calls, self.instances = 0.0, 0, 0


def _instance_size(solver: Solver, y: Any) -> int:
    size = 1
    for d in y.shape[y.ndim - solver.event_ndim :]:
        size *= d
    return size


class Stopwatch:
    """Named wall-clock accumulators: ``with sw("data"): ...``."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.totals[name] = self.totals.get(name, 0.0) + time.perf_counter() - start


def check_names(methods: Sequence[str], seeds: Sequence[int]) -> None:
    """``ValueError`` unless a comparison has at least one method and one seed, each once."""
    for what, names in (("method", list(methods)), ("seed", list(seeds))):
        if not names:
            raise ValueError(f"compare needs at least one {what}")
        repeated = sorted({str(n) for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"each {what} must be given once; repeated: {', '.join(repeated)}")


def set_threads(n: int | None) -> int:
    """Use ``n`` threads for both torch and the solvers (they run one after the other in a
    training step, so each may use every core); ``None``: the per-process budget, usable
    cores / processes of the job on this machine (:mod:`diffsolvers.threads`)."""
    from ..threads import apply_thread_budget

    return apply_thread_budget(None if n is None else max(1, int(n)))
