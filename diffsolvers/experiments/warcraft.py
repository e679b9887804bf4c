"""End-to-end training on Warcraft shortest-path maps (Vlastelica et al., ICLR 2020).

One training step: ``img (B, 3, 8k, 8k)`` → CNN → costs ``ĉ (B, k, k) >= 0`` → the method's
objective against the true path (or the true costs for ``spo_plus`` / ``two_stage``) →
``backward`` → Adam step. After each epoch the model is evaluated on the validation split
(:func:`.warcraft_metrics.evaluate`: paths of optimal cost, exact paths, regret), and after
the last on the test split.

Defaults are the literature's: Adam, lr 5e-4, batch 70, 50 epochs, lr ÷ 10 at epochs 30
and 40. The run writes ``config.json``, ``metrics.json``, ``metrics.csv``,
``checkpoint.pt`` (every epoch, atomically: ``--resume`` continues where it stopped and
Ctrl-C leaves the last finished epoch), ``curves.png`` and ``examples.png``; ``metrics.json``
holds the test metrics, the validation history and the test cost profile
(:func:`.cost_profile.cost_profile`: predicted cost per terrain class).

The loop has three parts: :func:`train_epoch` (one pass over the training maps),
:func:`.warcraft_metrics.evaluate` (a split's metrics) and :func:`record_epoch` (the one
place that writes an epoch's records: history, checkpoint, ``metrics.csv``, its line).

Example::

    results = train_warcraft(WarcraftConfig(method="fenchel_young", epochs=50), "runs/fy")
    print(results["test"]["optimal"])

Reference: Vlastelica et al., "Differentiation of Blackbox Combinatorial Solvers",
ICLR 2020; Berthet et al., "Learning with Differentiable Perturbed Optimizers",
NeurIPS 2020.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

import solvers

from ..datasets.warcraft import random_symmetry
from .cost_profile import cost_profile
from .models import WarcraftCNN
from .objectives import make_objective
from .output import atomic_save, make_folder, write_csv, write_json
from .plots import plot_examples, plot_run_curves
from .runner import SolverClock, Stopwatch, run_lock, set_threads
from .warcraft_data import load_data, split_tensors, training_split
from .warcraft_metrics import evaluate, path_metrics, random_tie_paths, solve_paths
from .warcraft_run import (
    CorruptCheckpoint,
    RunAlreadyExists,
    WarcraftConfig,
    check_config,
    check_same_run,
    config_mismatch,
    data_signature,
    load_results,
    read_checkpoint,
    require_same_config,
    require_same_data,
    resolve_device,
    restart_advice,
)

__all__ = [
    "train_warcraft",
    "train_epoch",
    "record_epoch",
    "load_data",
    "split_tensors",
    "TrainingState",
    # kept importable from here: defined in .warcraft_run and .warcraft_metrics
    "WarcraftConfig",
    "RunAlreadyExists",
    "check_same_run",
    "config_mismatch",
    "require_same_config",
    "data_signature",
    "require_same_data",
    "resolve_device",
    "load_results",
    "path_metrics",
    "evaluate",
    "solve_paths",
    "random_tie_paths",
]


# -- the state of a run in training ---------------------------------------------------------------
@dataclass
class TrainingState:
    """What one training run holds between epochs: model, optimiser, schedule, history."""

    config: WarcraftConfig
    out: Path
    device: torch.device
    objective: torch.nn.Module
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

    @property
    def epoch(self) -> int:
        """The number of finished epochs."""
        return self.history[-1]["epoch"] if self.history else 0

    @property
    def checkpoint_path(self) -> Path:
        return self.out / "checkpoint.pt"

    def checkpoint(self) -> dict[str, Any]:
        """Everything :func:`train_warcraft` needs to continue after the last epoch."""
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "history": self.history,
            "epoch": self.epoch,
            "config": self.config.to_dict(),
            "data_signature": self.signature,
            "normalization": self.normalization,
            "threads": self.threads,
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from a :meth:`checkpoint` (checked against the configuration first);
        warns if the run trained with another thread count (no bit-exact resume)."""
        saved = {**state["config"], "data_signature": state.get("data_signature")}
        require_same_config(saved, self.config.to_dict(), self.out)
        require_same_data(state, self.signature, self.out)
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
        except (RuntimeError, ValueError, KeyError, TypeError) as exc:
            detail = (str(exc).strip().splitlines() or [""])[0][:200]
            raise CorruptCheckpoint(
                f"{self.checkpoint_path} is inconsistent: its model or optimiser state does "
                f"not fit this run ({detail}); {restart_advice(self.checkpoint_path)}"
            ) from exc
        self.history = state["history"]
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


