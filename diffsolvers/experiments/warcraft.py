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
:func:`evaluate_split` (a split's metrics) and :func:`.warcraft_records.record_epoch` (the
one place that writes an epoch's records: history, checkpoint, ``metrics.csv``, its line).

Under ``torchrun --nproc_per_node N`` the same call trains one model on N processes
(:mod:`.distributed`, :mod:`.data_parallel`): every process draws the same order of the
maps and takes its part of each global batch (``global_batch`` maps, by default
``batch_size × N``), perturbs and solves only its own maps, and the gradients of the
global batch's mean loss are summed over processes; each split is evaluated in disjoint
parts whose metric sums are added; rank 0 holds the run's lock and writes every file.

Example::

    results = train_warcraft(WarcraftConfig(method="fenchel_young", epochs=50), "runs/fy")
    print(results["test"]["optimal"])

Reference: Vlastelica et al., "Differentiation of Blackbox Combinatorial Solvers",
ICLR 2020; Berthet et al., "Learning with Differentiable Perturbed Optimizers",
NeurIPS 2020.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

import solvers

from ..datasets.warcraft_symmetries import apply_symmetries, draw_symmetries
from .data_parallel import wrap_model
from .distributed import (
    FailedOnMain,
    World,
    all_gather,
    all_reduce_sum,
    launched,
    on_main,
    rank_device,
    setup,
    shard,
)
from .models import WarcraftCNN
from .objectives import make_objective
from .output import make_folder, write_csv, write_json
from .runner import SolverClock, Stopwatch, run_lock, set_threads
from .warcraft_data import generated_data_once, load_data, split_tensors, training_split
from .warcraft_metrics import (
    METRIC_SUMS,
    evaluate,
    metrics_from_sums,
    path_metric_sums,
    path_metrics,
    random_tie_paths,
    solve_paths,
)
from .warcraft_records import finish_run, record_epoch
from .warcraft_run import (
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
    resolve_batch,
    resolve_device,
)
from .warcraft_state import TrainingState

__all__ = [
    "train_warcraft",
    "train_epoch",
    "record_epoch",
    "evaluate_split",
    "noise_seed",
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


# -- training ------------------------------------------------------------------------------------
def train_warcraft(
    config: WarcraftConfig, out: str | Path, *, resume: bool = False
) -> dict[str, Any]:
    """Train (or resume) one run; returns the final metrics dictionary (also on disk).

    The configuration (:func:`.warcraft_run.check_config`), the method and the device are
    checked before any data is loaded or folder made. Under torchrun every process calls
    it with the same arguments (:mod:`.distributed`): rank 0 checks, locks and reads the
    run folder (its ``resume`` decides) and writes the files; every rank returns the
    same results."""
    out = Path(out)
    check_config(config)
    objective = make_objective("shortest_path", config.method, method_options=config.method_options)
    world = launched()
    config = resolve_batch(config, world.size)
    device = rank_device(config.device, world)
    world = setup(device, config.dist_timeout)
    with contextlib.ExitStack() as held:

        def claim() -> dict[str, Any] | None:
            """Rank 0: the run folder made and locked, its checkpoint read (if any)."""
            ckpt_path = out / "checkpoint.pt"
            if ckpt_path.exists() and not resume:
                raise RunAlreadyExists(
                    f"{out} already holds a run (checkpoint.pt); pass resume=True (--resume) "
                    "to continue it, or choose another output folder"
                )
            make_folder(out)
            held.enter_context(run_lock(out))
            # read (and checked) before the data, which may take long to load
            return read_checkpoint(ckpt_path, epochs=config.epochs) if ckpt_path.exists() else None

        saved = on_main(claim, world)
        return _train(config, out, objective, device, world, saved)


def _data_root(config: WarcraftConfig, world: World) -> str | Path | None:
    """Where a distributed run's generated data are (:func:`.generated_data_once`);
    ``None`` (:func:`.load_data` decides) for one process or given data."""
    if config.data is not None or not world.active:
        return None
    return generated_data_once(config.k, world, config.progress)


def _same_data_everywhere(signature: dict[str, Any], root: str, world: World) -> None:
    """``ValueError`` (rank 0; :class:`.FailedOnMain` elsewhere) unless every rank loaded
    the same data (the same files on every machine)."""
    seen = all_gather((signature, root), world)
    odd = [rank for rank, (sig, _) in enumerate(seen) if sig != seen[0][0]]
    if not odd:
        return
    error = ValueError(
        f"the processes of the job see different Warcraft data: rank 0 reads {seen[0][1]}, "
        f"rank {odd[0]} reads {seen[odd[0]][1]} with other files or parameters; give every "
        "machine the same data (--data)"
    )
    raise error if world.main else FailedOnMain(error)


def _train(
    config: WarcraftConfig,
    out: Path,
    objective: torch.nn.Module,
    device: torch.device,
    world: World,
    saved: dict[str, Any] | None,
) -> dict[str, Any]:
    """The body of :func:`train_warcraft`, run while rank 0 holds the folder's lock."""
    threads = set_threads(config.threads)
    torch.manual_seed(config.seed)
    splits, root, normalization = load_data(config, _data_root(config, world))
    signature = data_signature(root, config.k)
    _same_data_everywhere(signature, root, world)
    solver = solvers.get("shortest_path")
    train = training_split(config, splits, solver, device)
    net = WarcraftCNN(config.k, channels_last=config.channels_last).to(device)
    model = wrap_model(net, world, device)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr)
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
        signature=signature,
        normalization=normalization,
        threads=threads,
        world=world,
    )
    if saved is not None:
        run.restore(saved)
        if (
            world.main
        ):  # the records of the epochs done, which the process may have died before writing
            write_csv(run.history, out / "metrics.csv")
    if world.main:
        write_json(
            {**config.to_dict(), "data_root": root, "data_signature": run.signature},
            out / "config.json",
        )
    try:
        for epoch in range(run.epoch, config.epochs):
            row = train_epoch(run, train, epoch)
            val, _, _ = evaluate_split(run, splits["val"])
            record_epoch(run, row, val)
    except KeyboardInterrupt:
        if world.main:
            print(f"\ninterrupted: {_saved_words(run)}")
        raise
    tested = evaluate_split(run, splits["test"], predictions=True)
    return finish_run(run, splits["test"], tested, root, n_train=int(train[0].shape[0]))


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
    """The seed of the batch order in one epoch (in torch's seed range for every run
    seed; the same as ``seed · 100003 + epoch`` below about 9e13)."""
    return (seed * 100_003 + epoch) % 2**63


