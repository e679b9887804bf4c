"""The Warcraft data as the lab trains on it: whole splits as in-memory tensors.

:func:`load_data` reads the three splits of a run's data (generated on first use when the
configuration names none), normalises the images with the train split's channel
statistics and checks the labels (:mod:`diffsolvers.datasets.warcraft_labels`);
:func:`training_split` prepares the training split for the epochs (labels with random
ties, images on the GPU).

Example::

    splits, root, normalization = load_data(WarcraftConfig(n_train=1000))
    images, costs, paths = splits["train"]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

import solvers

from ..datasets.warcraft import WarcraftShortestPath, find_size_folder, train_channel_stats
from ..datasets.warcraft_generator import ensure_warcraft_data, existing_warcraft_data
from .distributed import World, wait_for
from .warcraft_metrics import random_tie_paths
from .warcraft_run import WarcraftConfig

__all__ = ["split_tensors", "load_data", "training_split", "generated_data_once"]


def split_tensors(
    root: str | Path,
    k: int,
    split: str,
    limit: int | None,
    normalization: dict[str, list[float]],
    labels: str = "check",
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The first ``limit`` maps of a split as in-memory tensors: images normalised with
    ``normalization`` (per-channel ``mean`` and ``std`` on the [0, 1] scale), float32 costs
    and paths. ``ValueError`` if the split holds fewer than ``limit`` maps; ``labels``
    says what to do with labels that are not optimal paths (:func:`.load_split`)."""
    normalize = (normalization["mean"], normalization["std"])
    ds = WarcraftShortestPath(root, k=k, split=split, normalize=normalize, labels=labels)
    if limit is not None and limit > len(ds):
        raise ValueError(
            f"n_{split}={limit}: the {split} split of {ds.folder} holds only {len(ds)} maps"
        )
    images = ds.normalize_images(ds.raw_images(0, limit))
    return images, ds.costs[:limit].float(), ds.paths[:limit].float()


def load_data(
    config: WarcraftConfig, root: str | Path | None = None
) -> tuple[dict[str, tuple[torch.Tensor, ...]], str, dict[str, list[float]]]:
    """The three splits as in-memory tensors, the data root used (an absolute path, so
    that the run can be evaluated from anywhere), and the image normalisation applied (the
    train split's channel statistics, saved with the run). ``root``: where the data are
    (default: ``config.data``, or the generated maps, made on first use)."""
    root = config.data if root is None else root
    if root is None:
        root = ensure_warcraft_data(config.k, progress=config.progress)
    root = str(Path(root).expanduser().resolve())
    mean, std = train_channel_stats(find_size_folder(root, config.k), config.k)
    normalization = {"mean": mean.tolist(), "std": std.tolist()}
    limits = {"train": config.n_train, "val": config.n_val, "test": config.n_test}
    splits = {
        split: split_tensors(root, config.k, split, limit, normalization, config.labels)
        for split, limit in limits.items()
    }
    return splits, root, normalization


def training_split(
    config: WarcraftConfig,
    splits: dict[str, tuple[torch.Tensor, ...]],
    solver: solvers.Solver,
    device: torch.device,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The training images, costs and labels as the epochs use them: labels relabelled
    with random ties if asked (once here, unless every batch is relabelled after its
    symmetry), images moved to a CUDA device (batches are then gathered there)."""
    images, costs, paths = splits["train"]
    if config.ties == "random" and not config.augment:
        jitter = np.random.default_rng(config.seed).uniform(size=tuple(costs.shape))
        paths = random_tie_paths(solver, costs, torch.from_numpy(jitter), paths.dtype)
    if device.type == "cuda":
        images = images.to(device)
        splits["train"] = ()  # no second copy of the images in host memory
    return images, costs, paths


def generated_data_once(k: int, world: World, progress: bool = True) -> Path:
    """The generated maps of size ``k`` (:func:`.ensure_warcraft_data`) for a process of a
    distributed job: made once per machine, by its local rank 0, while the machine's other
    processes wait for the folder to appear (written whole, then renamed into place)."""
    if world.local_rank == 0:
        return ensure_warcraft_data(k, progress=progress and world.main)
    return wait_for(lambda: existing_warcraft_data(k), "the generated Warcraft maps")
