r"""Generator format 2: the maps of the first published results, kept byte for byte.

Kept apart and unchanged so that every result measured on format-2 data can be made again
(``diffsolvers generate warcraft --format 2``, or ``format=2`` in the Python API): the same
seed gives byte-identical files.

* **Layout** (cell level, ``k × k``). A smooth random field (σ = 2.5 cells), thresholded at
  a per-map share ``U(0.15, 0.65)``, splits the background into grass and dirt; a finer
  field (σ = 1.4) gives forest patches on a share ``U(0.05, 0.32)``; lakes of 6-18 cells
  and rock outcrops of 5-13 cells are grown around random centres (:func:`~.common.blobs`),
  ``Poisson(1.1)`` and ``Poisson(1.3)`` of them per 144 cells.
* **Tileset** (one per data set): :data:`N_VARIANTS` synthetic 8 × 8 textures per class
  (grass blades, dirt pebbles, lit tree crowns, water ripples, lit boulders) centred on
  :data:`CLASS_MEAN_RGB` plus a per-variant offset ``N(0, 4²)``, and
  :data:`N_DISPLACEMENTS` border displacement patterns (a bilinear field of about 1.8 px
  plus a ±1.1 px pixel dither).
* **Rendering**. A pixel shows, in its cell's texture variant, the class of the cell its
  displaced position falls in; the displacement is undone in a cell where fewer than
  :data:`MIN_OWN_PIXELS` of its 64 pixels would keep its own class (so a cell's cost is
  the class of the majority of its pixels). Water pixels within two pixels of land are
  darkened (× 0.62) and class-border pixels are averaged with their 3 × 3 neighbourhood.

Example::

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> cls, maps = draw(rng, 2, 12, make_tileset(np.random.default_rng(1)))
    >>> cls.shape, maps.shape, maps.dtype
    ((2, 12, 12), (2, 96, 96, 3), dtype('uint8'))

Reference: the real maps' on-disk format and classes, Vlastelica et al., "Differentiation
of Blackbox Combinatorial Solvers", ICLR 2020 (data DOI 10.17617/3.YJCQ5S).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .common import (
    DIRT,
    FOREST,
    GRASS,
    PIXELS_PER_CELL,
    ROCK,
    WATER,
    above_quantile,
    blobs,
    interp_matrix,
    smooth_field,
)

__all__ = [
    "VERSION",
    "CLASS_MEAN_RGB",
    "N_VARIANTS",
    "N_DISPLACEMENTS",
    "MIN_OWN_PIXELS",
    "Tileset",
    "make_tileset",
    "draw",
]

VERSION = 2
"""The generator format these maps are (``format_version`` in the ``info.json``)."""
CLASS_MEAN_RGB = np.array(
    [[43, 77, 15], [100, 60, 10], [17, 79, 9], [9, 48, 90], [70, 70, 70]], dtype=np.float64
)
"""Approximate mean colour (RGB) of each class in the real data, format 2's targets."""
N_VARIANTS = 16
"""Texture variants per class."""
N_DISPLACEMENTS = 16
"""Border displacement patterns a cell can take."""
MIN_OWN_PIXELS = 40
"""A cell keeps the border displacement only if at least this many of its 64 pixels keep
the cell's own class (a strict majority, with a margin)."""


def draw(rng: np.random.Generator, n: int, k: int, tileset: Tileset) -> tuple:
    """Cell classes ``(n, k, k)`` int64 and images ``(n, 8k, 8k, 3)`` uint8 of ``n`` maps.

    The layout and the rendering of the module doc, both drawn from ``rng``.

    Examples:
        >>> import numpy as np
        >>> tileset = make_tileset(np.random.default_rng(1))
        >>> cls, maps = draw(np.random.default_rng(0), 2, 12, tileset)
        >>> cls.shape, maps.shape, maps.dtype
        ((2, 12, 12), (2, 96, 96, 3), dtype('uint8'))
    """
    cls = _layout(rng, n, k)
    return cls, _render(rng, cls, tileset)


def make_tileset(rng: np.random.Generator) -> Tileset:
    """The one skin every map of a data set is drawn with (module doc, "Tileset").

    Examples:
        >>> import numpy as np
        >>> tileset = make_tileset(np.random.default_rng(0))
        >>> tileset.textures.shape, tileset.displacements.shape
        ((5, 16, 8, 8, 3), (2, 16, 8, 8))
    """
    return Tileset(_texture_bank(rng), _displacement_bank(rng))


# --------------------------------------------------------------------------- layout
def _layout(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    """Cell classes ``(n, k, k)`` int64 in ``0..4`` (see :data:`CLASS_NAMES`)."""
    background = smooth_field(rng, n, k, 2.5)
    dirt_share = rng.uniform(0.15, 0.65, size=n)
    cls = np.where(above_quantile(background, dirt_share), DIRT, GRASS)
    forest_share = rng.uniform(0.05, 0.32, size=n)
    cls = np.where(above_quantile(smooth_field(rng, n, k, 1.4), forest_share), FOREST, cls)
    cls = np.where(blobs(rng, n, k, 1.1, (6, 18), 0.35), WATER, cls)
    cls = np.where(blobs(rng, n, k, 1.3, (5, 13), 0.6), ROCK, cls)
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
    """The one skin every map of a data set is drawn with (fixed by the seed).

    Examples:
        >>> import numpy as np
        >>> tileset = make_tileset(np.random.default_rng(0))
        >>> tileset.textures.dtype, tileset.displacements.dtype
        (dtype('float64'), dtype('float32'))
    """

    textures: np.ndarray
    """``(5, N_VARIANTS, 8, 8, 3)`` float RGB textures per class."""
    displacements: np.ndarray
    """``(2, N_DISPLACEMENTS, 8, 8)`` float32 border displacements (rows, cols) per cell."""


def _displacement_bank(rng: np.random.Generator, d: int = N_DISPLACEMENTS) -> np.ndarray:
    """``(2, d, 8, 8)`` float32 border displacements (rows, cols) of the tileset's cells: a
    smooth field (lattice every 4 px, about 1.8 px) plus a pixel-level dither of ±1.1 px."""
    interp = interp_matrix(1).astype(np.float32)  # (8, 3)
    coarse = rng.standard_normal((2, d, 3, 3)).astype(np.float32) * np.float32(1.8)
    disp = np.matmul(np.matmul(interp, coarse), interp.T)
    disp += rng.random(disp.shape, dtype=np.float32) * np.float32(2.2) - np.float32(1.1)
    return disp


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