def noise_seed(seed: int, epoch: int, rank: int = 0) -> int:
    """The seed of the method's noise in one epoch on one rank: :func:`_epoch_seed` on rank 0
    (a single process), another stream per rank on the others."""
    if rank == 0:
        return _epoch_seed(seed, epoch)
    state = np.random.SeedSequence([seed, epoch, rank]).generate_state(1, np.uint64)[0]
    return int(state >> np.uint64(1))


def train_epoch(
    run: TrainingState, train: tuple[torch.Tensor, torch.Tensor, torch.Tensor], epoch: int
) -> dict[str, Any]:
    """One pass over the training maps (``epoch`` counts from 0) and one step of the lr
    schedule; returns the epoch's training loss (the mean over steps of each global batch's
    mean loss), this process's timings and the lr.

    Every rank draws the same order of the maps and cuts it into the same global batches;
    each takes its part of each batch (:func:`.distributed.shard`), so the ranks' maps are
    disjoint and together the whole epoch."""
    config, optimizer, world = run.config, run.optimizer, run.world
    images, costs, paths = train
    total = config.global_batch or config.batch_size
    sw = Stopwatch()
    run.clock.reset()
    run.objective.manual_seed(noise_seed(config.seed, epoch, world.rank))
    shuffle = torch.Generator().manual_seed(_epoch_seed(config.seed, epoch))
    order = torch.randperm(images.shape[0], generator=shuffle)
    losses: list[torch.Tensor] = []
    t0 = time.perf_counter()
    bar = tqdm(
        range(0, images.shape[0], total),
        desc=f"{config.method} epoch {epoch + 1}/{config.epochs}",
        disable=not (config.progress and world.main),
        leave=False,
        unit="batch",
    )
    for start in bar:
        with sw("data"):
            idx = order[start : start + total]
            xb, cb, yb = _batch(run, train, idx, shuffle)
        with sw("step"):
            loss = _part_loss(run, xb, cb, yb, len(idx))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        losses.append(loss.detach().double().cpu())
        if not bar.disable:
            bar.set_postfix(loss=f"{float(torch.stack(losses[-20:]).mean()):.4f}")
    lr = optimizer.param_groups[0]["lr"]  # the rate this epoch trained with
    run.scheduler.step()
    seconds = time.perf_counter() - t0
    batch_losses = all_reduce_sum(torch.stack(losses), world)  # each global batch's mean
    return {
        "epoch": epoch + 1,
        "train_loss": float(batch_losses.mean()),
        "epoch_seconds": seconds,
        "data_seconds": sw.totals.get("data", 0.0),
        "step_seconds": sw.totals.get("step", 0.0),
        "solver_seconds": run.clock.seconds,
        "solver_instances": run.clock.instances,
        "solver_share": run.clock.seconds / max(seconds, 1e-12),
        "lr": lr,
    }


