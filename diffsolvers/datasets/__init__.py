"""Data sets: the Warcraft shortest-path maps (real on-disk format, a generator, a fingerprint).

* :class:`WarcraftShortestPath` reads the published Warcraft data (Vlastelica et al.,
  ICLR 2020) or generated data in the same format;
* :func:`generate_warcraft` / :func:`ensure_warcraft_data` write such data procedurally
  (:mod:`diffsolvers.datasets.generator`; ``format=3`` by default, ``format=2`` for the
  earlier maps);
* :func:`fingerprint` measures any Warcraft folder, real or generated, and
  :func:`goals` / :func:`format_report` set it beside the real maps.

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

# imported lazily (scipy.ndimage, the solvers), and so that
# `python -m diffsolvers.datasets.warcraft_generator` runs cleanly
_LAZY = {
    "CLASS_COSTS": "generator",
    "CLASS_NAMES": "generator",
    "FORMATS": "generator",
    "FORMAT_VERSION": "generator",
    "default_data_root": "generator",
    "ensure_warcraft_data": "generator",
    "existing_warcraft_data": "generator",
    "generate_maps": "generator",
    "generate_warcraft": "generator",
    "fingerprint": "warcraft_fingerprint",
    "fingerprint_arrays": "warcraft_fingerprint",
    "save_sample_figure": "warcraft_fingerprint",
    "REAL": "warcraft_goals",
    "goals": "warcraft_goals",
    "format_report": "warcraft_goals",
    "save_preview": "preview",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "PUBLISHED_MEAN",
    "PUBLISHED_STD",
    "SYNTHETIC_PROBLEMS",
    "SyntheticProblem",
    "WarcraftDataError",
    "WarcraftShortestPath",
    "find_size_folder",
    "load_split",
    "make_synthetic",
    "read_info",
    "train_channel_stats",
    *_LAZY,
]
