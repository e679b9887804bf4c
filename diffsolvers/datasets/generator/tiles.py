r"""Format 3 tiles: the tileset of a data set and the images drawn with it.

Like the real maps, drawn from one skin of 142 game tiles, every map of a data set is drawn
from one **tileset** made once from the seed: :data:`N_VARIANTS` smooth 8 × 8 textures per
class and :data:`N_DISPLACEMENTS` border displacement patterns. A cell is one tile: its
class, a texture variant and a displacement pattern; a cell inside a region of its own
class is an exact copy of one of the class's textures, so the same tiles recur.

**Textures.** Each class has a spatial pattern ``P`` (zero mean and unit variance per
channel over the class's variants): grass a smooth luminance-and-hue mottle (σ ≈ 1.5 px),
dirt a mottle with light pebbles, forest round tree crowns lit from the upper left with
dark gaps, water ripples, rock lit boulders on gravel. The mottles are *seamless*: near
the tile edges every variant fades into a pattern the class's variants share (weight
``½ + ½ (sin(π(y+½)/8) sin(π(x+½)/8))^½``), so neighbouring tiles join without a seam.
Variant ``v`` is offset by ``q_v ⊙ d_c`` (``q`` evenly spaced normal quantiles, ``d_c``
:data:`VARIANT_SPREAD`), and a texel is ``clip(μ_c + s_c ⊙ P + q_v d_c, 0, 146)`` with
the class colour ``μ_c`` and contrast ``s_c`` per channel (:data:`TILE_MEAN`,
:data:`TILE_SCALE`) fitted so that a generated data set's tiles, transitions and shores
included, have the real maps' mean colour and mean within-tile standard deviation per
class (fixed-point iteration on 1,000 maps of a seed that no reported figure uses:
``μ ← μ + (m_real - m)``, ``s ← s · σ_real / σ``); no pixel exceeds the real maximum of
about 146. The spread ``d_c`` is what the published channel standard deviations ask for
beyond the class colours and the within-tile spread (mostly in green, from grass and
trees of varying density).

**Borders.** A pixel shows the class of the cell its displaced position falls in (smooth
displacements of about 2 px, no pixel dither: borders are jagged, not speckled), with two
rules read off the real tile statistics (the real grass tiles' blue varies by 3 levels
only, so they hold no water or rock pixels): a land cell (grass, dirt, forest) shows land
classes only, a rock cell land or rock. A water cell shows water and its **shore**: the
pixels displaced onto land and those next to a land cell take the dark shore texture
(:data:`SHORE_RGB`), and open-water pixels next to the shore are shaded towards it by
:data:`SHORE_RIM`, so every lake has a dark, jagged edge inside its own cells. The
displacement is undone in a land or rock cell where fewer than :data:`MIN_OWN_PIXELS` of
its 64 pixels would keep its own class, so a cell's cost is the class of the majority of
its pixels (a water cell's shore counts as its own).

Example::

    >>> import numpy as np
    >>> from diffsolvers.datasets.generator.layout import layout
    >>> tileset = make_tileset(np.random.default_rng(1))
    >>> rng = np.random.default_rng(0)
    >>> images = render(rng, layout(rng, 2, 12), tileset)
    >>> images.shape, int(images.max()) <= PIXEL_MAX
    ((2, 96, 96, 3), True)

Reference: the real maps' tile statistics (``docs/warcraft-data.md``) and format, from
Vlastelica et al., ICLR 2020 (data DOI 10.17617/3.YJCQ5S).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy.ndimage import gaussian_filter
from scipy.stats import norm

from .common import DIRT, FOREST, GRASS, PIXELS_PER_CELL, ROCK, WATER, interp_matrix
from .layout import layout

__all__ = [
    "VERSION",
    "N_VARIANTS",
    "N_DISPLACEMENTS",
    "MIN_OWN_PIXELS",
    "PIXEL_MAX",
    "TILE_MEAN",
    "TILE_SCALE",
    "VARIANT_SPREAD",
    "SHORE_RGB",
    "Tileset",
    "make_tileset",
    "render",
    "draw",
]

VERSION = 3
"""The generator format these maps are (``format_version`` in the ``info.json``)."""
N_VARIANTS = 8
"""Texture variants per class."""
N_DISPLACEMENTS = 16
"""Border displacement patterns a cell can take."""
MIN_OWN_PIXELS = 40
"""A cell keeps the border displacement only if at least this many of its 64 pixels keep
the cell's own class."""
PIXEL_MAX = 146
"""The brightest value a texel may take (the real maps' pixel maximum)."""
TILE_MEAN = np.array(
    [
        [49.1, 81.4, 10.1],
        [105.5, 64.4, 6.6],
        [11.7, 80.7, 7.0],
        [-2.0, 55.8, 113.8],
        [74.3, 74.0, 78.3],
    ]
)
"""Class colour ``μ_c`` (RGB, 0-255) of the textures, one row per class, fitted (module doc)."""
TILE_SCALE = np.array(
    [[15.7, 9.0, 3.5], [13.9, 6.2, 11.0], [6.9, 18.0, 10.9], [11.8, 3.4, 4.3], [25.2, 28.1, 21.8]]
)
"""Texture contrast ``s_c`` per class and channel, fitted (module doc)."""
VARIANT_SPREAD = np.array(
    [[3.0, 5.0, 0.5], [4.0, 4.0, 1.0], [4.0, 8.0, 2.0], [0.5, 2.0, 4.0], [4.0, 4.0, 4.0]]
)
"""Spread of the variants' mean colours per class and channel (levels): variant ``v`` of
class ``c`` is offset by ``q_v · spread_c`` (``q`` evenly spaced normal quantiles)."""
SHORE_RGB = np.array([40.0, 42.0, 40.0])
"""Colour of the shore line inside water cells."""
_RANK = np.array([0, 0, 0, 2, 1])
"""Which neighbour classes a cell may show: land 0, rock 1, water 2; a cell shows a class
of rank at most its own (and a water cell shows land as its shore)."""
SHORE = 5
"""The shore's pixel class (water-cell pixels on land or next to a land cell)."""
SHORE_RIM = 0.35
"""How far open-water pixels next to the shore are shaded towards :data:`SHORE_RGB`."""
_EDGE_WEIGHT = 0.5 + 0.5 * np.sqrt(np.outer(*(2 * [np.sin(np.pi * (np.arange(8) + 0.5) / 8)])))
"""How much a texel belongs to its variant rather than to the class's shared edge pattern:
``½ + ½ (sin(π(y+½)/8) sin(π(x+½)/8))^½``, about 0.6 in the corners, 1 in the centre."""


