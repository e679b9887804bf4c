"""End-to-end training on Warcraft shortest-path maps (Vlastelica et al., ICLR 2020).

One training step: ``img (B, 3, 8k, 8k)`` → CNN → costs ``ĉ (B, k, k) >= 0`` → the method's
objective against the true path (or the true costs for ``spo_plus`` / ``two_stage``) →
``backward`` → Adam step. Evaluation solves ``y_pred = y*(−ĉ)`` with the Numba grid solver
and reports, on the true costs ``c``:

* ``exact``: share of predicted paths equal to the true path (``Σ|y − ŷ| < 0.5``);
* ``optimal``: share of predicted paths whose true cost is optimal,
  ``|⟨c, ŷ⟩ − ⟨c, y⟩| <= 1e-4 · ⟨c, y⟩`` (the metric of the literature's tables);
* ``regret``: mean of ``(⟨c, ŷ⟩ − ⟨c, y⟩) / ⟨c, y⟩``; ``cell_acc``: per-cell accuracy.

Defaults are the literature's: Adam, lr 5e-4, batch 70, 50 epochs, lr ÷ 10 at epochs 30
and 40. The run writes ``config.json``, ``metrics.json``, ``metrics.csv``,
``checkpoint.pt`` (every epoch, atomically: ``--resume`` continues where it stopped and
Ctrl-C leaves the last finished epoch), ``curves.png`` and ``examples.png``; ``metrics.json``
holds the test metrics, the validation history and the test cost profile
(:func:`.cost_profile.cost_profile`: predicted cost per terrain class).
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

import solvers

from .. import registry
from ..datasets.warcraft import (
    WarcraftShortestPath,
    find_size_folder,
    random_symmetry,
    read_info,
    train_channel_stats,
)
from ..datasets.warcraft_generator import ensure_warcraft_data
from .cost_profile import cost_profile
from .models import WarcraftCNN
from .objectives import make_objective
from .runner import (
    SolverClock,
    Stopwatch,
    atomic_save,
    run_lock,
    set_threads,
    write_csv,
    write_json,
)

__all__ = [
    "WarcraftConfig",
    "train_warcraft",
    "path_metrics",
    "RunAlreadyExists",
    "check_same_run",
    "require_same_config",
    "data_signature",
    "require_same_data",
]

#: Method options used by default on Warcraft 12×12 (each method takes the ones it
#: declares). I-MLE: κ about the number of cells on a path, τ measured on 2,000 maps × 8
#: epochs: test optimal-cost paths 37% with κ = 1, τ = 1; 64% (κ = 12, τ = 1); 73% (τ = 0.1);
#: 74% (τ = 0.3).
DEFAULT_METHOD_OPTIONS: dict[str, Any] = {
    "sigma": 0.1,
    "n_samples": 3,
    "noise": "normal",
    "lambda_": 20.0,
    "kappa": 12.0,
    "tau": 0.3,
}


class RunAlreadyExists(RuntimeError):
    """The output folder already holds a run and ``resume`` was not asked for."""


@dataclass
class WarcraftConfig:
    """Everything that defines a Warcraft training run."""

    method: str = "fenchel_young"
    k: int = 12
    epochs: int = 50
    batch_size: int = 70
    lr: float = 5e-4
    milestones: tuple[int, ...] = (30, 40)
    seed: int = 0
    data: str | None = None
    n_train: int | None = None
    n_val: int | None = None
    n_test: int | None = None
    method_options: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_METHOD_OPTIONS))
    threads: int | None = None
    channels_last: bool = True
    progress: bool = True
    #: Train on a random one of the four end-preserving symmetries of each map
    #: (:func:`~diffsolvers.datasets.warcraft.random_symmetry`), paths re-solved.
    augment: bool = False
    #: Which optimal path a training label is when a map has several: ``"reference"`` (the
    #: stored labels, the reference Dijkstra's tie-breaking) or ``"random"`` (re-solved with
    #: ties broken at random, :func:`random_tie_paths`; validation and test labels unchanged).
    ties: str = "reference"
    #: Where the CNN runs: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ... or ``"auto"`` (CUDA when
    #: available). Data stay on the CPU (batches are moved); solvers always run on the CPU.
    device: str = "cpu"

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["milestones"] = list(self.milestones)
        return d


#: Config fields that do not change a run's results (may differ when resuming).
_RUNTIME_FIELDS = ("progress", "threads", "device")
#: Saved beside a run's configuration, not part of it.
_RECORD_FIELDS = ("data_root", "data_signature")


def _defining(config: dict[str, Any]) -> dict[str, Any]:
    """The fields that change a run's results (a field missing from a run saved before it
    existed takes its default); of ``method_options``, only the options the method declares
    (the others are dropped by :func:`.objectives.make_objective`)."""
    defaults = {
        f.name: f.default
        for f in dataclasses.fields(WarcraftConfig)
        if f.default is not dataclasses.MISSING
    }
    skipped = _RUNTIME_FIELDS + _RECORD_FIELDS
    out = {k: v for k, v in {**defaults, **config}.items() if k not in skipped}
    try:
        declared = registry.method_info(out["method"]).options
    except (KeyError, ValueError):
        return out
    options = out.get("method_options") or {}
    out["method_options"] = {k: v for k, v in options.items() if k in declared}
    return out


def config_mismatch(saved: dict[str, Any], wanted: dict[str, Any]) -> str | None:
    """``None`` if two configurations define the same run, else the differing fields.

    A run saved with its data's signature (``saved["data_signature"]``) is identified by
    that content, which :func:`require_same_data` compares, not by the ``data`` path: the
    same maps reached through another path (``--data`` to the generated folder, or none)
    make the same run. A run saved without one is compared by path.
    """
    by_content = saved.get("data_signature") is not None
    saved, wanted = _defining(saved), _defining(wanted)
    if by_content:
        saved.pop("data", None)
        wanted.pop("data", None)
    diff = sorted(k for k in set(saved) | set(wanted) if saved.get(k) != wanted.get(k))
    if not diff:
        return None
    return ", ".join(f"{k}: {saved.get(k)!r} → {wanted.get(k)!r}" for k in diff)


def require_same_config(saved: dict[str, Any], wanted: dict[str, Any], where: Any) -> None:
    """Raise :class:`RunAlreadyExists` if ``saved`` (a run found at ``where``) and
    ``wanted`` are not the same run."""
    details = config_mismatch(saved, wanted)
    if details:
        raise RunAlreadyExists(
            f"{where} holds a run with a different configuration ({details}); "
            "use another output folder"
        )


def check_same_run(out: str | Path, config: WarcraftConfig) -> None:
    """Raise :class:`RunAlreadyExists` if ``out`` holds a run of another configuration."""
    path = Path(out) / "config.json"
    if path.exists():
        require_same_config(json.loads(path.read_text()), config.to_dict(), out)


def resolve_device(name: str) -> torch.device:
    """``name`` as a :class:`torch.device` (``"auto"``: CUDA when available, else the CPU);
    a clear error for an unknown name or a CUDA device this machine does not have."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ValueError(f"unknown device {name!r}: use cpu, cuda, cuda:N or auto") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} asked for, but torch sees no CUDA device here")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise ValueError(
            f"device {name!r}: this machine has {torch.cuda.device_count()} CUDA device(s), "
            f"numbered from 0"
        )
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"device {name!r}: only cpu and cuda are supported")
    return device


