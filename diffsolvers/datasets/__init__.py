"""Data sets: the Warcraft shortest-path maps (real on-disk format and a generator).

* :class:`WarcraftShortestPath` reads the published Warcraft data (Vlastelica et al.,
  ICLR 2020) or generated data in the same format;
* :func:`generate_warcraft` / :func:`ensure_warcraft_data` write such data procedurally.

* :func:`make_synthetic` draws the synthetic contextual problems of
  :mod:`diffsolvers.datasets.synthetic` (PyEPO-style features and costs).
"""

from .synthetic import SYNTHETIC_PROBLEMS, SyntheticProblem, make_synthetic
from .warcraft import (
    PUBLISHED_MEAN,
    PUBLISHED_STD,
    WarcraftDataError,
    WarcraftShortestPath,
    find_size_folder,
    load_split,
    read_info,
    train_channel_stats,
)

_GENERATOR_NAMES = (
    "CLASS_COSTS",
    "CLASS_NAMES",
    "default_data_root",
    "ensure_warcraft_data",
    "generate_maps",
    "generate_warcraft",
)


def __getattr__(name: str):
    # imported lazily, so that `python -m diffsolvers.datasets.warcraft_generator` runs cleanly
    if name in _GENERATOR_NAMES:
        from . import warcraft_generator

        return getattr(warcraft_generator, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CLASS_COSTS",
    "CLASS_NAMES",
    "PUBLISHED_MEAN",
    "PUBLISHED_STD",
    "SYNTHETIC_PROBLEMS",
    "SyntheticProblem",
    "WarcraftDataError",
    "WarcraftShortestPath",
    "default_data_root",
    "ensure_warcraft_data",
    "find_size_folder",
    "generate_maps",
    "generate_warcraft",
    "load_split",
    "make_synthetic",
    "read_info",
    "train_channel_stats",
]
