"""A grid of Warcraft maps as a PNG: the maps, their shortest paths and their cost grids.

matplotlib (the ``lab`` extra) is imported inside :func:`save_preview` only, so the data
package imports without it.

Example::

    >>> from diffsolvers.datasets import generate_maps
    >>> maps, weights, paths = generate_maps(8, 12, seed=0)
    >>> save_preview(maps, "maps.png", paths, weights)  # doctest: +SKIP
    PosixPath('maps.png')

Reference: the figures of Vlastelica et al., ICLR 2020 (maps with their shortest paths).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

__all__ = ["save_preview"]


def save_preview(
    maps: np.ndarray,
    out_png: str | os.PathLike,
    paths: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    ncols: int = 4,
) -> Path:
    """Save a grid of maps (``(n, H, W, 3)`` uint8) as a PNG, with paths and costs if given.

    ``paths`` ``(n, k, k)`` are drawn as red dots on the maps, ``weights`` ``(n, k, k)`` as
    cost grids under them; ``ncols`` maps per row. Returns the PNG's path.

    Examples:
        >>> import pathlib, tempfile
        >>> from diffsolvers.datasets import generate_maps
        >>> maps, weights, paths = generate_maps(2, 12, seed=0)
        >>> with tempfile.TemporaryDirectory() as out:
        ...     png = save_preview(maps, pathlib.Path(out) / "maps.png", paths, weights)
        ...     print(png.name, png.read_bytes()[1:4])
        maps.png b'PNG'
    """
    from matplotlib.figure import Figure  # no pyplot: the caller's backend is left alone

    n = len(maps)
    rows = int(math.ceil(n / ncols)) * (2 if weights is not None else 1)
    fig = Figure(figsize=(3 * ncols, 3 * rows))
    axes = fig.subplots(rows, ncols, squeeze=False)
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
    return out_png
