"""Procedural Warcraft-style terrain maps, written in the exact on-disk format of the real data.

The real Warcraft shortest-path data set (Vlastelica et al., "Differentiation of Blackbox
Combinatorial Solvers", ICLR 2020; data DOI 10.17617/3.YJCQ5S) cannot be redistributed
here, so this module draws maps of the same kind from scratch (no game art is used) and
stores them with the same file names, shapes and dtypes, so that
:class:`~diffsolvers.datasets.warcraft.WarcraftShortestPath` reads both the same way.

What a map is made of
---------------------
* **Layout** (cell level, ``k × k``). Five terrain classes with vertex costs grass 0.8,
  dirt 1.2, forest 5.3, water 7.7 and rock 9.2. A smooth random field, thresholded at a
  per-map quantile, splits the background into large grass and dirt regions; a second,
  finer field gives forest patches; lakes of 6-18 cells and rock outcrops of 5-13 cells are
  grown around random centres (the cells nearest the centre under a noisy distance), their
  number proportional to the map area.
* **Rendering** (8 × 8 pixels per cell), with one fixed *tileset* per data set (the real
  maps are drawn from one skin of 142 game tiles): every class has a bank of
  :data:`N_VARIANTS` synthetic 8 × 8 textures (grass blades, dirt pebbles, tree crowns with
  light and shadow, water ripples, lit boulders with dark shadows) whose mean colours are
  close to the real data's (grass (43, 77, 15), dirt (100, 60, 10), forest (17, 79, 9),
  water (9, 48, 90), rock (70, 70, 70)), each variant with its own small colour offset; and
  a bank of :data:`N_DISPLACEMENTS` border displacement patterns (a smooth field of about
  2 px plus a pixel-level dither). Each cell is one tile: it picks a texture variant and a
  displacement pattern, and each of its pixels shows, in the cell's variant, the class of
  the cell its displaced position falls in, so class borders are jagged and cross cell
  borders. Pixels along a class border are blended with their neighbours and water is
  darker along its shore. There is no per-map or per-cell colour change beyond the tiles
  (one skin), so the same tiles recur across maps, as in the game.
* **Label rule.** A cell's cost is the class of the majority of its pixels: the border
  displacement is undone in any cell where fewer than 40 of its 64 pixels would keep the
  cell's own class.
* **Labels.** ``vertex_weights`` are stored as float16 (as in the real data, so 0.8 is
  stored as 0.7998); the shortest paths are computed by the grid ``shortest_path`` solver
  (8 neighbours, start ``(0, 0)``, end ``(k-1, k-1)``, path cost including both ends) on
  those float16 weights cast to float64, so that loading the files and solving again
  reproduces the stored label exactly.

Everything is vectorised with NumPy over chunks of maps and deterministic by ``seed`` (the
same seed gives byte-identical files). Command line::

    python -m diffsolvers.datasets.warcraft_generator --k 12 --seed 0

writes ``datasets/generated/warcraft_shortest_path_oneskin/12x12`` (see ``--help``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
from scipy.ndimage import gaussian_filter

__all__ = [
    "CLASS_NAMES",
    "CLASS_COSTS",
    "CLASS_MEAN_RGB",
    "SIZES",
    "generate_warcraft",
    "generate_maps",
    "ensure_warcraft_data",
    "existing_warcraft_data",
    "default_data_root",
    "save_preview",
    "main",
]

#: Terrain classes, in the order of their index in the generator.
CLASS_NAMES: tuple[str, ...] = ("grass", "dirt", "forest", "water", "rock")
#: Vertex cost of each class (stored as float16 on disk: 0.7998, 1.2002, 5.3008, 7.6992, 9.2031).
CLASS_COSTS = np.array([0.8, 1.2, 5.3, 7.7, 9.2])
#: Approximate mean colour (RGB) of each class in the real data.
CLASS_MEAN_RGB = np.array(
    [[43, 77, 15], [100, 60, 10], [17, 79, 9], [9, 48, 90], [70, 70, 70]], dtype=np.float64
)
#: Grid sizes of the real data set.
SIZES: tuple[int, ...] = (12, 18, 24, 30)

GRASS, DIRT, FOREST, WATER, ROCK = range(5)
PIXELS_PER_CELL = 8
#: Maps generated per chunk; fixed, since the random streams are drawn per chunk.
CHUNK = 256
#: Texture variants per class (the real maps are drawn from one tileset of 142 tiles).
N_VARIANTS = 16
#: Border displacement patterns a cell can take.
N_DISPLACEMENTS = 16
#: A cell keeps the border displacement only if at least this many of its 64 pixels keep
#: the cell's own class (a strict majority, with a margin).
MIN_OWN_PIXELS = 40
FORMAT_VERSION = 2
_SPLITS = ("train", "val", "test")
_KINDS = ("maps", "vertex_weights", "shortest_paths")


# --------------------------------------------------------------------------- layout
def _smooth_field(rng: np.random.Generator, n: int, k: int, sigma: float) -> np.ndarray:
    """``(n, k, k)`` smooth Gaussian random fields, standardised per map."""
    pad = int(math.ceil(2 * sigma))
    z = rng.standard_normal((n, k + 2 * pad, k + 2 * pad))
    z = gaussian_filter(z, sigma=(0, sigma, sigma), mode="wrap")[:, pad : pad + k, pad : pad + k]
    z -= z.mean(axis=(1, 2), keepdims=True)
    z /= z.std(axis=(1, 2), keepdims=True) + 1e-12
    return z


def _above_quantile(field: np.ndarray, frac: np.ndarray) -> np.ndarray:
    """Boolean mask of the ``frac[i]`` share of cells of map ``i`` with the largest values."""
    n = field.shape[0]
    flat = field.reshape(n, -1)
    m = flat.shape[1]
    count = np.clip(np.rint(frac * m).astype(np.int64), 0, m)
    ranks = np.empty_like(flat, dtype=np.int64)
    np.put_along_axis(ranks, np.argsort(-flat, axis=1), np.arange(m)[None, :], axis=1)
    return (ranks < count[:, None]).reshape(field.shape)


def _blobs(
    rng: np.random.Generator,
    n: int,
    k: int,
    rate_per_144: float,
    size_range: tuple[int, int],
    roughness: float,
) -> np.ndarray:
    """Union of compact random blobs (lakes, outcrops): ``(n, k, k)`` bool.

    Each map gets ``Poisson(rate · k²/144)`` blobs (capped); a blob of ``s`` cells is the set
    of the ``s`` cells nearest a random centre under a distance perturbed by smooth noise of
    relative strength ``roughness``.
    """
    lam = rate_per_144 * k * k / 144.0
    cap = max(1, int(math.ceil(lam + 3 * math.sqrt(lam))))
    counts = np.minimum(rng.poisson(lam, size=n), cap)
    active = np.arange(cap)[None, :] < counts[:, None]  # (n, cap)
    sizes = rng.integers(size_range[0], size_range[1] + 1, size=(n, cap))
    centres = rng.uniform(-0.5, k - 0.5, size=(n, cap, 2))
    noise = _smooth_field(rng, n * cap, k, 1.0).reshape(n, cap, k, k)
    rows = np.arange(k)[:, None]
    cols = np.arange(k)[None, :]
    d2 = (rows - centres[..., 0, None, None]) ** 2 + (cols - centres[..., 1, None, None]) ** 2
    radius = np.sqrt(sizes / np.pi)[..., None, None]
    score = np.sqrt(d2) / radius - roughness * noise  # small score = inside
    flat = score.reshape(n, cap, k * k)
    ranks = np.empty(flat.shape, dtype=np.int64)
    np.put_along_axis(ranks, np.argsort(flat, axis=-1), np.arange(k * k), axis=-1)
    inside = (ranks < sizes[..., None]) & active[..., None]
    return inside.any(axis=1).reshape(n, k, k)


def _layout(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    """Cell classes ``(n, k, k)`` int64 in ``0..4`` (see :data:`CLASS_NAMES`)."""
    background = _smooth_field(rng, n, k, 2.5)
    dirt_share = rng.uniform(0.15, 0.65, size=n)
    cls = np.where(_above_quantile(background, dirt_share), DIRT, GRASS)
    forest_share = rng.uniform(0.05, 0.32, size=n)
    cls = np.where(_above_quantile(_smooth_field(rng, n, k, 1.4), forest_share), FOREST, cls)
    cls = np.where(_blobs(rng, n, k, 1.1, (6, 18), 0.35), WATER, cls)
    cls = np.where(_blobs(rng, n, k, 1.3, (5, 13), 0.6), ROCK, cls)
    return cls.astype(np.int64)


# --------------------------------------------------------------------------- textures
def _disc(v: int, rng: np.random.Generator, n_range: tuple[int, int], r_range) -> tuple:
    """Random discs on the 8 × 8 torus for ``v`` tiles: (inside mask, lit, shadow) fields."""
    yy, xx = np.mgrid[0:8, 0:8].astype(np.float64)
    count = rng.integers(n_range[0], n_range[1] + 1, size=v)
    m = n_range[1]
    cy = rng.uniform(0, 8, size=(v, m, 1, 1))
    cx = rng.uniform(0, 8, size=(v, m, 1, 1))
    r = rng.uniform(*r_range, size=(v, m, 1, 1))
    dy = (yy - cy + 4) % 8 - 4
    dx = (xx - cx + 4) % 8 - 4
    d = np.sqrt(dy**2 + dx**2) / r
    on = (np.arange(m)[None, :] < count[:, None])[..., None, None]
    d = np.where(on, d, np.inf)
    nearest = d.argmin(axis=1)
    dmin = d.min(axis=1)
    ddy = np.take_along_axis(dy / r, nearest[:, None], axis=1)[:, 0]
    ddx = np.take_along_axis(dx / r, nearest[:, None], axis=1)[:, 0]
    inside = dmin <= 1.0
    light = -(ddy + ddx) / math.sqrt(2)  # > 0 on the upper-left (lit) side
    return inside, light, dmin


def _texture_bank(rng: np.random.Generator, v: int = N_VARIANTS) -> np.ndarray:
    """``(5, v, 8, 8, 3)`` float textures, each variant's mean close to its class colour."""
    bank = np.empty((5, v, 8, 8, 3))
    noise = rng.standard_normal((5, v, 8, 8, 3))
    u = rng.uniform(size=(5, v, 8, 8))
    yy = np.arange(8)[None, :, None]
    xx = np.arange(8)[None, None, :]

    # grass: fine noise, light blades and darker tufts
    g = np.zeros((v, 8, 8, 3)) + noise[GRASS] * np.array([5, 8, 3])
    g += (u[GRASS] < 0.16)[..., None] * np.array([14, 26, 6])
    g -= (u[GRASS] > 0.90)[..., None] * np.array([12, 22, 5])
    bank[GRASS] = g

    # dirt: brown with light pebbles, dark specks and a faint streak
    d = noise[DIRT] * np.array([9, 7, 4])
    d += (u[DIRT] < 0.10)[..., None] * np.array([38, 32, 22])
    d -= ((u[DIRT] > 0.88) & (u[DIRT] <= 1.0))[..., None] * np.array([30, 22, 6])
    slope = rng.uniform(-1, 1, size=(v, 1, 1))
    off = rng.uniform(0, 8, size=(v, 1, 1))
    streak = np.abs(((yy - slope * xx - off) + 4) % 8 - 4) < 0.6
    d -= streak[..., None] * np.array([14, 10, 3])
    bank[DIRT] = d

    # forest: dark undergrowth with 2-4 round tree crowns lit from the upper left
    inside, light, dist = _disc(v, rng, (2, 4), (2.0, 3.0))
    crown = np.array([22, 92, 11]) + light[..., None] * np.array([12, 34, 6])
    crown = crown - (dist[..., None] > 0.75) * np.array([6, 22, 3])  # darker crown rim
    under = np.array([4, 28, 3]) + noise[FOREST] * np.array([2, 6, 2])
    bank[FOREST] = np.where(inside[..., None], crown + noise[FOREST] * 3, under)

    # water: ripples along a random direction, sparse glints
    freq = rng.uniform(0.6, 1.4, size=(v, 1, 1))
    phase = rng.uniform(0, 2 * np.pi, size=(v, 1, 1))
    tilt = rng.uniform(-0.4, 0.4, size=(v, 1, 1))
    wave = np.sin(freq * (yy + tilt * xx) + phase)
    w = wave[..., None] * np.array([3, 7, 11]) + noise[WATER] * np.array([2, 3, 4])
    w += (u[WATER] < 0.04)[..., None] * np.array([30, 40, 45])
    bank[WATER] = w

    # rock: high-contrast boulders (bright lit side, dark shadow) on grey gravel
    inside, light, _ = _disc(v, rng, (2, 3), (1.6, 2.8))
    boulder = 105 + 60 * np.clip(light, -1, 1)
    gravel = 40 + noise[ROCK][..., 0] * 10
    grey = np.where(inside, boulder, gravel)
    bank[ROCK] = grey[..., None] + noise[ROCK] * np.array([3, 3, 3])

    # centre every variant on its class colour, with a small per-variant colour offset
    bank -= bank.mean(axis=(2, 3), keepdims=True)
    offset = rng.normal(0, 4.0, size=(5, v, 1, 1, 3))
    bank += CLASS_MEAN_RGB[:, None, None, None, :] + offset
    return bank


