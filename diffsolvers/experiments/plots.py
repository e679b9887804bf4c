"""The lab's figures: a run's curves and example paths, a comparison's validation curves,
a synthetic comparison's regret against the polynomial degree.

Every function writes one PNG with matplotlib's Agg back end (no display needed).

Example::

    plot_run_curves(results["history"], Path("runs/fy/curves.png"), title="fenchel_young")
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .tables import mean_sd

__all__ = [
    "plot_run_curves",
    "plot_examples",
    "validation_curve",
    "plot_validation_curves",
    "plot_regret_vs_degree",
]


def _pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg back end."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_run_curves(history: list[dict[str, Any]], path: Path, title: str) -> None:
    """Training loss and validation path shares against the epoch (nothing for no epoch)."""
    plt = _pyplot()
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


def plot_examples(
    split: tuple[torch.Tensor, ...],
    y_hat: torch.Tensor,
    c_hat: torch.Tensor,
    path: Path,
    n: int = 4,
) -> None:
    """The first ``n`` maps of a split with their true and predicted paths and costs."""
    plt = _pyplot()
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


def validation_curve(
    histories: Sequence[Sequence[dict[str, Any]]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Epochs, mean and sd (``None`` for one run) of the validation optimal-cost share (%)
    over runs' histories, cut to the shortest run."""
    curves = [[100 * h["val_optimal"] for h in history] for history in histories]
    length = min(len(c) for c in curves)
    values = np.array([c[:length] for c in curves])
    sd = values.std(0, ddof=1) if len(curves) > 1 else None
    return np.arange(1, length + 1), values.mean(0), sd


def plot_validation_curves(runs: dict[str, list[dict[str, Any]]], path: Path) -> None:
    """Each method's validation optimal-cost share per epoch, mean ± sd over its runs."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for method, results in runs.items():
        histories = [r["history"] for r in results if r["history"]]
        if not histories:
            continue
        epochs, mean, sd = validation_curve(histories)
        ax.plot(epochs, mean, marker=".", label=method)
        if sd is not None:
            ax.fill_between(epochs, mean - sd, mean + sd, alpha=0.2)
    ax.set(xlabel="epoch", ylabel="validation paths with optimal cost (%)")
    ax.set_title("Warcraft: validation curves (mean ± sd over seeds)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_regret_vs_degree(
    problem: str,
    methods: Sequence[str],
    degrees: Sequence[int],
    results: dict[tuple[str, int], list[float]],
    path: Path,
) -> None:
    """Each method's normalised test regret (mean ± sd over seeds) against the degree."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for method in methods:
        stats = [mean_sd(results[(method, d)]) for d in degrees]
        means = 100 * np.array([s[0] for s in stats])
        sds = 100 * np.array([s[1] for s in stats])
        ax.errorbar(degrees, means, yerr=sds, marker="o", capsize=3, label=method)
    ax.set(xlabel="polynomial degree", ylabel="normalised test regret (%)", title=problem)
    ax.set_xticks(list(degrees))
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
