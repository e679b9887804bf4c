"""The Warcraft shortest-path data set (Vlastelica et al., ICLR 2020) as a torch ``Dataset``.

Reads the published on-disk format exactly (data DOI 10.17617/3.YJCQ5S), and the data
written by :mod:`diffsolvers.datasets.warcraft_generator` in the same format::

    warcraft_shortest_path_oneskin/          (some copies call it warcraft_shortest_path/)
        12x12/  {train,val,test}_{maps,vertex_weights,shortest_paths}.npy   [info.json]
        18x18/  train_{...}_part0.npy, train_{...}_part1.npy, {val,test}_{...}.npy
        24x24/  30x30/  (as 18x18)

* ``*_maps.npy``: ``(N, 8k, 8k, 3)`` uint8 RGB, channels last; cell ``(i, j)`` is pixels
  ``[8i:8i+8, 8j:8j+8]``.
* ``*_vertex_weights.npy``: ``(N, k, k)`` float16 costs in {0.8, 1.2, 5.3, 7.7, 9.2}
  (stored as 0.7998, 1.2002, 5.3008, 7.6992, 9.2031; returned as float32).
* ``*_shortest_paths.npy``: ``(N, k, k)`` 0/1 (any integer, boolean or float dtype), start
  ``(0, 0)`` and end ``(k-1, k-1)`` included.

A split stored in parts (``_part0``, ``_part1``, ...) is read as their concatenation; either
layout is accepted for any ``k`` (a single file wins if both exist). Maps are memory-mapped;
costs and paths (small) are read into memory. Every file is checked on load (readable,
shapes, dtypes, equal lengths, positive finite costs, 0/1 paths with both ends set) and a
problem raises :class:`WarcraftDataError` (or :class:`FileNotFoundError`) naming the file.
Each label must also be an optimal path of its map (any one where several tie), checked
by one batched solve per split (:mod:`.warcraft_labels`); ``labels="report"`` warns about
the labels that are not and loads them anyway.

Costs must be positive: zero-cost cells are refused on load. The real data's costs are at
least 0.8; with zero costs, a shortest path may wander through free cells, so neither
"the" optimal path, the check of a label's shape, the count of optimal paths
(:func:`solvers.count_optimal_paths`) nor the relative regret ``⟨c, ŷ − y⟩ / ⟨c, y⟩``
is well defined.

Image normalisation (the ``normalize`` argument)
------------------------------------------------
Images are first scaled to ``[0, 1]`` (divided by 255), then, per channel,
``(x - mean) / std`` with

* ``"train"`` (default): mean and standard deviation over all pixels of the **train split of
  the same size folder** (so the statistics match the data actually used, real or
  generated; computed once per process in chunks, about a second for 10,000 12×12 maps);
* ``"published"``: the 12×12 train statistics reported for the real data,
  mean (0.2411, 0.2741, 0.1212), std (0.1595, 0.0650, 0.1601);
* ``"unit"``: no standardisation, just ``[0, 1]``;
* ``"none"`` (or ``None``): raw 0-255 values as float;
* a pair ``(mean, std)`` of three numbers each, on the ``[0, 1]`` scale.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from .warcraft_labels import LABEL_CHECKS, check_labels

__all__ = [
    "WarcraftDataError",
    "WarcraftShortestPath",
    "WarcraftSplit",
    "PUBLISHED_MEAN",
    "PUBLISHED_STD",
    "SPLITS",
    "find_size_folder",
    "load_split",
    "read_info",
    "train_channel_stats",
    "LABEL_CHECKS",
]

SPLITS: tuple[str, ...] = ("train", "val", "test")
"""Splits of the data set."""
PUBLISHED_MEAN: tuple[float, float, float] = (0.2411, 0.2741, 0.1212)
"""Per-channel means of the real 12×12 train images on the [0, 1] scale, as reported."""
PUBLISHED_STD: tuple[float, float, float] = (0.1595, 0.0650, 0.1601)
"""Per-channel standard deviations of the same images, as reported."""
PIXELS_PER_CELL = 8
_KINDS = ("maps", "vertex_weights", "shortest_paths")
_TOP_NAMES = ("warcraft_shortest_path_oneskin", "warcraft_shortest_path")
_SIZE_RE = re.compile(r"(\d+)x(\d+)")
_STATS_CACHE: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}


class WarcraftDataError(ValueError):
    """A Warcraft data file is unreadable, truncated or inconsistent (the message names it).

    Examples:
        >>> import pathlib, tempfile
        >>> with tempfile.TemporaryDirectory() as root:
        ...     info = pathlib.Path(root) / "info.json"
        ...     _ = info.write_text("not JSON")
        ...     try:
        ...         read_info(root)
        ...     except WarcraftDataError as error:
        ...         print("not a readable JSON file" in str(error))
        True
    """


# --------------------------------------------------------------------------- folders
def find_size_folder(root: str | os.PathLike, k: int) -> Path:
    """The folder holding the ``k × k`` files, given the top folder or the size folder.

    Accepts ``.../warcraft_shortest_path_oneskin`` (or ``warcraft_shortest_path``), its
    parent, the size folder ``.../12x12`` itself, or any folder holding the ``.npy`` files.
    A size folder whose name disagrees with ``k`` is an error.

    Examples:
        >>> find_size_folder("datasets/warcraft_sample", 12).name
        '12x12'
    """
    root = Path(root).expanduser()
    k = int(k)
    if not root.exists():
        raise FileNotFoundError(f"{root}: Warcraft data folder does not exist")
    if not root.is_dir():
        raise WarcraftDataError(f"{root}: expected a folder, found a file")
    match = _SIZE_RE.fullmatch(root.name)
    if match:
        rows, cols = int(match[1]), int(match[2])
        if (rows, cols) != (k, k):
            raise WarcraftDataError(
                f"{root}: the folder name says {rows}x{cols} maps but k={k} was requested"
            )
        return root
    for candidate in (root / f"{k}x{k}", *(root / top / f"{k}x{k}" for top in _TOP_NAMES)):
        if candidate.is_dir():
            return candidate
    if any(root.glob("*_maps*.npy")):
        return root
    sizes = sorted(p.name for p in root.iterdir() if p.is_dir() and _SIZE_RE.fullmatch(p.name))
    found = ", ".join(sizes) if sizes else "none"
    raise FileNotFoundError(
        f"{root}: no {k}x{k} folder and no *_maps.npy files here (size folders found: {found})"
    )


def read_info(folder: str | os.PathLike) -> dict[str, Any]:
    """The size folder's ``info.json`` as a dict, or ``{}`` when there is none.

    The file is optional (the published data may or may not carry one); known keys are
    ``dataset_params.pixels_per_cell`` and ``{train,val,test}_set_params.num_examples``.

    Examples:
        >>> info = read_info("datasets/warcraft_sample/12x12")
        >>> isinstance(info, dict)
        True
    """
    path = Path(folder) / "info.json"
    if not path.is_file():
        return {}
    try:
        info = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WarcraftDataError(f"{path}: not a readable JSON file ({exc})") from exc
    if not isinstance(info, dict):
        raise WarcraftDataError(f"{path}: expected a JSON object, got {type(info).__name__}")
    return info


def _pixels_per_cell(info: dict[str, Any], folder: Path) -> int:
    value = info.get("dataset_params", {}).get("pixels_per_cell", PIXELS_PER_CELL)
    if not isinstance(value, int) or value < 1:
        raise WarcraftDataError(
            f"{folder / 'info.json'}: dataset_params.pixels_per_cell must be a positive integer"
        )
    return value


def _split_files(folder: Path, split: str) -> dict[str, list[Path]]:
    """The files of each kind of ``split``: one file, or the parts in order."""
    files: dict[str, list[Path]] = {}
    for kind in _KINDS:
        single = folder / f"{split}_{kind}.npy"
        if single.is_file():
            files[kind] = [single]
            continue
        parts = []
        while (folder / f"{split}_{kind}_part{len(parts)}.npy").is_file():
            parts.append(folder / f"{split}_{kind}_part{len(parts)}.npy")
        if not parts:
            raise FileNotFoundError(
                f"{single}: missing (neither {single.name} nor {split}_{kind}_part0.npy "
                f"exists in {folder})"
            )
        files[kind] = parts
    counts = {kind: len(paths) for kind, paths in files.items()}
    if len(set(counts.values())) != 1:
        listing = ", ".join(f"{kind}: {n}" for kind, n in counts.items())
        raise WarcraftDataError(
            f"{folder}: the {split} split has different numbers of files per kind ({listing})"
        )
    return files


def _load_npy(path: Path, mmap: bool) -> np.ndarray:
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - any failure here means an unreadable file
        raise WarcraftDataError(
            f"{path}: cannot be read as a .npy array ({type(exc).__name__}: {exc}); "
            "the file may be truncated or corrupt"
        ) from exc


# --------------------------------------------------------------------------- arrays
class _Concat:
    """Read-only concatenation of arrays along axis 0 (memory maps stay memory maps)."""

    def __init__(self, arrays: Sequence[np.ndarray]) -> None:
        self.arrays = list(arrays)
        self.offsets = np.cumsum([0] + [len(a) for a in self.arrays])
        self.shape = (int(self.offsets[-1]), *self.arrays[0].shape[1:])
        self.dtype = self.arrays[0].dtype

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index: int) -> np.ndarray:
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} maps")
        part = int(np.searchsorted(self.offsets, index, side="right")) - 1
        return self.arrays[part][index - self.offsets[part]]

    def read(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Rows ``start:stop`` as one in-memory array."""
        stop = len(self) if stop is None else min(stop, len(self))
        pieces = []
        for arr, lo in zip(self.arrays, self.offsets[:-1]):
            a, b = max(start - lo, 0), min(stop - lo, len(arr))
            if a < b:
                pieces.append(np.asarray(arr[a:b]))
        if not pieces:
            return np.empty((0, *self.shape[1:]), dtype=self.dtype)
        return np.concatenate(pieces) if len(pieces) > 1 else np.array(pieces[0])