# --------------------------------------------------------------------------- rendering
class Tileset(NamedTuple):
    """The one skin every map of a data set is drawn with (fixed by the seed)."""

    #: ``(5, N_VARIANTS, 8, 8, 3)`` float RGB textures per class.
    textures: np.ndarray
    #: ``(2, N_DISPLACEMENTS, 8, 8)`` float32 border displacements (rows, cols) per cell.
    displacements: np.ndarray


def _displacement_bank(rng: np.random.Generator, d: int = N_DISPLACEMENTS) -> np.ndarray:
    """``(2, d, 8, 8)`` float32 border displacements (rows, cols) of the tileset's cells: a
    smooth field (lattice every 4 px, about 1.8 px) plus a pixel-level dither of ±1.1 px."""
    interp = _interp_matrix(1).astype(np.float32)  # (8, 3)
    coarse = rng.standard_normal((2, d, 3, 3)).astype(np.float32) * np.float32(1.8)
    disp = np.matmul(np.matmul(interp, coarse), interp.T)
    disp += rng.random(disp.shape, dtype=np.float32) * np.float32(2.2) - np.float32(1.1)
    return disp


def _interp_matrix(k: int, step: int = 4) -> np.ndarray:
    """``(8k, 8k/step + 1)`` linear interpolation from a lattice every ``step`` pixels."""
    size = k * PIXELS_PER_CELL
    m = size // step + 1
    pos = (np.arange(size) + 0.5) / step
    lo = np.clip(np.floor(pos).astype(int), 0, m - 2)
    frac = pos - lo
    mat = np.zeros((size, m))
    mat[np.arange(size), lo] = 1 - frac
    mat[np.arange(size), lo + 1] = frac
    return mat