def _threads(n: int) -> str:
    return f"{n} thread" if n == 1 else f"{n} threads"


# -- training ------------------------------------------------------------------------------------
def train_warcraft(
    config: WarcraftConfig, out: str | Path, *, resume: bool = False
) -> dict[str, Any]:
    """Train (or resume) one run; returns the final metrics dictionary (also on disk).

    The configuration (:func:`.warcraft_run.check_config`), the method and the device are
    checked before any data is loaded or folder made."""
    out = Path(out)
    check_config(config)
    objective = make_objective("shortest_path", config.method, method_options=config.method_options)
    device = resolve_device(config.device)
    ckpt_path = out / "checkpoint.pt"
    if ckpt_path.exists() and not resume:
        raise RunAlreadyExists(
            f"{out} already holds a run (checkpoint.pt); pass resume=True (--resume) to "
            "continue it, or choose another output folder"
        )
    make_folder(out)
    with run_lock(out):
        return _train_locked(config, out, objective, device)


def _train_locked(
    config: WarcraftConfig, out: Path, objective: torch.nn.Module, device: torch.device
) -> dict[str, Any]:
    """The body of :func:`train_warcraft`, run while this process holds the folder's lock."""
    threads = set_threads(config.threads)
    torch.manual_seed(config.seed)
    ckpt_path = out / "checkpoint.pt"
    # read (and checked) before the data, which may take long to load
    saved = read_checkpoint(ckpt_path, epochs=config.epochs) if ckpt_path.exists() else None
    splits, root, normalization = load_data(config)
    solver = solvers.get("shortest_path")
    train = training_split(config, splits, solver, device)
    model = WarcraftCNN(config.k, channels_last=config.channels_last).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    run = TrainingState(
        config=config,
        out=out,
        device=device,
        objective=objective,
        model=model,
        optimizer=optimizer,
        scheduler=torch.optim.lr_scheduler.MultiStepLR(
            optimizer, milestones=list(config.milestones), gamma=0.1
        ),
        solver=solver,
        clock=SolverClock().attach(objective),
        signature=data_signature(root, config.k),
        normalization=normalization,
        threads=threads,
    )
    if saved is not None:
        run.restore(saved)
        # The records of the epochs done, which the process may have died before writing.
        write_csv(run.history, out / "metrics.csv")
    write_json(
        {**config.to_dict(), "data_root": root, "data_signature": run.signature},
        out / "config.json",
    )
    try:
        for epoch in range(run.epoch, config.epochs):
            row = train_epoch(run, train, epoch)
            val, _, _ = evaluate(model, solver, *splits["val"])
            record_epoch(run, row, val)
    except KeyboardInterrupt:
        print(f"\ninterrupted: {_saved_words(run)}")
        raise
    return _finish(run, splits["test"], root, n_train=int(train[0].shape[0]))


def _saved_words(run: TrainingState) -> str:
    """What an interrupted run leaves, and how to go on."""
    if run.epoch == 0:
        return (
            f"no epoch of {run.out} had finished, so nothing was saved; run the same command "
            "again to start it"
        )
    return (
        f"{run.checkpoint_path} holds epoch {run.epoch}; run the same command again to "
        "continue (with --resume for `diffsolvers train`)"
    )


def _epoch_seed(seed: int, epoch: int) -> int:
    """The seed of the batch order and of the method's noise in one epoch (in torch's seed
    range for every run seed; the same as ``seed · 100003 + epoch`` below about 9e13)."""
    return (seed * 100_003 + epoch) % 2**63


