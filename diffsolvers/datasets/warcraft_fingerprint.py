r"""The fingerprint of a Warcraft folder, real or generated, against the real 12×12 maps.

Measured on the first ``n`` maps of one split (the cost of a cell gives its class: the
nearest of :data:`~diffsolvers.datasets.generator.CLASS_COSTS`):

* **channel statistics**: mean ``μ_c`` and standard deviation ``σ_c`` of every pixel of
  channel ``c`` on the ``[0, 1]`` scale, against the published train statistics;
* **class shares**: the percentage of cells of each class;
* **tiles**: for the 8 × 8 pixel block ``T`` of every cell, its mean colour
  ``m(T) = (1/64) Σ_p T_p`` and within-tile standard deviation
  ``s(T) = √((1/64) Σ_p (T_p - m(T))²)`` per channel (0-255); the table gives their means
  over the cells of each class, the JSON their 10/50/90% quantiles too;
* **pixel step**: the mean absolute difference ``|T_p - T_q|`` of horizontally or
  vertically adjacent pixels ``p, q`` of one tile, per class and channel: how smooth the
  textures are (speckle makes it close to the within-tile std; no real value is known);
* **regions**: connected regions of one class under **4-connectivity** (cells sharing an
  edge); the mean region size per class, and the share of water cells in bodies of at
  least :data:`WATER_BODY_CELLS` cells;
* **labels**: path lengths (cells) and the number of optimal paths of each map
  (:func:`solvers.count_optimal_paths`);
* **pixel maximum** over all channels.

:mod:`~diffsolvers.datasets.warcraft_goals` compares a fingerprint with the real maps,
one pass/fail per goal; :func:`save_sample_figure` draws sample maps of a folder.

Example::

    >>> from diffsolvers.datasets.generator import generate_maps
    >>> fp = fingerprint_arrays(*generate_maps(50, 12, seed=0))
    >>> sorted(fp["class_share"]) == sorted(CLASS_NAMES)
    True
    >>> fp["pixel_max"] <= 146
    True

Reference: Vlastelica et al., "Differentiation of Blackbox Combinatorial Solvers",
ICLR 2020 (data DOI 10.17617/3.YJCQ5S), for the published channel statistics.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from .generator.common import CLASS_COSTS, CLASS_NAMES, PIXELS_PER_CELL, WATER
from .warcraft import find_size_folder, load_split

__all__ = [
    "WATER_BODY_CELLS",
    "fingerprint",
    "fingerprint_arrays",
    "save_sample_figure",
]

WATER_BODY_CELLS = 15
"""A water body of at least this many cells counts as large."""
_CHUNK = 500


def fingerprint(
    data: str | os.PathLike, k: int | None = None, split: str = "train", n: int | None = None
) -> dict[str, Any]:
    """The fingerprint of the first ``n`` maps (all if ``None``) of ``split`` in ``data``.

    ``data`` is a Warcraft root or size folder (as :func:`~.warcraft.find_size_folder`
    takes); ``k`` defaults to the size in the folder's name, else 12. Unreadable or
    inconsistent files raise :class:`~.warcraft.WarcraftDataError` naming the file.

    Examples:
        >>> fp = fingerprint("datasets/warcraft_sample/12x12", n=10)
        >>> fp["source"]["maps"], fp["source"]["k"], len(fp["channel_mean"])
        (10, 12, 3)
        >>> round(sum(fp["class_share"].values()))  # every cell has a class
        100
    """
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ValueError(f"n must be a positive number of maps, got {n!r}")
    folder, k = _size_folder(data, k)
    loaded = load_split(folder, split, k)
    count = len(loaded) if n is None else min(int(n), len(loaded))
    if count == 0:
        raise ValueError(f"{folder}: the {split} split holds no maps")
    result = _measure(loaded.maps.read, loaded.costs[:count], loaded.paths[:count], count)
    result["source"] = {"folder": str(folder), "split": split, "k": k, "maps": count}
    return result


def save_sample_figure(
    data: str | os.PathLike,
    out_png: str | os.PathLike,
    k: int | None = None,
    split: str = "train",
    count: int = 8,
) -> Path:
    """A PNG of the first ``count`` maps of ``split`` in ``data``, with their shortest paths
    (red dots) and cost grids; needs matplotlib (the ``lab`` extra).

    Examples:
        >>> import pathlib, tempfile
        >>> with tempfile.TemporaryDirectory() as out:
        ...     png = pathlib.Path(out) / "samples.png"
        ...     saved = save_sample_figure("datasets/warcraft_sample/12x12", png, count=2)
        ...     print(saved.name, saved.stat().st_size > 0)
        samples.png True
    """
    from .preview import save_preview

    folder, k = _size_folder(data, k)
    loaded = load_split(folder, split, k)
    count = min(count, len(loaded))
    if count < 1:
        raise ValueError(f"{folder}: the {split} split holds no maps")
    return save_preview(
        loaded.maps.read(0, count), out_png, loaded.paths[:count], loaded.costs[:count]
    )


def _size_folder(data: str | os.PathLike, k: int | None) -> tuple[Path, int]:
    """The size folder of ``data`` and its ``k`` (from a ``{k}x{k}`` name, else 12)."""
    if k is None:
        name = Path(data).name.split("x")
        k = int(name[0]) if len(name) == 2 and name[0] == name[1] and name[0].isdigit() else 12
    return find_size_folder(data, k), k


def fingerprint_arrays(
    maps: np.ndarray, weights: np.ndarray, paths: np.ndarray | None = None
) -> dict[str, Any]:
    """The fingerprint of in-memory maps ``(n, 8k, 8k, 3)`` uint8, costs ``(n, k, k)`` and
    optionally paths ``(n, k, k)`` 0/1 (without them the label rows are left out).

    Examples:
        >>> from diffsolvers.datasets.generator import generate_maps
        >>> maps, weights, paths = generate_maps(4, 12, seed=0)
        >>> "path_length" in fingerprint_arrays(maps, weights, paths)
        True
        >>> "path_length" in fingerprint_arrays(maps, weights)
        False
    """
    maps = np.asarray(maps)
    if maps.ndim != 4 or maps.shape[-1] != 3 or maps.dtype != np.uint8 or not len(maps):
        raise ValueError(f"maps must be a non-empty (n, H, W, 3) uint8 array, got {maps.shape}")
    costs = np.asarray(weights, dtype=np.float32)
    if costs.shape != (len(maps), *(d // PIXELS_PER_CELL for d in maps.shape[1:3])):
        raise ValueError(f"costs of shape {costs.shape} do not fit maps of shape {maps.shape}")
    result = _measure(lambda a, b: maps[a:b], costs, paths, len(maps))
    result["source"] = {"folder": None, "split": None, "k": costs.shape[-1], "maps": len(maps)}
    return result


def _classes(costs: np.ndarray) -> np.ndarray:
    """Class index of every cell (nearest class cost), ``-1`` for costs of no class."""
    distance = np.abs(costs[..., None] - CLASS_COSTS.astype(np.float32))
    cls = distance.argmin(axis=-1)
    return np.where(distance.min(axis=-1) <= 0.01, cls, -1)


def _rounded_mean(values: np.ndarray) -> list[float] | None:
    return np.round(values.mean(axis=0), 1).tolist() if len(values) else None


def _quantiles(values: np.ndarray) -> list[list[float]]:
    if not len(values):
        return []
    return np.round(np.quantile(values, [0.1, 0.5, 0.9], axis=0), 2).tolist()


def _measure(read, costs: np.ndarray, paths, count: int) -> dict[str, Any]:
    """The measures of the module doc; ``read(a, b)`` returns maps ``a:b`` as uint8."""
    cls = _classes(costs)
    k = cls.shape[-1]
    p = PIXELS_PER_CELL
    total = np.zeros(3)
    total_sq = np.zeros(3)
    pixel_max = 0
    tile_means, tile_stds, tile_steps = [], [], []
    for start in range(0, count, _CHUNK):
        block = np.asarray(read(start, min(count, start + _CHUNK)))
        flat = block.reshape(-1, 3).astype(np.float64)
        total += flat.sum(axis=0)
        total_sq += np.square(flat).sum(axis=0)
        pixel_max = max(pixel_max, int(block.max()))
        tiles = block.reshape(len(block), k, p, k, p, 3).astype(np.float32)
        tile_means.append(tiles.mean(axis=(2, 4)).reshape(-1, 3))
        tile_stds.append(tiles.std(axis=(2, 4)).reshape(-1, 3))
        across = np.abs(np.diff(tiles, axis=4)).mean(axis=(2, 4))
        down = np.abs(np.diff(tiles, axis=2)).mean(axis=(2, 4))
        tile_steps.append(((across + down) / 2).reshape(-1, 3))
    pixels = count * (k * p) ** 2
    mean = total / pixels
    std = np.sqrt(np.maximum(total_sq / pixels - mean**2, 0.0))
    means = np.concatenate(tile_means)
    stds = np.concatenate(tile_stds)
    steps = np.concatenate(tile_steps)
    flat_cls = cls.reshape(-1)
    result: dict[str, Any] = {
        "channel_mean": np.round(mean / 255.0, 4).tolist(),
        "channel_std": np.round(std / 255.0, 4).tolist(),
        "pixel_max": pixel_max,
        "class_share": {},
        "unknown_cost_share": round(100.0 * float((flat_cls < 0).mean()), 2),
        "tile_mean": {},
        "tile_std": {},
        "tile_mean_quantiles": {},
        "tile_std_quantiles": {},
        "pixel_step": {},
        "region_mean_size": {},
    }
    structure = np.zeros((3, 3, 3), dtype=bool)
    structure[1] = ndimage.generate_binary_structure(2, 1)  # 4-connectivity within a map
    for c, name in enumerate(CLASS_NAMES):
        here = flat_cls == c
        result["class_share"][name] = round(100.0 * float(here.mean()), 2)
        result["tile_mean"][name] = _rounded_mean(means[here])
        result["tile_std"][name] = _rounded_mean(stds[here])
        result["tile_mean_quantiles"][name] = _quantiles(means[here])
        result["tile_std_quantiles"][name] = _quantiles(stds[here])
        result["pixel_step"][name] = _rounded_mean(steps[here])
        labels, regions = ndimage.label(cls == c, structure=structure)
        result["region_mean_size"][name] = (
            round(float(here.sum()) / regions, 2) if regions else None
        )
        if c == WATER:
            sizes = np.bincount(labels.reshape(-1))[1:]
            large = sizes[sizes >= WATER_BODY_CELLS].sum()
            result["water_in_large_bodies"] = (
                round(float(large / sizes.sum()), 3) if sizes.sum() else None
            )
            result["water_bodies_per_map"] = round(regions / count, 2)
    if paths is not None:
        result.update(_label_measures(costs, np.asarray(paths)))
    return result


def _label_measures(costs: np.ndarray, paths: np.ndarray) -> dict[str, Any]:
    import solvers

    lengths = paths.reshape(len(paths), -1).sum(axis=1).astype(np.int64)
    positive = costs.reshape(len(costs), -1).min(axis=1) > 0
    counts = (
        solvers.count_optimal_paths(costs[positive].astype(np.float64))
        if positive.any()
        else np.zeros(0)
    )
    out: dict[str, Any] = {
        "path_length": {
            "min": int(lengths.min()),
            "median": float(np.median(lengths)),
            "max": int(lengths.max()),
            "histogram": {int(v): int(c) for v, c in zip(*np.unique(lengths, return_counts=True))},
        }
    }
    if len(counts):
        out["optimal_paths"] = {
            "unique_share": round(float((counts == 1).mean()), 3),
            "median": float(np.median(counts)),
            "p90": float(np.quantile(counts, 0.9)),
            "max": float(counts.max()),
        }
    return out