def _render(rng: np.random.Generator, cls: np.ndarray, tileset: Tileset) -> np.ndarray:
    """Draw the ``(n, 8k, 8k, 3)`` uint8 images of the cell classes ``cls`` ``(n, k, k)``."""
    bank = tileset.textures
    n, k, _ = cls.shape
    p = PIXELS_PER_CELL
    size = k * p
    n_var = bank.shape[1]

    # displaced class borders: every cell takes one of the tileset's displacement patches
    patches = tileset.displacements  # (2, D, p, p)
    which = rng.integers(0, patches.shape[1], size=(n, k, k))
    disp = patches[:, which]  # (2, n, k, k, p, p)
    disp = disp.transpose(0, 1, 2, 4, 3, 5).reshape(2, n, size, size)
    centre = np.arange(size, dtype=np.float32) + np.float32(0.5)
    pos_r = np.floor(centre[None, :, None] + disp[0]).astype(np.int32)
    pos_c = np.floor(centre[None, None, :] + disp[1]).astype(np.int32)
    src_r = np.clip(pos_r // p, 0, k - 1)
    src_c = np.clip(pos_c // p, 0, k - 1)
    pix = np.arange(size, dtype=np.int32)
    own_r = (pix // p)[None, :, None]
    own_c = (pix // p)[None, None, :]
    base = np.arange(n, dtype=np.int32)[:, None, None] * np.int32(k * k)
    src = base + src_r * k + src_c  # flat index of every pixel's source cell
    own = base + own_r * k + own_c
    cls_flat = cls.reshape(-1).astype(np.int32)
    pix_cls = cls_flat[src]
    own_cls = cls_flat[own]
    # label rule: undo the displacement in cells whose majority would not be their own class
    keep = (pix_cls == own_cls).reshape(n, k, p, k, p).sum(axis=(2, 4)) >= MIN_OWN_PIXELS
    keep_pix = np.repeat(np.repeat(keep, p, axis=1), p, axis=2)
    pix_cls = np.where(keep_pix, pix_cls, own_cls)
    ty = np.where(keep_pix, pos_r, pix[None, :, None]) % p
    tx = np.where(keep_pix, pos_c, pix[None, None, :]) % p

    # a cell is one tile: all its pixels use the cell's own texture variant, of the class
    # that each pixel's displaced position falls in
    variant = rng.integers(0, n_var, size=n * k * k, dtype=np.int32)
    # the bank packed as one uint32 per pixel (RGB + padding) makes the gather a cheap take
    rgba = np.zeros((*bank.shape[:-1], 4), dtype=np.uint8)
    rgba[..., :3] = np.clip(np.rint(bank), 0, 255)
    packed = rgba.reshape(-1, 4).view(np.uint32).reshape(-1)
    texel = np.take(packed, ((pix_cls * n_var + variant[own]) * p + ty) * p + tx)
    img = texel[..., None].view(np.uint8)[..., :3].astype(np.float32)  # (n, H, W, 3)

    # darker shores: water pixels within about two pixels of land
    water = pix_cls == WATER
    wp = np.pad(water, [(0, 0), (2, 2), (2, 2)], mode="edge")
    inland = water.copy()
    for dy in (-2, -1, 0, 1, 2):
        for dx in (-2, -1, 0, 1, 2):
            if abs(dy) + abs(dx) <= 3 and (dy or dx):
                inland &= wp[:, 2 + dy : 2 + dy + size, 2 + dx : 2 + dx + size]
    shore = (water & ~inland)[..., None]
    np.multiply(img, np.float32(0.62), out=img, where=shore)

    # blend pixels on a class border with their 3 x 3 neighbourhood
    cp = np.pad(pix_cls, [(0, 0), (1, 1), (1, 1)], mode="edge")
    border = (
        (cp[:, :-2, 1:-1] != pix_cls)
        | (cp[:, 2:, 1:-1] != pix_cls)
        | (cp[:, 1:-1, :-2] != pix_cls)
        | (cp[:, 1:-1, 2:] != pix_cls)
    )
    ip = np.pad(img, [(0, 0), (1, 1), (1, 1), (0, 0)], mode="edge")
    rows = ip[:, :-2] + ip[:, 1:-1] + ip[:, 2:]
    box = (rows[:, :, :-2] + rows[:, :, 1:-1] + rows[:, :, 2:]) * np.float32(1.0 / 9.0)
    box += img
    box *= np.float32(0.5)
    np.copyto(img, box, where=border[..., None])
    np.clip(img, 0, 255, out=img)
    return np.rint(img).astype(np.uint8)


# --------------------------------------------------------------------------- labels
def _shortest_paths(weights16: np.ndarray) -> np.ndarray:
    """Labels: the grid solver on the float16 weights cast to float64, as uint8 0/1."""
    import solvers

    solver = solvers.get("shortest_path", neighbourhood=8)
    y = solver.solve(solvers.costs_to_theta(weights16.astype(np.float64)))
    return np.rint(y).astype(np.uint8)


def generate_maps(
    n: int, k: int = 12, seed: int = 0, *, stream: Sequence[int] = (0,)
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Generate ``n`` maps in memory: ``(maps uint8 (n, 8k, 8k, 3), weights float16 (n, k, k),
    paths uint8 (n, k, k))``.

    Deterministic in ``(seed, k, n, stream)``: maps are drawn in chunks of :data:`CHUNK`,
    each from its own random stream, so the result does not depend on the machine; stream
    ``(0,)`` is the train split of :func:`generate_warcraft` with the same seed and size.
    """
    maps = np.empty((n, k * PIXELS_PER_CELL, k * PIXELS_PER_CELL, 3), dtype=np.uint8)
    weights = np.empty((n, k, k), dtype=np.float16)
    paths = np.empty((n, k, k), dtype=np.uint8)
    for start, stop, chunk in _chunks(n, k, seed, tuple(stream)):
        maps[start:stop], weights[start:stop], paths[start:stop] = chunk
    return maps, weights, paths


def _tileset_for(k: int, seed: int) -> Tileset:
    ss = np.random.SeedSequence(int(seed), spawn_key=(k, 1_000_000))
    rng = np.random.default_rng(ss)
    return Tileset(_texture_bank(rng), _displacement_bank(rng))


def _chunks(n: int, k: int, seed: int, stream: tuple[int, ...], tileset: Tileset | None = None):
    """Yield ``(start, stop, (maps, weights, paths))`` for chunks of :data:`CHUNK` maps."""
    if k < 2:
        raise ValueError(f"grid size k must be at least 2, got {k}")
    tileset = _tileset_for(k, seed) if tileset is None else tileset
    for index, start in enumerate(range(0, n, CHUNK)):
        stop = min(n, start + CHUNK)
        ss = np.random.SeedSequence(int(seed), spawn_key=(k, *stream, index))
        rng = np.random.default_rng(ss)
        cls = _layout(rng, stop - start, k)
        maps = _render(rng, cls, tileset)
        weights = CLASS_COSTS[cls].astype(np.float16)
        yield start, stop, (maps, weights, _shortest_paths(weights))


# --------------------------------------------------------------------------- files
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
) -> Path:
    """Generate a data set in the real on-disk format under ``out_root/{k}x{k}``; return it.

    Writes ``{train,val,test}_{maps,vertex_weights,shortest_paths}.npy`` (for ``k >= 18``
    the train split as ``train_*_part0.npy`` and ``train_*_part1.npy``) and an
    ``info.json``. Files are written into a temporary folder next to the target and
    renamed into place at the end, so an interrupted run leaves no half-written data set.
    An existing target folder is an error unless ``overwrite=True``.
    """
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
    tmp = Path(tempfile.mkdtemp(prefix=f".{k}x{k}.tmp-", dir=out_root))
    tmp.chmod(0o755)  # mkdtemp makes it private; the data set is an ordinary folder
    try:
        _write_all(tmp, k, counts, int(seed), progress)
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _write_all(folder: Path, k: int, counts: dict[str, int], seed: int, progress: bool) -> None:
    from tqdm.auto import tqdm

    p = PIXELS_PER_CELL
    tileset = _tileset_for(k, seed)
    total = sum(counts.values())
    with tqdm(total=total, desc=f"warcraft {k}x{k}", unit="map", disable=not progress) as bar:
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
            for c_start, c_stop, chunk in _chunks(n, k, seed, (stream,), tileset):
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
            "generator": "diffsolvers.datasets.warcraft_generator",
            "format_version": FORMAT_VERSION,
            "seed": seed,
            "class_costs": dict(zip(CLASS_NAMES, CLASS_COSTS.tolist())),
        },
        **{f"{split}_set_params": {"num_examples": counts[split]} for split in _SPLITS},
    }
    (folder / "info.json").write_text(json.dumps(info, indent=2) + "\n")


def default_data_root() -> Path:
    """Where generated Warcraft data goes by default.

    ``$DIFFSOLVERS_DATA/warcraft_shortest_path_oneskin`` if that environment variable is
    set; else ``datasets/generated/warcraft_shortest_path_oneskin`` in the source checkout
    (git-ignored); else, for an installed package without a checkout,
    ``~/.cache/diffsolvers/warcraft_shortest_path_oneskin``.
    """
    env = os.environ.get("DIFFSOLVERS_DATA")
    if env:
        return Path(env) / "warcraft_shortest_path_oneskin"
    repo = Path(__file__).resolve().parents[2]
    if (repo / "pyproject.toml").is_file() and (repo / "datasets").is_dir():
        return repo / "datasets" / "generated" / "warcraft_shortest_path_oneskin"
    return Path.home() / ".cache" / "diffsolvers" / "warcraft_shortest_path_oneskin"


def ensure_warcraft_data(
    k: int = 12,
    root: str | os.PathLike | None = None,
    *,
    seed: int = 0,
    n_train: int = 10_000,
    n_val: int = 1_000,
    n_test: int = 1_000,
    progress: bool = True,
) -> Path:
    """Return the folder ``{root}/{k}x{k}`` of a generated data set, generating it if absent.

    ``root`` defaults to :func:`default_data_root`. An existing folder is reused as it is
    (whatever seed or size it was made with; its ``info.json`` says which), unless an older
    version of this generator wrote it (its ``format_version``): then it is made again.
    """
    found = existing_warcraft_data(k, root)
    if found is not None:
        return found
    root = default_data_root() if root is None else Path(root)
    try:
        return generate_warcraft(
            root, k, n_train, n_val, n_test, seed=seed, progress=progress, overwrite=True
        )
    except FileExistsError:  # pragma: no cover - raced with another process
        return root / f"{int(k)}x{int(k)}"


def existing_warcraft_data(k: int = 12, root: str | os.PathLike | None = None) -> Path | None:
    """The folder ``{root}/{k}x{k}`` that :func:`ensure_warcraft_data` would reuse as it is
    (complete, not written by an older version of this generator), or ``None``."""
    target = (default_data_root() if root is None else Path(root)) / f"{int(k)}x{int(k)}"
    if (target / "test_maps.npy").exists() and not _older_generator(target):
        return target
    return None


def _older_generator(folder: Path) -> bool:
    """Whether ``folder`` holds maps written by an older version of this generator."""
    try:
        params = json.loads((folder / "info.json").read_text())["dataset_params"]
    except (OSError, ValueError, KeyError, TypeError):
        return False  # not ours (e.g. a copy of the real data): leave it alone
    if params.get("generator") != "diffsolvers.datasets.warcraft_generator":
        return False
    return params.get("format_version") != FORMAT_VERSION


def save_preview(
    maps: np.ndarray,
    out_png: str | os.PathLike,
    paths: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    ncols: int = 4,
) -> Path:
    """Save a grid of maps (``(n, H, W, 3)`` uint8) as a PNG, with paths and costs if given."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(maps)
    rows = int(math.ceil(n / ncols)) * (2 if weights is not None else 1)
    fig, axes = plt.subplots(rows, ncols, figsize=(3 * ncols, 3 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for i in range(n):
        r, c = divmod(i, ncols)
        if weights is not None:
            r *= 2
        ax = axes[r, c]
        ax.imshow(maps[i], interpolation="nearest")
        if paths is not None:
            ys, xs = np.nonzero(paths[i])
            ax.scatter(xs * 8 + 3.5, ys * 8 + 3.5, s=8, c="red")
        if weights is not None:
            axes[r + 1, c].imshow(
                np.asarray(weights[i], np.float32), cmap="viridis", vmin=0, vmax=9.5
            )
    fig.tight_layout()
    out_png = Path(out_png)
    fig.savefig(out_png, dpi=80)
    plt.close(fig)
    return out_png


def main(argv: Sequence[str] | None = None) -> Path:
    """Command line: ``python -m diffsolvers.datasets.warcraft_generator --k 12 --out DIR``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--k", type=int, default=12, help="grid size (12, 18, 24, 30 in the real data)"
    )
    parser.add_argument("--out", default=None, help="top folder (default: datasets/generated/...)")
    parser.add_argument("--n-train", type=int, default=10_000)
    parser.add_argument("--n-val", type=int, default=1_000)
    parser.add_argument("--n-test", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--preview", default=None, help="also save a PNG of 8 training maps")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    out = default_data_root() if args.out is None else Path(args.out)
    folder = generate_warcraft(
        out,
        args.k,
        args.n_train,
        args.n_val,
        args.n_test,
        seed=args.seed,
        progress=not args.quiet,
        overwrite=args.overwrite,
    )
    if args.preview:
        maps, weights, paths = generate_maps(8, args.k, args.seed)
        save_preview(maps, args.preview, paths, weights)
    print(folder)
    return folder


if __name__ == "__main__":
    main()
