r"""Maps, labels and files: generating a data set in the real on-disk format.

* **Streams.** Maps are drawn in chunks of :data:`~.common.CHUNK`; chunk ``i`` of split
  ``s`` draws from ``SeedSequence(seed, spawn_key=(k, s, i))`` and the tileset of the data
  set from ``SeedSequence(seed, spawn_key=(k, 10⁶))``, so a file does not depend on the
  machine and the same ``(seed, k, format)`` gives byte-identical files.
* **Labels.** ``vertex_weights`` are the class costs stored as float16 (0.8 as 0.7998, as in
  the real data); the shortest paths are the grid ``shortest_path`` solver's (8 neighbours,
  start ``(0, 0)``, end ``(k-1, k-1)``, path cost including both ends) on those float16
  weights cast to float64. The solver breaks ties exactly as the reference Dijkstra of the
  real data (heap of ``(cost, (row, col))``, neighbours in ``itertools.product`` order,
  predecessor changed on a strictly smaller cost), so loading the files and solving again
  reproduces the stored labels.
* **Files.** ``{split}_{maps,vertex_weights,shortest_paths}.npy`` (the train split of
  ``k >= 18`` in ``_part0``/``_part1``) and ``info.json``, written into a hidden temporary
  folder ``.{k}x{k}.tmp-*`` next to the target and renamed into place at the end. The
  writer holds an ``flock`` on ``.lock`` inside it, so a later run can tell a temporary
  folder left by a killed run (nobody holds its lock) from a live one, and removes it.

Example::

    >>> maps, weights, paths = generate_maps(3, 12, seed=0)
    >>> maps.shape, weights.dtype, bool(paths.sum(axis=(1, 2)).min() >= 12)
    ((3, 96, 96, 3), dtype('float16'), True)

Reference: Vlastelica et al., "Differentiation of Blackbox Combinatorial Solvers",
ICLR 2020 (data DOI 10.17617/3.YJCQ5S), for the format and the labelling rule.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from . import format2, tiles
from .common import CHUNK, CLASS_COSTS, CLASS_NAMES, PIXELS_PER_CELL

try:
    import fcntl
except ImportError:  # Windows: temporary folders are not locked (see _stale)
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "FORMATS",
    "FORMAT_VERSION",
    "GENERATOR_NAME",
    "check_format",
    "generate_maps",
    "generate_warcraft",
    "remove_stale_temporaries",
]

_MODULES: dict[int, ModuleType] = {format2.VERSION: format2, tiles.VERSION: tiles}
FORMATS: tuple[int, ...] = tuple(sorted(_MODULES))
"""The generator formats that can be written."""
FORMAT_VERSION: int = FORMATS[-1]
"""The default (newest) format."""
GENERATOR_NAME = "diffsolvers.datasets.warcraft_generator"
"""The ``dataset_params.generator`` entry of the ``info.json`` this generator writes."""
_SPLITS = ("train", "val", "test")
_KINDS = ("maps", "vertex_weights", "shortest_paths")
_LOCK = ".lock"
_UNLOCKED_STALE_AFTER = 600.0 if fcntl is not None else 86_400.0
"""A temporary folder without a held lock is removed once this old (seconds): one left by a
version that took no lock, or on a file system without ``flock``; where ``flock`` does not
exist at all (Windows) after a day."""


def check_format(format: Any) -> int:
    """``format`` as an int of :data:`FORMATS`, or a ``ValueError`` naming the valid ones.

    Examples:
        >>> check_format(2)
        2
        >>> check_format(1)
        Traceback (most recent call last):
        ...
        ValueError: unknown generator format 1; available formats: 2, 3
    """
    valid = ", ".join(map(str, FORMATS))
    if isinstance(format, bool) or not isinstance(format, (int, np.integer)):
        raise ValueError(f"generator format must be one of {valid}, got {format!r}")
    if int(format) not in _MODULES:
        raise ValueError(f"unknown generator format {format}; available formats: {valid}")
    return int(format)


def _shortest_paths(weights16: np.ndarray) -> np.ndarray:
    """Labels: the grid solver on the float16 weights cast to float64, as uint8 0/1."""
    import solvers

    solver = solvers.get("shortest_path", neighbourhood=8)
    y = solver.solve(solvers.costs_to_theta(weights16.astype(np.float64)))
    return np.rint(y).astype(np.uint8)


def _tileset_for(k: int, seed: int, format: int) -> Any:
    ss = np.random.SeedSequence(int(seed), spawn_key=(k, 1_000_000))
    return _MODULES[format].make_tileset(np.random.default_rng(ss))


def _chunks(
    n: int, k: int, seed: int, stream: tuple[int, ...], format: int, tileset: Any = None
) -> Iterator[tuple[int, int, tuple[np.ndarray, np.ndarray, np.ndarray]]]:
    """Yield ``(start, stop, (maps, weights, paths))`` for chunks of :data:`CHUNK` maps."""
    if k < 2:
        raise ValueError(f"grid size k must be at least 2, got {k}")
    module = _MODULES[format]
    tileset = _tileset_for(k, seed, format) if tileset is None else tileset
    for index, start in enumerate(range(0, n, CHUNK)):
        stop = min(n, start + CHUNK)
        ss = np.random.SeedSequence(int(seed), spawn_key=(k, *stream, index))
        cls, maps = module.draw(np.random.default_rng(ss), stop - start, k, tileset)
        weights = CLASS_COSTS[cls].astype(np.float16)
        yield start, stop, (maps, weights, _shortest_paths(weights))


def generate_maps(
    n: int,
    k: int = 12,
    seed: int = 0,
    *,
    stream: Sequence[int] = (0,),
    format: int = FORMAT_VERSION,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Generate ``n`` maps in memory: ``(maps uint8 (n, 8k, 8k, 3), weights float16 (n, k, k),
    paths uint8 (n, k, k))``.

    Deterministic in ``(seed, k, n, stream, format)``: stream ``(0,)`` is the train split of
    :func:`generate_warcraft` with the same seed, size and format.

    Examples:
        >>> import numpy as np
        >>> maps, weights, paths = generate_maps(2, 12, seed=0)
        >>> maps.shape, weights.shape, paths.dtype
        ((2, 96, 96, 3), (2, 12, 12), dtype('uint8'))
        >>> np.array_equal(maps, generate_maps(2, 12, seed=0)[0])  # same seed, same maps
        True
    """
    format = check_format(format)
    maps = np.empty((n, k * PIXELS_PER_CELL, k * PIXELS_PER_CELL, 3), dtype=np.uint8)
    weights = np.empty((n, k, k), dtype=np.float16)
    paths = np.empty((n, k, k), dtype=np.uint8)
    for start, stop, chunk in _chunks(n, k, seed, tuple(stream), format):
        maps[start:stop], weights[start:stop], paths[start:stop] = chunk
    return maps, weights, paths