class Tileset(NamedTuple):
    """The one skin every map of a data set is drawn with (fixed by the seed).

    Examples:
        >>> import numpy as np
        >>> tileset = make_tileset(np.random.default_rng(0))
        >>> tileset.textures.shape, tileset.textures.dtype, tileset.displacements.shape
        ((6, 8, 8, 8, 3), dtype('uint8'), (2, 16, 8, 8))
    """

    textures: np.ndarray
    """``(6, N_VARIANTS, 8, 8, 3)`` uint8 RGB textures per class, the shore's last."""
    displacements: np.ndarray
    """``(2, N_DISPLACEMENTS, 8, 8)`` float32 border displacements (rows, cols) per cell."""


def draw(rng: np.random.Generator, n: int, k: int, tileset: Tileset) -> tuple:
    """Cell classes ``(n, k, k)`` int64 and images ``(n, 8k, 8k, 3)`` uint8 of ``n`` maps.

    A :func:`~.layout.layout` rendered with ``tileset`` (:func:`render`), both drawn from
    ``rng``.

    Examples:
        >>> import numpy as np
        >>> tileset = make_tileset(np.random.default_rng(1))
        >>> cls, images = draw(np.random.default_rng(0), 2, 12, tileset)
        >>> cls.shape, images.shape, images.dtype
        ((2, 12, 12), (2, 96, 96, 3), dtype('uint8'))
    """
    cls = layout(rng, n, k)
    return cls, render(rng, cls, tileset)