def data_signature(root: str | Path, k: int) -> dict[str, Any]:
    """What identifies a Warcraft data folder: the ``dataset_params`` of its ``info.json``
    (for generated data: generator, format version, seed) and the byte size of every
    ``.npy`` file. Saved with each run, so that resuming a run, or reusing a finished one in
    a comparison, on data that changed since (another generator version, another download)
    is refused instead of silently mixing results."""
    folder = find_size_folder(root, k)
    return {
        "dataset_params": read_info(folder).get("dataset_params", {}),
        "files": {f.name: f.stat().st_size for f in sorted(folder.glob("*.npy"))},
    }


def require_same_data(saved: dict[str, Any], current: dict[str, Any], where: Any) -> None:
    """Raise :class:`RunAlreadyExists` if the run at ``where`` was trained on other data
    (``saved`` is its saved configuration or results; runs saved without a signature pass)."""
    before = saved.get("data_signature")
    if before is None or before == current:
        return
    changes = []
    for part in ("dataset_params", "files"):
        old, new = before.get(part, {}), current.get(part, {})
        changes += [
            f"{part}.{key}: {old.get(key, 'absent')} → {new.get(key, 'absent')}"
            for key in sorted(set(old) | set(new))
            if old.get(key) != new.get(key)
        ]
    raise RunAlreadyExists(
        f"{where} was trained on other data than is found now ({'; '.join(changes)}); "
        "use another output folder"
    )


