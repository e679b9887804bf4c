"""The Warcraft map generator under its first name, and its command line.

The generator lives in :mod:`diffsolvers.datasets.generator` (one module per job); this
module keeps the names it always had importable from here and runs as a script::

    python -m diffsolvers.datasets.warcraft_generator --k 12 --seed 0 [--format 2]

writes ``datasets/generated/format3/warcraft_shortest_path_oneskin/12x12`` (format 2:
``datasets/generated/warcraft_shortest_path_oneskin/12x12``; see ``--help``).

Example::

    >>> from diffsolvers.datasets.warcraft_generator import generate_maps
    >>> generate_maps(2, 12, seed=0)[0].shape
    (2, 96, 96, 3)

Reference: Vlastelica et al., "Differentiation of Blackbox Combinatorial Solvers",
ICLR 2020 (data DOI 10.17617/3.YJCQ5S).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from .generator import (
    CLASS_COSTS,
    CLASS_MEAN_RGB,
    CLASS_NAMES,
    FORMAT_VERSION,
    FORMATS,
    SIZES,
    default_data_root,
    ensure_warcraft_data,
    existing_warcraft_data,
    generate_maps,
    generate_warcraft,
)
from .preview import save_preview

__all__ = [
    "CLASS_NAMES",
    "CLASS_COSTS",
    "CLASS_MEAN_RGB",
    "FORMATS",
    "FORMAT_VERSION",
    "SIZES",
    "generate_warcraft",
    "generate_maps",
    "ensure_warcraft_data",
    "existing_warcraft_data",
    "default_data_root",
    "save_preview",
    "main",
]


def main(argv: Sequence[str] | None = None) -> Path:
    """Command line: ``python -m diffsolvers.datasets.warcraft_generator --k 12 --out DIR``.

    ``argv`` defaults to the process's arguments (``--help`` lists them). Writes the data
    set with :func:`~.generator.generate_warcraft` under ``--out`` (default:
    :func:`~.generator.default_data_root` of ``--format``), prints its folder and returns it.

    Examples:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as out:
        ...     folder = main(["--out", out, "--n-train", "4", "--n-val", "2", "--n-test", "2",
        ...                    "--quiet"])
        ...     print(folder.name, len(list(folder.glob("*.npy"))))
        /.../12x12
        12x12 9
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--k", type=int, default=12, help="grid size (12, 18, 24, 30 in the real data)"
    )
    parser.add_argument("--out", default=None, help="top folder (default: datasets/generated/...)")
    parser.add_argument("--n-train", type=int, default=10_000)
    parser.add_argument("--n-val", type=int, default=1_000)
    parser.add_argument("--n-test", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--format",
        type=int,
        default=FORMAT_VERSION,
        choices=FORMATS,
        help=f"generator format (default {FORMAT_VERSION}; 2 remakes the earlier data)",
    )
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--preview", default=None, help="also save a PNG of 8 training maps")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    out = default_data_root(args.format) if args.out is None else Path(args.out)
    folder = generate_warcraft(
        out,
        args.k,
        args.n_train,
        args.n_val,
        args.n_test,
        seed=args.seed,
        progress=not args.quiet,
        overwrite=args.overwrite,
        format=args.format,
    )
    if args.preview:
        maps, weights, paths = generate_maps(8, args.k, args.seed, format=args.format)
        save_preview(maps, args.preview, paths, weights)
    print(folder)
    return folder


if __name__ == "__main__":
    main()