def make_tileset(rng: np.random.Generator) -> Tileset:
    """The one skin every map of a data set is drawn with (module doc, "Textures").

    Examples:
        >>> import numpy as np
        >>> tileset = make_tileset(np.random.default_rng(0))
        >>> int(tileset.textures.max()) <= PIXEL_MAX
        True
        >>> np.array_equal(tileset.textures, make_tileset(np.random.default_rng(0)).textures)
        True
    """
    patterns = _patterns(rng, N_VARIANTS)
    shore = SHORE_RGB + 0.5 * TILE_SCALE[WATER] * patterns[WATER]
    quantiles = norm.ppf((np.arange(N_VARIANTS) + 0.5) / N_VARIANTS)
    order = rng.permuted(np.tile(quantiles, (5, 1)), axis=1)  # (5, V)
    offsets = (order[..., None] * VARIANT_SPREAD[:, None, :])[:, :, None, None, :]
    offsets = offsets * (_EDGE_WEIGHT / _EDGE_WEIGHT.mean())[:, :, None]
    texels = (
        TILE_MEAN[:, None, None, None, :] + TILE_SCALE[:, None, None, None, :] * patterns + offsets
    )
    texels = np.concatenate([texels, shore[None]])
    textures = np.clip(np.rint(texels), 0, PIXEL_MAX).astype(np.uint8)
    return Tileset(textures, _displacement_bank(rng, N_DISPLACEMENTS))


# --------------------------------------------------------------------------- textures
def _torus_noise(rng: np.random.Generator, shape: tuple, sigma: float) -> np.ndarray:
    """Smooth noise on the 8 × 8 torus (the last two axes), unit variance."""
    z = rng.standard_normal(shape)
    z = gaussian_filter(z, sigma=(0,) * (len(shape) - 2) + (sigma, sigma), mode="wrap")
    return z / (z.std() + 1e-12)


def _seamless(rng: np.random.Generator, v: int, sigma: float) -> np.ndarray:
    """``(v, 8, 8)`` smooth noise whose variants agree near the tile edges: a base pattern
    shared by all variants, faded into each variant's own towards the tile centre (weight
    :data:`_EDGE_WEIGHT`), so that neighbouring tiles join without a seam."""
    base = _torus_noise(rng, (1, 8, 8), sigma)
    own = _torus_noise(rng, (v, 8, 8), sigma)
    return (1 - _EDGE_WEIGHT) * base + _EDGE_WEIGHT * own


def _discs(rng: np.random.Generator, v: int, count: tuple[int, int], radius: tuple) -> tuple:
    """Random discs on the 8 × 8 torus for ``v`` tiles: ``inside`` mask, ``light`` (> 0 on
    the upper-left side of the nearest disc) and ``dist`` (to its centre, in radii)."""
    yy, xx = np.mgrid[0:8, 0:8].astype(np.float64)
    m = count[1]
    on = np.arange(m)[None, :] < rng.integers(count[0], count[1] + 1, size=v)[:, None]
    cy = rng.uniform(0, 8, size=(v, m, 1, 1))
    cx = rng.uniform(0, 8, size=(v, m, 1, 1))
    r = rng.uniform(*radius, size=(v, m, 1, 1))
    dy = ((yy - cy + 4) % 8 - 4) / r
    dx = ((xx - cx + 4) % 8 - 4) / r
    d = np.where(on[..., None, None], np.sqrt(dy**2 + dx**2), np.inf)
    nearest = d.argmin(axis=1)[:, None]
    ny = np.take_along_axis(dy, nearest, axis=1)[:, 0]
    nx = np.take_along_axis(dx, nearest, axis=1)[:, 0]
    dist = d.min(axis=1)
    return dist <= 1.0, -(ny + nx) / math.sqrt(2), dist


