r"""Format 3 layouts: which terrain class each cell of a ``k × k`` map holds.

Built to match what is known of the real 12×12 maps (class shares of about grass 29%,
dirt 35%, forest 14%, water 14-20%, rock 9%; large smooth grass and dirt backgrounds;
water as one or two large bodies joined by narrow channels; compact rock outcrops;
clumps of trees), in four layers, each drawn for a whole chunk of maps at once. With
``a = k²/144`` (the counts scale with the map area):

1. **Background**: a smooth field (σ = 3 cells) thresholded at a per-map dirt share
   ``U(0.32, 0.86)``: dirt above, grass below.
2. **Water**: ``max(1, Poisson(1.2a))`` lakes of ``U(11, 23)`` cells, each the cells with
   the smallest elongated noisy distance to a random centre
   ``‖R(x - x₀)‖_A / r - 0.45 z(x)`` (``R`` a random rotation, ``A`` an axis ratio up to 2,
   ``z`` a smooth field), and channels one or two cells wide: a 4-connected random walk
   from the first lake's centre to the second's, or, on a map with one lake, to the map's
   edge (probability 0.35).
3. **Rock**: ``Poisson(1.45a)`` compact outcrops of ``U(5, 13)`` cells grown on dry land.
4. **Forest**: a smooth field (σ = 1.5) thresholded on the remaining grass and dirt at a
   per-map share ``U(0.08, 0.26)`` of the map; single forest cells with no forest
   neighbour (4-connectivity) return to the background, so trees come in clumps.

Example::

    >>> import numpy as np
    >>> cls = layout(np.random.default_rng(0), 100, 12)
    >>> shares = np.bincount(cls.reshape(-1), minlength=5) / cls.size
    >>> bool(0.1 < shares[3] < 0.25)  # water
    True

Reference: the real maps' layout as described in Vlastelica et al., ICLR 2020 (data DOI
10.17617/3.YJCQ5S) and measured on real train maps (``docs/warcraft-data.md``).
"""

from __future__ import annotations

import math

import numpy as np

from .common import DIRT, FOREST, GRASS, ROCK, WATER, above_quantile, smooth_field

__all__ = ["layout"]