class WarcraftSplit:
    """The validated arrays of one split: ``maps`` (memory-mapped), ``costs``, ``paths``.

    ``maps`` is indexable (``maps[i]`` is ``(8k, 8k, 3)`` uint8) and ``maps.read(a, b)``
    reads a block; ``costs`` is ``(N, k, k)`` float32, ``paths`` ``(N, k, k)`` float32 0/1.

    Examples:
        >>> split = load_split(find_size_folder("datasets/warcraft_sample", 12), "val", 12)
        >>> len(split), split.maps.shape, split.costs.shape
        (10, (10, 96, 96, 3), (10, 12, 12))
    """

    def __init__(self, folder: Path, split: str, maps: _Concat, costs, paths, files) -> None:
        self.folder = folder
        self.split = split
        self.maps = maps
        self.costs: np.ndarray = costs
        self.paths: np.ndarray = paths
        self.files: dict[str, list[Path]] = files

    def __len__(self) -> int:
        return len(self.maps)

    @property
    def k(self) -> int:
        return int(self.costs.shape[-1])


def load_split(
    folder: str | os.PathLike, split: str, k: int, *, mmap: bool = True, labels: str = "check"
) -> WarcraftSplit:
    """Load and validate one split of a size folder (see the module docstring).

    ``labels`` (one of :data:`LABEL_CHECKS`) says what to do with labels that are not
    optimal paths: refuse them (``"check"``), warn and keep them (``"report"``), or not
    look (``"trust"``, for callers that read only the maps).

    Examples:
        >>> split = load_split("datasets/warcraft_sample/12x12", "train", 12)
        >>> len(split), split.paths.shape
        (40, (40, 12, 12))
    """
    folder = Path(folder)
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}")
    if labels not in LABEL_CHECKS:
        raise ValueError(f"unknown labels={labels!r}; use one of {', '.join(LABEL_CHECKS)}")
    k = int(k)
    info = read_info(folder)
    px = _pixels_per_cell(info, folder) * k
    files = _split_files(folder, split)
    maps, costs, paths = [], [], []
    for part in range(len(files["maps"])):
        m_path, w_path, p_path = (files[kind][part] for kind in _KINDS)
        m = _load_npy(m_path, mmap)
        w = _load_npy(w_path, mmap)
        y = _load_npy(p_path, mmap)
        if m.dtype != np.uint8:
            raise WarcraftDataError(f"{m_path}: maps must have dtype uint8, got {m.dtype}")
        if m.ndim != 4 or m.shape[1:] != (px, px, 3):
            raise WarcraftDataError(
                f"{m_path}: maps must have shape (N, {px}, {px}, 3) for k={k} "
                f"(RGB, channels last), got {m.shape}"
            )
        if w.dtype.kind != "f":
            raise WarcraftDataError(
                f"{w_path}: vertex weights must be floating point (float16 in the real "
                f"data), got {w.dtype}"
            )
        for path, arr, what in ((w_path, w, "vertex weights"), (p_path, y, "shortest paths")):
            if arr.ndim != 3 or arr.shape[1:] != (k, k):
                raise WarcraftDataError(
                    f"{path}: {what} must have shape (N, {k}, {k}) for k={k}, got {arr.shape}"
                )
        if not (len(m) == len(w) == len(y)):
            raise WarcraftDataError(
                f"{folder}: the {split} files hold different numbers of examples: "
                f"{m_path.name} {len(m)}, {w_path.name} {len(w)}, {p_path.name} {len(y)}"
            )
        if y.dtype.kind not in "biuf":
            raise WarcraftDataError(f"{p_path}: shortest paths must be numeric, got {y.dtype}")
        w = np.asarray(w, dtype=np.float32)
        if not np.isfinite(w).all() or (w <= 0).any():
            bad = int(np.flatnonzero(~(np.isfinite(w) & (w > 0)).all(axis=(1, 2)))[0])
            raise WarcraftDataError(
                f"{w_path}: vertex weights must be finite and positive (zero-cost cells are "
                f"not supported: with them a shortest path is not well defined); example "
                f"{bad} is not"
            )
        y = np.asarray(y)
        if not np.isin(y, (0, 1)).all():
            raise WarcraftDataError(f"{p_path}: shortest paths must contain only 0 and 1")
        y = y.astype(np.float32)
        missing_end = (y[:, 0, 0] != 1) | (y[:, -1, -1] != 1)
        if missing_end.any():
            bad = int(np.flatnonzero(missing_end)[0])
            raise WarcraftDataError(
                f"{p_path}: every path must include the start (0, 0) and the end "
                f"({k - 1}, {k - 1}); example {bad} does not"
            )
        maps.append(m)
        costs.append(w)
        paths.append(y)
    costs_all = np.concatenate(costs) if len(costs) > 1 else costs[0]
    paths_all = np.concatenate(paths) if len(paths) > 1 else paths[0]
    where = f"{folder} ({split} split)"
    check_labels(costs_all, paths_all, where=where, mode=labels)
    return WarcraftSplit(folder, split, _Concat(maps), costs_all, paths_all, files)