def _patterns(rng: np.random.Generator, v: int) -> np.ndarray:
    """``(5, v, 8, 8, 3)`` texture patterns, zero mean and unit std per class and channel."""
    out = np.empty((5, v, 8, 8, 3))
    lum = _seamless(rng, v, 1.5)
    hue = _seamless(rng, v, 1.3)
    out[GRASS] = np.stack([lum + 0.8 * hue, lum - 0.3 * hue, lum], axis=-1)

    blot = _seamless(rng, v, 1.6)
    pebble, light, _ = _discs(rng, v, (2, 5), (0.7, 1.2))
    bump = pebble * (1.5 + 0.8 * light)
    out[DIRT] = np.stack([blot + bump, blot + bump, 0.4 * blot + 2.0 * bump], axis=-1)

    crown, light, dist = _discs(rng, v, (3, 5), (1.6, 2.4))
    canopy = np.where(crown, 0.8 + 0.7 * light - 0.5 * dist, -1.4)
    canopy += 0.2 * _torus_noise(rng, (v, 8, 8), 0.7)
    out[FOREST] = np.repeat(canopy[..., None], 3, axis=-1)

    yy = np.arange(8)[None, :, None]
    xx = np.arange(8)[None, None, :]
    tilt = rng.uniform(-0.5, 0.5, size=(v, 1, 1))
    phase = rng.uniform(0, 2 * np.pi, size=(v, 1, 1))
    ripple = np.sin(2 * np.pi * (yy + tilt * xx) / 8 + phase) + _seamless(rng, v, 1.6)
    out[WATER] = np.repeat(ripple[..., None], 3, axis=-1)

    boulder, light, dist = _discs(rng, v, (2, 3), (1.8, 2.8))
    stone = np.where(boulder, 0.5 + 1.2 * np.clip(light, -1, 1) - 0.3 * dist, -0.9)
    stone += 0.25 * _torus_noise(rng, (v, 8, 8), 0.8)
    out[ROCK] = np.repeat(stone[..., None], 3, axis=-1)

    out -= out.mean(axis=(1, 2, 3), keepdims=True)
    out /= out.std(axis=(1, 2, 3), keepdims=True) + 1e-12
    return out


def _displacement_bank(rng: np.random.Generator, d: int) -> np.ndarray:
    """``(2, d, 8, 8)`` float32 border displacements (rows, cols): a bilinear field with a
    lattice every 4 px (standard deviation 2.2 px) plus one every 2 px (0.9 px)."""
    coarse = rng.standard_normal((2, d, 3, 3)) * 2.2
    fine = rng.standard_normal((2, d, 5, 5)) * 0.9
    i4 = interp_matrix(1, 4)
    i2 = interp_matrix(1, 2)
    disp = np.matmul(np.matmul(i4, coarse), i4.T) + np.matmul(np.matmul(i2, fine), i2.T)
    return disp.astype(np.float32)


