r"""What every generator format shares: the terrain classes, the map geometry and the
random fields that layouts are cut from.

* a **smooth field** is white noise blurred by a Gaussian of ``sigma`` cells (periodic
  boundary, padded then cropped so the map does not wrap) and standardised per map:
  ``z = (G_σ * ξ - mean) / std``;
* a **quantile mask** keeps the ``frac`` share of a map's cells with the largest values
  (ties broken by position, so the count is exact);
* a **blob** of ``s`` cells is the set of the ``s`` cells with the smallest score
  ``‖x - centre‖ / r - roughness · z(x)`` (``r = √(s/π)``, ``z`` a smooth field): a
  compact region whose edge wanders with ``roughness``.

Example::

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> mask = above_quantile(smooth_field(rng, 2, 12, 2.0), np.array([0.25, 0.5]))
    >>> mask.reshape(2, -1).sum(axis=1).tolist()
    [36, 72]

Reference: the layout rules of the Warcraft maps of Vlastelica et al., "Differentiation of
Blackbox Combinatorial Solvers", ICLR 2020 (data DOI 10.17617/3.YJCQ5S).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.ndimage import gaussian_filter

__all__ = [
    "CLASS_NAMES",
    "CLASS_COSTS",
    "SIZES",
    "PIXELS_PER_CELL",
    "CHUNK",
    "GRASS",
    "DIRT",
    "FOREST",
    "WATER",
    "ROCK",
    "smooth_field",
    "above_quantile",
    "blobs",
    "interp_matrix",
]

CLASS_NAMES: tuple[str, ...] = ("grass", "dirt", "forest", "water", "rock")
"""Terrain classes, in the order of their index in the generator."""
CLASS_COSTS = np.array([0.8, 1.2, 5.3, 7.7, 9.2])
"""Vertex cost of each class (stored as float16 on disk: 0.7998, 1.2002, 5.3008, 7.6992, 9.2031)."""
SIZES: tuple[int, ...] = (12, 18, 24, 30)
"""Grid sizes of the real data set."""
GRASS = 0
"""Index of grass in :data:`CLASS_NAMES` and :data:`CLASS_COSTS`."""
DIRT = 1
"""Index of dirt."""
FOREST = 2
"""Index of forest."""
WATER = 3
"""Index of water."""
ROCK = 4
"""Index of rock."""
PIXELS_PER_CELL = 8
"""Side of a cell's square tile in pixels: a ``k × k`` map is an ``8k × 8k`` image."""
CHUNK = 256
"""Maps generated per chunk; fixed, since the random streams are drawn per chunk."""


def smooth_field(rng: np.random.Generator, n: int, k: int, sigma: float) -> np.ndarray:
    """``(n, k, k)`` smooth Gaussian random fields, standardised per map (module doc).

    Examples:
        >>> import numpy as np
        >>> z = smooth_field(np.random.default_rng(0), 2, 12, sigma=2.0)
        >>> z.shape, np.allclose(z.mean(axis=(1, 2)), 0), np.allclose(z.std(axis=(1, 2)), 1)
        ((2, 12, 12), True, True)
    """
    pad = int(math.ceil(2 * sigma))
    z = rng.standard_normal((n, k + 2 * pad, k + 2 * pad))
    z = gaussian_filter(z, sigma=(0, sigma, sigma), mode="wrap")[:, pad : pad + k, pad : pad + k]
    z -= z.mean(axis=(1, 2), keepdims=True)
    z /= z.std(axis=(1, 2), keepdims=True) + 1e-12
    return z


def above_quantile(field: np.ndarray, frac: np.ndarray) -> np.ndarray:
    """Boolean mask of the ``frac[i]`` share of cells of map ``i`` with the largest values.

    Examples:
        >>> import numpy as np
        >>> field = np.array([[[0.3, 0.1], [0.4, 0.2]]])
        >>> above_quantile(field, np.array([0.5]))
        array([[[ True, False],
                [ True, False]]])
    """
    n = field.shape[0]
    flat = field.reshape(n, -1)
    m = flat.shape[1]
    count = np.clip(np.rint(frac * m).astype(np.int64), 0, m)
    ranks = np.empty_like(flat, dtype=np.int64)
    np.put_along_axis(ranks, np.argsort(-flat, axis=1), np.arange(m)[None, :], axis=1)
    return (ranks < count[:, None]).reshape(field.shape)


def blobs(
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

    Examples:
        >>> import numpy as np
        >>> lakes = blobs(np.random.default_rng(0), 100, 12, 1.1, (6, 18), roughness=0.35)
        >>> lakes.shape, lakes.dtype, bool(0.05 < lakes.mean() < 0.2)
        ((100, 12, 12), dtype('bool'), True)
    """
    lam = rate_per_144 * k * k / 144.0
    cap = max(1, int(math.ceil(lam + 3 * math.sqrt(lam))))
    counts = np.minimum(rng.poisson(lam, size=n), cap)
    active = np.arange(cap)[None, :] < counts[:, None]  # (n, cap)
    sizes = rng.integers(size_range[0], size_range[1] + 1, size=(n, cap))
    centres = rng.uniform(-0.5, k - 0.5, size=(n, cap, 2))
    noise = smooth_field(rng, n * cap, k, 1.0).reshape(n, cap, k, k)
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


def interp_matrix(k: int, step: int = 4) -> np.ndarray:
    """``(8k, 8k/step + 1)`` linear interpolation from a lattice every ``step`` pixels.

    Row ``i`` weighs the two lattice points around pixel centre ``(i + ½) / step``, so
    ``M v`` is the piecewise linear interpolation of lattice values ``v`` at the pixels.

    Examples:
        >>> import numpy as np
        >>> m = interp_matrix(1)  # one cell: 8 pixels from a lattice of 3 points
        >>> m.shape, np.allclose(m.sum(axis=1), 1)
        ((8, 3), True)
        >>> m @ np.array([0.0, 4.0, 8.0])
        array([0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5])
    """
    size = k * PIXELS_PER_CELL
    m = size // step + 1
    pos = (np.arange(size) + 0.5) / step
    lo = np.clip(np.floor(pos).astype(int), 0, m - 2)
    frac = pos - lo
    mat = np.zeros((size, m))
    mat[np.arange(size), lo] = 1 - frac
    mat[np.arange(size), lo + 1] = frac
    return mat