# -- metrics -----------------------------------------------------------------------------------
def path_metrics(
    costs: torch.Tensor, y_true: torch.Tensor, y_pred: torch.Tensor
) -> dict[str, float]:
    """Warcraft metrics of predicted paths ``y_pred`` against ``y_true`` on true ``costs``."""
    c = costs.double()
    true_cost = (c * y_true.double()).flatten(1).sum(1)
    pred_cost = (c * y_pred.double()).flatten(1).sum(1)
    diff = (y_true - y_pred).abs().flatten(1).sum(1)
    rel = (pred_cost - true_cost) / true_cost
    return {
        "exact": float((diff < 0.5).double().mean()),
        "optimal": float(((pred_cost - true_cost).abs() <= 1e-4 * true_cost).double().mean()),
        "regret": float(rel.mean()),
        "normalized_regret": float((pred_cost - true_cost).sum() / true_cost.sum()),
        "cell_acc": float((y_true == y_pred).double().mean()),
    }


def solve_paths(solver: solvers.Solver, costs: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """The solver's paths ``(B, k, k)`` of the costs ``(B, k, k)``, one batched call."""
    y = solver.solve(solvers.costs_to_theta(costs.detach().double().numpy()))
    return torch.from_numpy(y).to(dtype)


#: Largest cost added to a cell to break ties at random (:func:`random_tie_paths`). The five
#: float16-stored Warcraft costs are multiples of 1/1024, so distinct path costs differ by
#: at least 1/1024; a path of at most 30 × 30 cells gathers under 9e-5 of jitter, so the
#: path found is still optimal.
TIE_JITTER = 1e-7
TIE_CHOICES = ("reference", "random")


def random_tie_paths(
    solver: solvers.Solver, costs: torch.Tensor, jitter: torch.Tensor, dtype: torch.dtype
) -> torch.Tensor:
    """An optimal path of each map, ties among optimal paths broken at random.

    The solver's path on ``costs + TIE_JITTER · jitter`` (``jitter`` uniform on [0, 1), one
    value per cell): among the paths of optimal cost it picks the one of least jitter, a
    random one, where the stored labels always pick the same one by the reference
    Dijkstra's rule. Raises ``ValueError`` if a path found is not optimal for ``costs``
    (costs whose distinct path costs lie closer than the jitter).
    """
    c = costs.detach().double().cpu()
    y = solve_paths(solver, c + TIE_JITTER * jitter.double().cpu(), torch.float64)
    found = (c * y).flatten(1).sum(1)
    best = (c * solve_paths(solver, c, torch.float64)).flatten(1).sum(1)
    if not torch.allclose(found, best, rtol=1e-9, atol=0.0):
        raise ValueError(
            "ties=random: a jittered path is not optimal (path costs closer than "
            f"{TIE_JITTER:g} per cell); these costs cannot have their ties broken this way"
        )
    return y.to(dtype)


@torch.no_grad()
def evaluate(
    model: torch.nn.Module,
    solver: solvers.Solver,
    images: torch.Tensor,
    costs: torch.Tensor,
    paths: torch.Tensor,
    batch_size: int = 250,
) -> tuple[dict[str, float], torch.Tensor, torch.Tensor]:
    """Metrics of ``y*(−ĉ)`` on a split (held on the CPU, batches moved to the model's
    device); also returns predicted costs and paths (on the CPU)."""
    model.eval()
    device = next(model.parameters()).device
    preds = []
    for start in range(0, images.shape[0], batch_size):
        batch = images[start : start + batch_size].to(device)
        preds.append(model(batch).float().cpu())
    c_hat = torch.cat(preds)
    y_hat = solve_paths(solver, c_hat, paths.dtype)
    model.train()
    return path_metrics(costs, paths, y_hat), c_hat, y_hat


# -- data ---------------------------------------------------------------------------------------
def split_tensors(
    root: str | Path, k: int, split: str, limit: int | None, normalization: dict[str, list[float]]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The first ``limit`` maps of a split as in-memory tensors: images normalised with
    ``normalization`` (per-channel ``mean`` and ``std`` on the [0, 1] scale), float32 costs
    and paths."""
    normalize = (normalization["mean"], normalization["std"])
    ds = WarcraftShortestPath(root, k=k, split=split, normalize=normalize)
    images = ds.normalize_images(ds.raw_images(0, limit))
    return images, ds.costs[:limit].float(), ds.paths[:limit].float()


def load_data(
    config: WarcraftConfig,
) -> tuple[dict[str, tuple[torch.Tensor, ...]], str, dict[str, list[float]]]:
    """The three splits as in-memory tensors, the data root used, and the image
    normalisation applied (the train split's channel statistics, saved with the run)."""
    root = config.data
    if root is None:
        root = str(ensure_warcraft_data(config.k, progress=config.progress))
    mean, std = train_channel_stats(find_size_folder(root, config.k), config.k)
    normalization = {"mean": mean.tolist(), "std": std.tolist()}
    limits = {"train": config.n_train, "val": config.n_val, "test": config.n_test}
    splits = {
        split: split_tensors(root, config.k, split, limit, normalization)
        for split, limit in limits.items()
    }
    return splits, root, normalization


# -- training ------------------------------------------------------------------------------------
def train_warcraft(
    config: WarcraftConfig, out: str | Path, *, resume: bool = False
) -> dict[str, Any]:
    """Train (or resume) one run; returns the final metrics dictionary (also on disk)."""
    out = Path(out)
    # Built first: an unknown method fails before any data is loaded or folder made.
    objective = make_objective("shortest_path", config.method, method_options=config.method_options)
    if config.ties not in TIE_CHOICES:
        raise ValueError(f"unknown ties {config.ties!r}; use one of {', '.join(TIE_CHOICES)}")
    device = resolve_device(config.device)
    ckpt_path = out / "checkpoint.pt"
    if ckpt_path.exists() and not resume:
        raise RunAlreadyExists(
            f"{out} already holds a run (checkpoint.pt); pass resume=True (--resume) to "
            "continue it, or choose another output folder"
        )
    out.mkdir(parents=True, exist_ok=True)
    with run_lock(out):
        return _train_locked(config, out, objective, device)


def _train_locked(
    config: WarcraftConfig, out: Path, objective: torch.nn.Module, device: torch.device
) -> dict[str, Any]:
    """The body of :func:`train_warcraft`, run while this process holds the folder's lock."""
    ckpt_path = out / "checkpoint.pt"
    set_threads(config.threads)
    torch.manual_seed(config.seed)
    splits, root, normalization = load_data(config)
    signature = data_signature(root, config.k)
    train_x, train_c, train_y = splits["train"]
    eval_solver = solvers.get("shortest_path")
    if config.ties == "random" and not config.augment:  # augmented batches are relabelled
        jitter = np.random.default_rng(config.seed).uniform(size=tuple(train_c.shape))
        train_y = random_tie_paths(eval_solver, train_c, torch.from_numpy(jitter), train_y.dtype)
    if device.type == "cuda":  # batches are then gathered (and augmented) on the GPU
        train_x = train_x.to(device)
        splits["train"] = ()  # no second copy of the images in host memory

    model = WarcraftCNN(config.k, channels_last=config.channels_last).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(
        optimizer, milestones=list(config.milestones), gamma=0.1
    )
    clock = SolverClock().attach(objective)

    history: list[dict[str, Any]] = []
    start_epoch = 0
    if ckpt_path.exists():
        state = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        saved = {**state["config"], "data_signature": state.get("data_signature")}
        require_same_config(saved, config.to_dict(), out)
        require_same_data(state, signature, out)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        history = state["history"]
        start_epoch = state["epoch"]
    write_json(
        {**config.to_dict(), "data_root": root, "data_signature": signature}, out / "config.json"
    )

    n = train_x.shape[0]
    try:
        for epoch in range(start_epoch, config.epochs):
            sw = Stopwatch()
            clock.reset()
            objective.manual_seed(config.seed * 100_003 + epoch)
            shuffle = torch.Generator().manual_seed(config.seed * 100_003 + epoch)
            order = torch.randperm(n, generator=shuffle)
            losses = []
            t0 = time.perf_counter()
            bar = tqdm(
                range(0, n, config.batch_size),
                desc=f"{config.method} epoch {epoch + 1}/{config.epochs}",
                disable=not config.progress,
                leave=False,
                unit="batch",
            )
            for start in bar:
                with sw("data"):
                    idx = order[start : start + config.batch_size]
                    xb, cb, yb = train_x[idx], train_c[idx], train_y[idx]
                    if config.augment:
                        xb, cb = random_symmetry(xb, cb, generator=shuffle)
                        if config.ties == "random":
                            jitter = torch.rand(cb.shape, generator=shuffle, dtype=torch.float64)
                            yb = random_tie_paths(eval_solver, cb, jitter, yb.dtype)
                        else:
                            yb = solve_paths(eval_solver, cb, yb.dtype)
                    xb, cb, yb = (t.to(device) for t in (xb, cb, yb))
                with sw("step"):
                    c_hat = model(xb)
                    loss = objective(c_hat, costs_true=cb, y_true=yb)
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                losses.append(loss.item())
                bar.set_postfix(loss=f"{np.mean(losses[-20:]):.4f}")
            lr = optimizer.param_groups[0]["lr"]  # the rate this epoch trained with
            scheduler.step()
            train_time = time.perf_counter() - t0
            val, _, _ = evaluate(model, eval_solver, *splits["val"])
            row = {
                "epoch": epoch + 1,
                "train_loss": float(np.mean(losses)),
                **{f"val_{k}": v for k, v in val.items()},
                "epoch_seconds": train_time,
                "data_seconds": sw.totals.get("data", 0.0),
                "step_seconds": sw.totals.get("step", 0.0),
                "solver_seconds": clock.seconds,
                "solver_share": clock.seconds / max(train_time, 1e-12),
                "lr": lr,
            }
            history.append(row)
            atomic_save(
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "history": history,
                    "epoch": epoch + 1,
                    "config": config.to_dict(),
                    "data_signature": signature,
                    "normalization": normalization,
                },
                ckpt_path,
            )
            write_csv(history, out / "metrics.csv")
            if config.progress:
                tqdm.write(
                    f"[{config.method}] epoch {epoch + 1:>3}/{config.epochs}  "
                    f"loss {row['train_loss']:.4f}  val optimal {100 * val['optimal']:.1f}%  "
                    f"exact {100 * val['exact']:.1f}%  regret {100 * val['regret']:.2f}%  "
                    f"{train_time:.1f}s (solver {100 * row['solver_share']:.1f}%)"
                )
    except KeyboardInterrupt:
        done = history[-1]["epoch"] if history else 0
        print(
            f"\ninterrupted: {out / 'checkpoint.pt'} holds epoch {done}; run the same "
            "command again to continue (with --resume for `diffsolvers train`)"
        )
        raise

    test, c_hat, y_hat = evaluate(model, eval_solver, *splits["test"])
    results = {
        "method": config.method,
        "seed": config.seed,
        "k": config.k,
        "epochs": config.epochs,
        "test": test,
        "test_cost_profile": cost_profile(c_hat, splits["test"][1]),
        "history": history,
        "train_seconds_per_epoch": float(np.mean([r["epoch_seconds"] for r in history]))
        if history
        else 0.0,
        "solver_share": float(
            sum(r["solver_seconds"] for r in history)
            / max(sum(r["epoch_seconds"] for r in history), 1e-12)
        ),
        "data_root": root,
        "data_signature": signature,
        "n_train": int(n),
        "device": str(device),
    }
    write_json(results, out / "metrics.json")
    _plot_run(history, out / "curves.png", title=config.method)
    _plot_examples(splits["test"], y_hat, c_hat, out / "examples.png")
    if config.progress:
        print(
            f"[{config.method}] test: optimal-cost paths {100 * test['optimal']:.1f}%, exact "
            f"{100 * test['exact']:.1f}%, regret {100 * test['regret']:.2f}%  → {out}"
        )
    return results


def load_results(out: str | Path) -> dict[str, Any] | None:
    """The finished run's ``metrics.json`` in ``out``, or ``None`` if it has not finished."""
    path = Path(out) / "metrics.json"
    if not path.exists():
        return None
    return json.loads(path.read_text())


# -- plots ---------------------------------------------------------------------------------------
def _plot_run(history: list[dict[str, Any]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not history:
        return
    epochs = [r["epoch"] for r in history]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    axes[0].plot(epochs, [r["train_loss"] for r in history], marker=".")
    axes[0].set(xlabel="epoch", ylabel="training loss", title=f"{title}: training loss")
    axes[1].plot(epochs, [100 * r["val_optimal"] for r in history], marker=".", label="optimal")
    axes[1].plot(epochs, [100 * r["val_exact"] for r in history], marker=".", label="exact")
    axes[1].set(xlabel="epoch", ylabel="% of validation paths", title="validation")
    axes[1].legend()
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_examples(
    split: tuple[torch.Tensor, ...],
    y_hat: torch.Tensor,
    c_hat: torch.Tensor,
    path: Path,
    n: int = 4,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    images, costs, paths = split
    n = min(n, images.shape[0])
    if n == 0:
        return
    fig, axes = plt.subplots(3, n, figsize=(3 * n, 9), squeeze=False)
    for i in range(n):
        img = images[i].float()
        img = (img - img.amin()) / (img.amax() - img.amin() + 1e-12)
        k = costs.shape[-1]
        scale = img.shape[-1] / k
        axes[0, i].imshow(img.permute(1, 2, 0).numpy())
        for grid, colour, label in ((paths[i], "white", "true"), (y_hat[i], "red", "predicted")):
            r, c = np.nonzero(grid.numpy() > 0.5)
            axes[0, i].scatter((c + 0.5) * scale, (r + 0.5) * scale, s=14, c=colour, label=label)
        axes[0, i].set_title(f"test map {i}")
        axes[1, i].imshow(costs[i].numpy(), cmap="viridis", vmin=0, vmax=9.5)
        axes[1, i].set_title("true costs")
        axes[2, i].imshow(c_hat[i].numpy(), cmap="viridis", vmin=0, vmax=9.5)
        axes[2, i].set_title("predicted costs")
        for ax in axes[:, i]:
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, 0].legend(loc="lower left", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