# --------------------------------------------------------------------------- rendering
def _pixel_classes(rng: np.random.Generator, cls: np.ndarray, tileset: Tileset) -> tuple:
    """Class of every pixel ``(n, 8k, 8k)`` int32 and the flat index of its cell."""
    n, k, _ = cls.shape
    p = PIXELS_PER_CELL
    size = k * p
    patches = tileset.displacements
    which = rng.integers(0, patches.shape[1], size=(n, k, k))
    disp = patches[:, which].transpose(0, 1, 2, 4, 3, 5).reshape(2, n, size, size)
    centre = np.arange(size, dtype=np.float32) + np.float32(0.5)
    pos_r = np.floor(centre[None, :, None] + disp[0]).astype(np.int32)
    pos_c = np.floor(centre[None, None, :] + disp[1]).astype(np.int32)
    cell = np.arange(size, dtype=np.int32) // p
    base = np.arange(n, dtype=np.int32)[:, None, None] * np.int32(k * k)
    own = base + cell[None, :, None] * k + cell[None, None, :]
    flat = cls.reshape(-1).astype(np.int32)
    own_cls = flat[own]
    src_r = np.clip(pos_r // p, 0, k - 1)
    src_c = np.clip(pos_c // p, 0, k - 1)
    pix_cls = flat[base + src_r * k + src_c]
    rank = _RANK.astype(np.int32)
    pix_cls = np.where(rank[pix_cls] <= rank[own_cls], pix_cls, own_cls)
    # the shore: water-cell pixels displaced onto land, and those next to a land cell
    pix = np.arange(size, dtype=np.int32)
    dry = pix_cls != WATER
    for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        rows = np.clip((pix[:, None] + dr) // p, 0, k - 1)
        cols = np.clip((pix[None, :] + dc) // p, 0, k - 1)
        dry |= flat[base + rows * k + cols] != WATER
    pix_cls = np.where((own_cls == WATER) & dry, np.int32(SHORE), pix_cls)
    own_like = (pix_cls == own_cls) | (pix_cls == SHORE)  # a water cell's shore is its own
    kept = own_like.reshape(n, k, p, k, p).sum(axis=(2, 4)) >= MIN_OWN_PIXELS
    kept = np.repeat(np.repeat(kept, p, axis=1), p, axis=2)
    return np.where(kept, pix_cls, own_cls), own


def render(rng: np.random.Generator, cls: np.ndarray, tileset: Tileset) -> np.ndarray:
    """Draw the ``(n, 8k, 8k, 3)`` uint8 images of the cell classes ``cls`` ``(n, k, k)``.

    ``rng`` picks each cell's texture variant and border displacement (module doc,
    "Borders").

    Examples:
        >>> import numpy as np
        >>> from diffsolvers.datasets.generator.common import GRASS, WATER
        >>> tileset = make_tileset(np.random.default_rng(1))
        >>> cls = np.array([[[GRASS, GRASS], [WATER, WATER]]])
        >>> image = render(np.random.default_rng(0), cls, tileset)
        >>> image.shape
        (1, 16, 16, 3)
        >>> grass, water = image[0, :8].mean(axis=(0, 1)), image[0, 8:].mean(axis=(0, 1))
        >>> bool(grass[1] > grass[2]), bool(water[2] > water[0])  # green grass, blue water
        (True, True)
    """
    n, k, _ = cls.shape
    p = PIXELS_PER_CELL
    size = k * p
    bank = tileset.textures
    n_var = bank.shape[1]
    pix_cls, own = _pixel_classes(rng, cls, tileset)
    variant = rng.integers(0, n_var, size=n * k * k, dtype=np.int32)
    rgba = np.zeros((*bank.shape[:-1], 4), dtype=np.uint8)
    rgba[..., :3] = bank
    packed = rgba.reshape(-1, 4).view(np.uint32).reshape(-1)
    ty = (np.arange(size, dtype=np.int32) % p)[None, :, None]
    tx = (np.arange(size, dtype=np.int32) % p)[None, None, :]
    texel = np.take(packed, ((pix_cls * n_var + variant[own]) * p + ty) * p + tx)
    img = texel[..., None].view(np.uint8)[..., :3].astype(np.float32)

    water = pix_cls == WATER
    wp = np.pad(water, [(0, 0), (1, 1), (1, 1)], mode="edge")
    inland = wp[:, :-2, 1:-1] & wp[:, 2:, 1:-1] & wp[:, 1:-1, :-2] & wp[:, 1:-1, 2:]
    rim = (water & ~inland)[..., None]
    shore = SHORE_RGB.astype(np.float32)
    np.copyto(img, img + np.float32(SHORE_RIM) * (shore - img), where=rim)
    return np.rint(img).astype(np.uint8)
