"""Procedural Warcraft-style terrain maps, written in the exact on-disk format of the real data.

The real Warcraft shortest-path data (Vlastelica et al., "Differentiation of Blackbox
Combinatorial Solvers", ICLR 2020; data DOI 10.17617/3.YJCQ5S) cannot be redistributed
here, so this package draws maps of the same kind from scratch (no game art is used) and
stores them with the same file names, shapes and dtypes, so that
:class:`~diffsolvers.datasets.warcraft.WarcraftShortestPath` reads both the same way.

Modules, one job each:

* :mod:`.common`: the terrain classes and costs, the map geometry, smooth random fields;
* :mod:`.layout` and :mod:`.tiles`: format 3 (the default), the cell layout and the
  tileset it is drawn with, fitted to the measured fingerprint of the real maps;
* :mod:`.format2`: format 2, kept byte for byte so that earlier results can be made again;
* :mod:`.writing`: chunked random streams, labels, files (:func:`generate_maps`,
  :func:`generate_warcraft`);
* :mod:`.storage`: default folders per format and reuse rules (:func:`ensure_warcraft_data`).

Example::

    >>> from diffsolvers.datasets.generator import generate_maps
    >>> maps, weights, paths = generate_maps(4, k=12, seed=0)          # format 3
    >>> old = generate_maps(4, k=12, seed=0, format=2)[0]              # format 2
    >>> maps.shape == old.shape == (4, 96, 96, 3)
    True

See ``docs/warcraft-data.md`` for both formats and their fingerprints against the real maps.
"""

from .common import CLASS_COSTS, CLASS_NAMES, PIXELS_PER_CELL, SIZES
from .format2 import CLASS_MEAN_RGB
from .storage import (
    default_data_root,
    default_format,
    ensure_warcraft_data,
    existing_warcraft_data,
    folder_format,
)
from .writing import (
    FORMAT_VERSION,
    FORMATS,
    check_format,
    generate_maps,
    generate_warcraft,
    remove_stale_temporaries,
)

__all__ = [
    "CLASS_NAMES",
    "CLASS_COSTS",
    "CLASS_MEAN_RGB",
    "PIXELS_PER_CELL",
    "SIZES",
    "FORMATS",
    "FORMAT_VERSION",
    "check_format",
    "generate_maps",
    "generate_warcraft",
    "remove_stale_temporaries",
    "default_data_root",
    "default_format",
    "ensure_warcraft_data",
    "existing_warcraft_data",
    "folder_format",
]