def train_epoch(
    run: TrainingState, train: tuple[torch.Tensor, torch.Tensor, torch.Tensor], epoch: int
) -> dict[str, Any]:
    """One pass over the training maps (``epoch`` counts from 0) and one step of the lr
    schedule; returns the epoch's training loss, timings and lr."""
    config, model, optimizer = run.config, run.model, run.optimizer
    images, costs, paths = train
    sw = Stopwatch()
    run.clock.reset()
    run.objective.manual_seed(_epoch_seed(config.seed, epoch))
    shuffle = torch.Generator().manual_seed(_epoch_seed(config.seed, epoch))
    order = torch.randperm(images.shape[0], generator=shuffle)
    losses: list[float] = []
    t0 = time.perf_counter()
    bar = tqdm(
        range(0, images.shape[0], config.batch_size),
        desc=f"{config.method} epoch {epoch + 1}/{config.epochs}",
        disable=not config.progress,
        leave=False,
        unit="batch",
    )
    for start in bar:
        with sw("data"):
            idx = order[start : start + config.batch_size]
            xb, cb, yb = _batch(run, images[idx], costs[idx], paths[idx], shuffle)
        with sw("step"):
            loss = run.objective(model(xb), costs_true=cb, y_true=yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        losses.append(loss.item())
        bar.set_postfix(loss=f"{np.mean(losses[-20:]):.4f}")
    lr = optimizer.param_groups[0]["lr"]  # the rate this epoch trained with
    run.scheduler.step()
    seconds = time.perf_counter() - t0
    return {
        "epoch": epoch + 1,
        "train_loss": float(np.mean(losses)),
        "epoch_seconds": seconds,
        "data_seconds": sw.totals.get("data", 0.0),
        "step_seconds": sw.totals.get("step", 0.0),
        "solver_seconds": run.clock.seconds,
        "solver_share": run.clock.seconds / max(seconds, 1e-12),
        "lr": lr,
    }


def _batch(
    run: TrainingState,
    images: torch.Tensor,
    costs: torch.Tensor,
    paths: torch.Tensor,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One training batch on the model's device: with ``augment``, moved by a random
    symmetry and relabelled (by the solver's tie-breaking, or at random with ``ties``)."""
    if run.config.augment:
        images, costs = random_symmetry(images, costs, generator=generator)
        if run.config.ties == "random":
            jitter = torch.rand(costs.shape, generator=generator, dtype=torch.float64)
            paths = random_tie_paths(run.solver, costs, jitter, paths.dtype)
        else:
            paths = solve_paths(run.solver, costs, paths.dtype)
    return tuple(t.to(run.device) for t in (images, costs, paths))


def record_epoch(run: TrainingState, row: dict[str, Any], val: dict[str, float]) -> None:
    """Record a finished epoch: its row (training columns of :func:`train_epoch` and the
    validation metrics) joins the history, then the checkpoint and ``metrics.csv`` are
    written and a line printed."""
    config = run.config
    timings = {k: v for k, v in row.items() if k not in ("epoch", "train_loss")}
    row = {
        "epoch": row["epoch"],
        "train_loss": row["train_loss"],
        **{f"val_{k}": v for k, v in val.items()},
        **timings,
    }
    run.history.append(row)
    atomic_save(run.checkpoint(), run.checkpoint_path)
    write_csv(run.history, run.out / "metrics.csv")
    line = (
        f"{_tag(config)} epoch {row['epoch']:>3}/{config.epochs}  "
        f"loss {row['train_loss']:.4f}  val optimal {100 * val['optimal']:.1f}%  "
        f"exact {100 * val['exact']:.1f}%  regret {100 * val['regret']:.2f}%  "
        f"{row['epoch_seconds']:.1f}s (solver {100 * row['solver_share']:.1f}%)"
    )
    if config.progress:
        tqdm.write(line)  # above the progress bar
    else:
        print(line, flush=True)


def _tag(config: WarcraftConfig) -> str:
    """The prefix of a run's lines (runs of a comparison may print side by side)."""
    return f"[{config.method} seed {config.seed}]"


def _finish(
    run: TrainingState, test_split: tuple[torch.Tensor, ...], root: str, n_train: int
) -> dict[str, Any]:
    """Test the final model; write ``metrics.json`` and the figures; return the results."""
    config, history = run.config, run.history
    test, c_hat, y_hat = evaluate(run.model, run.solver, *test_split)
    results = {
        "method": config.method,
        "seed": config.seed,
        "k": config.k,
        "epochs": config.epochs,
        "test": test,
        "test_cost_profile": cost_profile(c_hat, test_split[1]),
        "history": history,
        "train_seconds_per_epoch": float(np.mean([r["epoch_seconds"] for r in history]))
        if history
        else 0.0,
        "solver_share": float(
            sum(r["solver_seconds"] for r in history)
            / max(sum(r["epoch_seconds"] for r in history), 1e-12)
        ),
        "data_root": root,
        "data_signature": run.signature,
        "n_train": n_train,
        "device": str(run.device),
    }
    write_csv(history, run.out / "metrics.csv")
    write_json(results, run.out / "metrics.json")
    plot_run_curves(history, run.out / "curves.png", title=config.method)
    plot_examples(test_split, y_hat, c_hat, run.out / "examples.png")
    print(
        f"{_tag(config)} test: optimal-cost paths {100 * test['optimal']:.1f}%, exact "
        f"{100 * test['exact']:.1f}%, regret {100 * test['regret']:.2f}%  → {run.out}",
        flush=True,
    )
    return results