def _split_files(split: str, k: int, n: int) -> list[tuple[str, int, int]]:
    """``(suffix, start, stop)`` per file of a split: two parts for the train split if k >= 18."""
    if split == "train" and k >= 18:
        half = (n + 1) // 2
        return [("_part0", 0, half), ("_part1", half, n)]
    return [("", 0, n)]


def generate_warcraft(
    out_root: str | os.PathLike,
    k: int = 12,
    n_train: int = 10_000,
    n_val: int = 1_000,
    n_test: int = 1_000,
    seed: int = 0,
    progress: bool = True,
    overwrite: bool = False,
    *,
    format: int = FORMAT_VERSION,
) -> Path:
    """Generate a data set in the real on-disk format under ``out_root/{k}x{k}``; return it.

    Writes ``{train,val,test}_{maps,vertex_weights,shortest_paths}.npy`` (for ``k >= 18``
    the train split as ``train_*_part0.npy`` and ``train_*_part1.npy``) and an
    ``info.json`` recording the generator, its ``format_version`` and the seed. Files are
    written into a temporary folder next to the target and renamed into place at the end,
    so an interrupted run leaves no half-written data set; temporary folders that killed
    runs left in ``out_root`` are removed first. An existing target folder is an error
    unless ``overwrite=True``. ``progress`` shows a bar where ``tqdm`` is installed.

    Examples:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as root:
        ...     folder = generate_warcraft(root, 12, 4, 2, 2, seed=0, progress=False)
        ...     print(folder.name, sorted(f.name for f in folder.glob("train_*")))
        12x12 ['train_maps.npy', 'train_shortest_paths.npy', 'train_vertex_weights.npy']
    """
    format = check_format(format)
    k = int(k)
    counts = {"train": int(n_train), "val": int(n_val), "test": int(n_test)}
    for split, n in counts.items():
        if n < 0:
            raise ValueError(f"n_{split} must be >= 0, got {n}")
    out_root = Path(out_root)
    target = out_root / f"{k}x{k}"
    if target.exists() and not overwrite:
        raise FileExistsError(
            f"{target} already exists; pass overwrite=True to replace it "
            "(or use ensure_warcraft_data to reuse it)"
        )
    out_root.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(out_root, k)
    tmp = Path(tempfile.mkdtemp(prefix=f".{k}x{k}.tmp-", dir=out_root))
    tmp.chmod(0o755)  # mkdtemp makes it private; the data set is an ordinary folder
    lock = _hold_lock(tmp)
    try:
        _write_all(tmp, k, counts, int(seed), progress, format)
        (tmp / _LOCK).unlink(missing_ok=True)  # kept locked (by its open handle) until renamed
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        if lock is not None:
            lock.close()
    return target