def _part_loss(
    run: TrainingState, xb: torch.Tensor, cb: torch.Tensor, yb: torch.Tensor, batch_maps: int
) -> torch.Tensor:
    """This rank's share of the global batch's mean loss: its part's mean loss × its part's
    share of the batch (:mod:`.data_parallel` sums the ranks' gradients). A rank without
    maps in a short last batch still runs the CNN (its collectives) on nothing."""
    costs_pred = run.model(xb)
    if xb.shape[0] == 0:
        return costs_pred.sum() * 0.0
    loss = run.objective(costs_pred, costs_true=cb, y_true=yb)
    if run.world.active:
        loss = loss * (xb.shape[0] / batch_maps)
    return loss


def _batch(
    run: TrainingState,
    train: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    idx: torch.Tensor,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """This rank's part of the global batch ``idx``, on the model's device: with
    ``augment``, moved by a random symmetry and relabelled (by the solver's tie-breaking,
    or at random with ``ties``). The random draws are those of the whole batch, so that
    every map gets what a single process would give it."""
    config = run.config
    images, costs, paths = train
    if config.augment:
        symmetries = draw_symmetries(len(idx), generator)
        if config.ties == "random":
            jitter = torch.rand(
                (len(idx), *costs.shape[1:]), generator=generator, dtype=torch.float64
            )
    part = shard(len(idx), run.world)
    mine = idx[part]
    images, costs, paths = images[mine], costs[mine], paths[mine]
    if config.augment and len(mine):
        images, costs = apply_symmetries(symmetries[part], images, costs)
        if config.ties == "random":
            paths = random_tie_paths(run.solver, costs, jitter[part], paths.dtype)
        else:
            paths = solve_paths(run.solver, costs, paths.dtype)
    return tuple(t.to(run.device) for t in (images, costs, paths))


def evaluate_split(
    run: TrainingState, split: tuple[torch.Tensor, ...], *, predictions: bool = False
) -> tuple[dict[str, float], torch.Tensor | None, torch.Tensor | None]:
    """The metrics of the model on a whole split, with (``predictions``, or always for one
    process) the predicted costs and paths of all its maps.

    Each rank predicts and solves its part of the split (:func:`.distributed.shard`), and
    the sums behind the metrics (:func:`.warcraft_metrics.path_metric_sums`) are added over
    the ranks: the metrics of every map once, whatever the split's size."""
    world = run.world
    if not world.active:
        return evaluate(run.net, run.solver, *split)
    images, costs, paths = split
    part = shard(images.shape[0], world)
    c_hat = y_hat = None
    sums = torch.zeros(len(METRIC_SUMS), dtype=torch.float64)
    if part.stop > part.start:
        _, c_hat, y_hat = evaluate(run.net, run.solver, images[part], costs[part], paths[part])
        sums = path_metric_sums(costs[part], paths[part], y_hat)
    metrics = metrics_from_sums(all_reduce_sum(sums, world))
    if not predictions:
        return metrics, None, None
    parts = [p for p in all_gather((c_hat, y_hat), world) if p[0] is not None]
    return metrics, torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