def layout(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    """Cell classes ``(n, k, k)`` int64 in ``0..4`` of ``n`` maps (module doc).

    The classes index :data:`~.common.CLASS_NAMES`; ``rng`` draws the whole batch, so the
    same generator state gives the same maps.

    Examples:
        >>> import numpy as np
        >>> cls = layout(np.random.default_rng(0), 2, 12)
        >>> cls.shape, cls.dtype, int(cls.min()) >= 0, int(cls.max()) <= 4
        ((2, 12, 12), dtype('int64'), True, True)
    """
    area = k * k / 144.0
    background = smooth_field(rng, n, k, 3.0)
    cls = np.where(above_quantile(background, rng.uniform(0.3, 0.84, size=n)), DIRT, GRASS)
    water = _lakes(rng, n, k, area)
    cls[water] = WATER
    rock = _outcrops(rng, n, k, area, blocked=water)
    cls[rock] = ROCK
    cls[_forest(rng, n, k, cls)] = FOREST
    return cls.astype(np.int64)


def _grow(
    rng: np.random.Generator,
    sizes: np.ndarray,
    active: np.ndarray,
    k: int,
    roughness: float,
    elongation: float,
    blocked: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Regions of ``sizes`` ``(n, m)`` cells around random centres: ``(n, m, k, k)`` masks
    (inactive ones empty) and the centres ``(n, m, 2)``; ``blocked`` cells are never taken."""
    n, m = sizes.shape
    centres = rng.uniform(-0.5, k - 0.5, size=(n, m, 2))
    angle = rng.uniform(0, np.pi, size=(n, m, 1, 1))
    ratio = np.exp(rng.uniform(0, np.log(elongation), size=(n, m, 1, 1)))
    noise = smooth_field(rng, n * m, k, 1.0).reshape(n, m, k, k)
    dr = np.arange(k)[:, None] - centres[..., 0, None, None]
    dc = np.arange(k)[None, :] - centres[..., 1, None, None]
    u = dr * np.cos(angle) + dc * np.sin(angle)
    v = -dr * np.sin(angle) + dc * np.cos(angle)
    dist = np.sqrt((u / np.sqrt(ratio)) ** 2 + (v * np.sqrt(ratio)) ** 2)
    score = dist / np.sqrt(sizes / np.pi)[..., None, None] - roughness * noise
    if blocked is not None:
        score = np.where(blocked[:, None], np.inf, score)
    flat = score.reshape(n, m, k * k)
    ranks = np.empty(flat.shape, dtype=np.int64)
    np.put_along_axis(ranks, np.argsort(flat, axis=-1, kind="stable"), np.arange(k * k), axis=-1)
    inside = (ranks < sizes[..., None]) & active[..., None] & np.isfinite(flat)
    return inside.reshape(n, m, k, k), centres


def _lakes(rng: np.random.Generator, n: int, k: int, area: float) -> np.ndarray:
    """Lakes joined by channels (module doc): ``(n, k, k)`` bool."""
    per_map = np.maximum(1, np.rint(area * rng.choice((1, 2), size=n, p=(0.55, 0.45))))
    cap = int(per_map.max())
    cap = max(2, cap)
    counts = per_map.astype(np.int64)
    active = np.arange(cap)[None, :] < counts[:, None]
    total = rng.uniform(0.095, 0.185, size=(n, 1)) * k * k
    share = rng.uniform(0.6, 1.4, size=(n, cap)) * active
    sizes = np.maximum(1, np.rint(total * share / share.sum(axis=1, keepdims=True)))
    inside, centres = _grow(rng, sizes.astype(np.int64), active, k, 0.45, 2.0)
    water = inside.any(axis=1)
    start = np.clip(np.rint(centres[:, 0]), 0, k - 1).astype(np.int64)
    edge = _edge_points(rng, n, k)
    second = np.clip(np.rint(centres[:, 1]), 0, k - 1).astype(np.int64)
    two = counts >= 2
    river = ~two & (rng.random(n) < 0.35)
    goal = np.where(two[:, None], second, edge)
    wide = rng.random(n) < 0.3
    channel = _walk(rng, start, goal, k, wide)
    water |= channel & (two | river)[:, None, None]
    return water


def _edge_points(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    """A random cell on the border of each map: ``(n, 2)``."""
    side = rng.integers(0, 4, size=n)
    along = rng.integers(0, k, size=n)
    rows = np.select([side == 0, side == 1], [0, k - 1], along)
    cols = np.select([side == 2, side == 3], [0, k - 1], along)
    return np.stack([rows, cols], axis=1)


def _walk(
    rng: np.random.Generator, start: np.ndarray, goal: np.ndarray, k: int, wide: np.ndarray
) -> np.ndarray:
    """A 4-connected meandering path from ``start`` to ``goal`` per map (``(n, k, k)``
    bool): each step goes one cell toward the goal along a random axis (weighted by the
    distance left), or, one time in five, one cell sideways; ``wide`` maps also take the
    cell below or right of every step."""
    n = len(start)
    mask = np.zeros((n, k, k), dtype=bool)
    pos = start.copy()
    idx = np.arange(n)
    mask[idx, pos[:, 0], pos[:, 1]] = True
    for _ in range(4 * k):
        left = goal - pos
        todo = (left != 0).any(axis=1)
        if not todo.any():
            break
        dist = np.abs(left).sum(axis=1).clip(min=1)
        along_rows = rng.random(n) * dist < np.abs(left[:, 0])
        sideways = rng.random(n) < 0.2
        axis = np.where(along_rows, 0, 1)
        axis = np.where(sideways, 1 - axis, axis)
        toward = np.sign(left[idx, axis])
        sign = np.where(sideways | (toward == 0), rng.choice((-1, 1), size=n), toward)
        step = np.zeros((n, 2), dtype=np.int64)
        step[idx, axis] = sign
        pos = np.where(todo[:, None], np.clip(pos + step, 0, k - 1), pos)
        mask[idx, pos[:, 0], pos[:, 1]] = True
        side = np.clip(pos + np.where(axis[:, None] == 0, [0, 1], [1, 0]), 0, k - 1)
        mask[idx[wide], side[wide, 0], side[wide, 1]] = True
    return mask


def _outcrops(
    rng: np.random.Generator, n: int, k: int, area: float, blocked: np.ndarray
) -> np.ndarray:
    """Compact rock outcrops on dry land: ``(n, k, k)`` bool."""
    lam = 1.8 * area
    cap = max(1, int(math.ceil(lam + 3 * math.sqrt(lam))))
    counts = np.minimum(rng.poisson(lam, size=n), cap)
    active = np.arange(cap)[None, :] < counts[:, None]
    sizes = rng.integers(5, 14, size=(n, cap))
    inside, _ = _grow(rng, sizes, active, k, roughness=0.3, elongation=1.5, blocked=blocked)
    return inside.any(axis=1)


def _forest(rng: np.random.Generator, n: int, k: int, cls: np.ndarray) -> np.ndarray:
    """Clumps of trees on grass and dirt: ``(n, k, k)`` bool."""
    ground = (cls == GRASS) | (cls == DIRT)
    field = np.where(ground, smooth_field(rng, n, k, 1.5), -np.inf)
    forest = above_quantile(field, rng.uniform(0.05, 0.19, size=n)) & ground
    padded = np.pad(forest, [(0, 0), (1, 1), (1, 1)])
    neighbours = (
        padded[:, :-2, 1:-1] | padded[:, 2:, 1:-1] | padded[:, 1:-1, :-2] | padded[:, 1:-1, 2:]
    )
    return forest & neighbours