def train_channel_stats(
    folder: str | os.PathLike, k: int, chunk: int = 1000
) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std of the train images of ``folder`` on the [0, 1] scale.

    Computed in chunks over the memory-mapped maps and cached per process (keyed by the
    files' paths, sizes and modification times).

    Examples:
        >>> mean, std = train_channel_stats("datasets/warcraft_sample/12x12", 12)
        >>> mean.shape, std.shape, bool((0 < mean).all() and (mean < 1).all())
        ((3,), (3,), True)
    """
    folder = Path(folder)
    files = _split_files(folder, "train")["maps"]
    key = tuple((str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    if key not in _STATS_CACHE:
        maps = load_split(folder, "train", k, labels="trust").maps
        if len(maps) == 0:
            raise WarcraftDataError(f"{files[0]}: the train split is empty; no statistics")
        total = np.zeros(3)
        total_sq = np.zeros(3)
        for start in range(0, len(maps), chunk):
            block = maps.read(start, start + chunk).reshape(-1, 3).astype(np.float64)
            total += block.sum(axis=0)
            total_sq += np.square(block).sum(axis=0)
        count = len(maps) * maps.shape[1] * maps.shape[2]
        mean = total / count
        std = np.sqrt(np.maximum(total_sq / count - mean**2, 0.0))
        _STATS_CACHE[key] = (mean / 255.0, np.maximum(std / 255.0, 1e-6))
    mean, std = _STATS_CACHE[key]
    return mean.copy(), std.copy()


# --------------------------------------------------------------------------- dataset
def _normalization(normalize: Any, folder: Path, k: int) -> tuple[float, np.ndarray, np.ndarray]:
    """``(scale, mean, std)``: images become ``(x * scale - mean) / std``."""
    if normalize is None or normalize == "none":
        return 1.0, np.zeros(3), np.ones(3)
    if isinstance(normalize, str):
        if normalize == "unit":
            return 1 / 255.0, np.zeros(3), np.ones(3)
        if normalize == "published":
            return 1 / 255.0, np.array(PUBLISHED_MEAN), np.array(PUBLISHED_STD)
        if normalize == "train":
            mean, std = train_channel_stats(folder, k)
            return 1 / 255.0, mean, std
        raise ValueError(
            f"unknown normalize={normalize!r}; use 'train', 'published', 'unit', 'none' "
            "or a (mean, std) pair"
        )
    try:
        mean, std = (np.asarray(v, dtype=np.float64).reshape(3) for v in normalize)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"normalize must be a name or a (mean, std) pair of 3 numbers each: {exc}"
        ) from exc
    if (std <= 0).any():
        raise ValueError(f"normalize: std must be positive, got {std}")
    return 1 / 255.0, mean, std


class WarcraftShortestPath(Dataset):
    """One split of the Warcraft shortest-path data: ``(image, costs, path)`` per item.

    ``image`` is a float32 tensor ``(3, 8k, 8k)`` normalised as ``normalize`` says (see the
    module docstring; default ``"train"``: [0, 1] then per-channel train mean and std),
    ``costs`` a float32 ``(k, k)`` grid of the true vertex costs and ``path`` a float32
    ``(k, k)`` 0/1 grid of the shortest path.

    ``root`` is the top folder (``warcraft_shortest_path_oneskin``), its parent, or the size
    folder (``12x12``). For training, :meth:`tensors` returns the whole split as three
    tensors, which is much faster than a ``DataLoader`` over thousands of tiny items.
    ``labels`` is what to do with labels that are not optimal paths (:func:`load_split`).

    Examples:
        >>> test = WarcraftShortestPath("datasets/warcraft_sample", k=12, split="test")
        >>> image, costs, path = test[0]
        >>> len(test), tuple(image.shape), tuple(costs.shape)
        (10, (3, 96, 96), (12, 12))
        >>> float(path[0, 0]), float(path[-1, -1])  # both ends are on the path
        (1.0, 1.0)
    """

    def __init__(
        self,
        root: str | os.PathLike,
        k: int = 12,
        split: str = "train",
        normalize: str | tuple | None = "train",
        *,
        mmap: bool = True,
        labels: str = "check",
    ) -> None:
        self.k = int(k)
        self.split = split
        self.folder = find_size_folder(root, self.k)
        self.info = read_info(self.folder)
        self.data = load_split(self.folder, split, self.k, mmap=mmap, labels=labels)
        scale, mean, std = _normalization(normalize, self.folder, self.k)
        self.normalize = normalize
        self.scale = float(scale)
        self.mean = torch.tensor(mean, dtype=torch.float32)
        self.std = torch.tensor(std, dtype=torch.float32)
        self.costs = torch.from_numpy(self.data.costs)
        self.paths = torch.from_numpy(self.data.paths)

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        return (
            f"WarcraftShortestPath({str(self.folder)!r}, k={self.k}, split={self.split!r}, "
            f"n={len(self)}, normalize={self.normalize!r})"
        )

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        image = torch.from_numpy(np.array(self.data.maps[int(index)])).permute(2, 0, 1)
        image = self.normalize_images(image[None])[0].contiguous()
        return image, self.costs[index], self.paths[index]

    def normalize_images(self, images: torch.Tensor) -> torch.Tensor:
        """Normalise a ``(B, 3, H, W)`` batch of raw (0-255, e.g. uint8) images to float32."""
        mean = (self.mean / self.scale).to(images.device).view(1, 3, 1, 1)
        std = (self.std / self.scale).to(images.device).view(1, 3, 1, 1)
        return (images.float() - mean) / std

    def raw_images(self, start: int = 0, stop: int | None = None) -> torch.Tensor:
        """uint8 images ``(n, 3, 8k, 8k)`` of items ``start:stop`` (channels-last memory)."""
        block = self.data.maps.read(start, stop)
        return torch.from_numpy(block).permute(0, 3, 1, 2)

    def tensors(self, normalized: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The whole split as ``(images, costs, paths)`` tensors.

        ``images`` is ``(N, 3, 8k, 8k)`` in channels-last memory format: float32 normalised
        (about 1.1 GB for 10,000 12×12 maps) or, with ``normalized=False``, the raw uint8
        images (4× smaller; normalise each batch with :meth:`normalize_images`).
        """
        images = self.raw_images()
        if normalized:
            images = self.normalize_images(images)
        return images, self.costs, self.paths
