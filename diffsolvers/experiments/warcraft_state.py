"""What a Warcraft run holds between epochs, and its checkpoint.

:class:`TrainingState` gathers the model, optimiser, schedule and history of one run, and
the process's place in a distributed job (:class:`.distributed.World`). Its
:meth:`~TrainingState.checkpoint` is everything needed to continue after the last epoch;
in a distributed run it also holds every rank's random-number state
(:func:`rng_state`: torch's, CUDA's, NumPy's and Python's global generators) and each rank
gets its own back on :meth:`~TrainingState.restore`. The perturbed methods' noise
generators need no saving: every epoch reseeds them from ``(seed, epoch, rank)``
(:func:`.warcraft.noise_seed`), so a run resumed at an epoch boundary draws the noise the
uninterrupted run would have drawn.

Example::

    state = run.checkpoint(ranks=[{"rng": rng_state(run.device), "threads": 1}])
    run.restore(state)       # in a new process, on the same configuration and data
"""

from __future__ import annotations

import random
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

import solvers

from .data_parallel import unwrap
from .distributed import SINGLE, World
from .runner import SolverClock
from .warcraft_run import (
    CorruptCheckpoint,
    WarcraftConfig,
    require_same_config,
    require_same_data,
    restart_advice,
)

__all__ = ["TrainingState", "rng_state", "set_rng_state"]


def rng_state(device: torch.device) -> dict[str, Any]:
    """This process's global random-number states: torch's CPU generator, ``device``'s
    CUDA generator (if it is one), NumPy's and Python's."""
    state = {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),  # noqa: NPY002 - the global state, as code may use it
        "python": random.getstate(),
    }
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict[str, Any], device: torch.device) -> None:
    """Restore what :func:`rng_state` returned (a CUDA state only onto a CUDA device)."""
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])  # noqa: NPY002 - the global state
    random.setstate(state["python"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def _threads(n: int) -> str:
    return f"{n} thread" if n == 1 else f"{n} threads"


def _processes(n: int) -> str:
    return f"{n} process" if n == 1 else f"{n} processes"


@dataclass
class TrainingState:
    """What one training run holds between epochs: model, optimiser, schedule, history."""

    config: WarcraftConfig
    out: Path
    device: torch.device
    objective: torch.nn.Module
    #: The module trained: the CNN, or in a distributed run its DistributedDataParallel
    #: wrapper (:attr:`net` is the CNN either way).
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    #: The solver of evaluation and of relabelled training batches (augmentation, ties).
    solver: solvers.Solver
    #: Wall time inside the objective's solvers (reset every epoch).
    clock: SolverClock
    #: What identifies the run's data and how its images are normalised (saved with it).
    signature: dict[str, Any]
    normalization: dict[str, list[float]]
    #: torch's thread count (floating-point reductions, hence the exact results, depend on
    #: it: a run resumed with another count is not bit-identical to one never stopped).
    threads: int
    history: list[dict[str, Any]] = field(default_factory=list)
    #: This process's place in a distributed job (:data:`.distributed.SINGLE`: alone).
    world: World = SINGLE
    #: Per rank: seconds in the solvers, in the steps and in the epochs trained by this
    #: process (not those before a resume), the instances its objective solved in them,
    #: its torch and solver thread budgets.
    rank_totals: list[dict[str, Any]] = field(default_factory=list)

    @property
    def net(self) -> torch.nn.Module:
        """The CNN itself (what is saved, evaluated and loaded)."""
        return unwrap(self.model)

    @property
    def epoch(self) -> int:
        """The number of finished epochs."""
        return self.history[-1]["epoch"] if self.history else 0

    @property
    def checkpoint_path(self) -> Path:
        return self.out / "checkpoint.pt"

    def checkpoint(self, ranks: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """Everything :func:`.warcraft.train_warcraft` needs to continue after the last
        epoch; ``ranks``: each rank's ``{"rng": rng_state(...), "threads": n}``."""
        state = {
            "model": self.net.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "history": self.history,
            "epoch": self.epoch,
            "config": self.config.to_dict(),
            "data_signature": self.signature,
            "normalization": self.normalization,
            "threads": self.threads,
            "world_size": self.world.size,
        }
        if ranks is not None:
            state["ranks"] = ranks
        return state

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from a :meth:`checkpoint` (checked against the configuration first),
        each rank with its own random-number state when the job has as many processes as
        the one that saved it; rank 0 warns if the run trained with another thread count
        or number of processes (no bit-exact resume)."""
        saved = {**state["config"], "data_signature": state.get("data_signature")}
        require_same_config(saved, self.config.to_dict(), self.out)
        require_same_data(state, self.signature, self.out)
        try:
            self.net.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
        except (RuntimeError, ValueError, KeyError, TypeError) as exc:
            detail = (str(exc).strip().splitlines() or [""])[0][:200]
            raise CorruptCheckpoint(
                f"{self.checkpoint_path} is inconsistent: its model or optimiser state does "
                f"not fit this run ({detail}); {restart_advice(self.checkpoint_path)}"
            ) from exc
        self.history = state["history"]
        size = state.get("world_size", 1)
        ranks = state.get("ranks")
        if ranks is not None and len(ranks) == self.world.size == size:
            set_rng_state(ranks[self.world.rank]["rng"], self.device)
        if not self.world.main:
            return
        if size != self.world.size:
            warnings.warn(
                f"{self.out} trained on {_processes(size)} and resumes on "
                f"{_processes(self.world.size)}: its results will not be bit-identical to a "
                "run never stopped (the perturbed methods' noise is drawn per process, sums "
                "run in another order)",
                stacklevel=2,
            )
            return
        before = state.get("threads")
        if before is not None and before != self.threads:
            warnings.warn(
                f"{self.out} trained on {_threads(before)} and resumes on "
                f"{_threads(self.threads)}: "
                "its results will not be bit-identical to a run never stopped (the order of "
                f"floating-point sums depends on the thread count); --threads {before} "
                "resumes exactly",
                stacklevel=2,
            )