def _hold_lock(folder: Path):
    """An open handle holding an exclusive ``flock`` on ``folder/.lock`` (``None`` where the
    system has no ``flock`` or the file system refuses it)."""
    handle = open(folder / _LOCK, "w")  # noqa: SIM115 - held open until the rename
    if fcntl is not None:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            pass  # a file system without locks: the folder counts as unlocked (see _stale)
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def _stale(folder: Path) -> bool:
    """Whether the temporary ``folder`` was left by a run that is no longer writing it."""
    lock = folder / _LOCK
    if fcntl is not None and lock.is_file():
        try:
            with open(lock) as handle:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True  # nobody holds it: its writer is gone (the OS drops its locks)
        except BlockingIOError:
            return False  # a live writer
        except OSError:
            pass  # no locks on this file system: judge by age below
    try:
        age = time.time() - folder.stat().st_mtime
    except OSError:
        return False
    return age > _UNLOCKED_STALE_AFTER


def remove_stale_temporaries(out_root: str | os.PathLike, k: int) -> list[Path]:
    """Remove the ``.{k}x{k}.tmp-*`` folders that killed runs left in ``out_root``.

    A folder whose ``.lock`` nobody holds is stale at once; one without a lock file (an
    older version of this generator, or a file system without ``flock``) once it is ten
    minutes old (a day where ``flock`` does not exist). Returns the folders removed.

    Examples:
        >>> import pathlib, tempfile
        >>> with tempfile.TemporaryDirectory() as root:
        ...     left = pathlib.Path(root) / ".12x12.tmp-abc"  # a killed run's, unlocked
        ...     left.mkdir()
        ...     (left / ".lock").touch()
        ...     print([folder.name for folder in remove_stale_temporaries(root, 12)])
        ['.12x12.tmp-abc']
    """
    removed = []
    for folder in sorted(Path(out_root).glob(f".{int(k)}x{int(k)}.tmp-*")):
        if folder.is_dir() and not folder.is_symlink() and _stale(folder):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


class _NoBar:
    """Stands in for a ``tqdm`` bar where ``tqdm`` is not installed (or not wanted)."""

    def update(self, n: int) -> None:
        pass


@contextlib.contextmanager
def _progress_bar(total: int, desc: str, enabled: bool):
    if enabled:
        try:
            from tqdm.auto import tqdm
        except ImportError:  # tqdm comes with the 'lab' extra; without it, no bar
            enabled = False
    if not enabled:
        yield _NoBar()
        return
    with tqdm(total=total, desc=desc, unit="map") as bar:
        yield bar


def _write_all(
    folder: Path, k: int, counts: dict[str, int], seed: int, progress: bool, format: int
) -> None:
    p = PIXELS_PER_CELL
    tileset = _tileset_for(k, seed, format)
    with _progress_bar(sum(counts.values()), f"warcraft {k}x{k}", progress) as bar:
        for stream, split in enumerate(_SPLITS):
            n = counts[split]
            files = []
            for suffix, start, stop in _split_files(split, k, n):
                shapes = {
                    "maps": ((stop - start, k * p, k * p, 3), np.uint8),
                    "vertex_weights": ((stop - start, k, k), np.float16),
                    "shortest_paths": ((stop - start, k, k), np.uint8),
                }
                arrays = {
                    kind: np.lib.format.open_memmap(
                        folder / f"{split}_{kind}{suffix}.npy", mode="w+", dtype=dt, shape=shp
                    )
                    for kind, (shp, dt) in shapes.items()
                }
                files.append((start, stop, arrays))
            for c_start, c_stop, chunk in _chunks(n, k, seed, (stream,), format, tileset):
                for f_start, f_stop, arrays in files:
                    lo, hi = max(c_start, f_start), min(c_stop, f_stop)
                    if lo >= hi:
                        continue
                    for kind, values in zip(_KINDS, chunk):
                        arrays[kind][lo - f_start : hi - f_start] = values[
                            lo - c_start : hi - c_start
                        ]
                bar.update(c_stop - c_start)
            for _, _, arrays in files:
                for arr in arrays.values():
                    arr.flush()
                del arrays
    info = {
        "dataset_params": {
            "pixels_per_cell": p,
            "grid_size": k,
            "generator": GENERATOR_NAME,
            "format_version": format,
            "seed": seed,
            "class_costs": dict(zip(CLASS_NAMES, CLASS_COSTS.tolist())),
        },
        **{f"{split}_set_params": {"num_examples": counts[split]} for split in _SPLITS},
    }
    (folder / "info.json").write_text(json.dumps(info, indent=2) + "\n")
