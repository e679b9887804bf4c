"""The ``inspect warcraft DATA`` command: the fingerprint of a Warcraft folder, real or
generated, against the measured real maps (:mod:`diffsolvers.datasets.warcraft_goals`).

    diffsolvers inspect warcraft /data/warcraft_shortest_path_oneskin --n 2000 --out fp/
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .cli_args import positive_int

__all__ = ["add_inspect", "run_inspect"]


def _grid_size(text: str) -> int:
    value = positive_int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"must be a grid size of at least 2, got {text!r}")
    return value


def add_inspect(sub: argparse._SubParsersAction) -> None:
    """Add the ``inspect warcraft`` subcommand to the CLI's subparsers ``sub``."""
    inspect = sub.add_parser(
        "inspect", help="fingerprint of a Warcraft folder, real or generated, against the real maps"
    )
    inspect_sub = inspect.add_subparsers(dest="task", required=True)
    iw = inspect_sub.add_parser("warcraft", help="Warcraft shortest-path maps")
    iw.add_argument(
        "data", help="a Warcraft root (…/warcraft_shortest_path_oneskin) or size folder"
    )
    iw.add_argument(
        "--k", type=_grid_size, default=None, help="grid size (default: from the folder, else 12)"
    )
    iw.add_argument("--split", default="train", choices=("train", "val", "test"))
    iw.add_argument(
        "--n", type=positive_int, default=2000, help="first N maps of the split (all if fewer)"
    )
    iw.add_argument(
        "--out",
        default=None,
        help="folder for fingerprint.json and samples.png (default: runs/inspect/<folder>-<split>)",
    )


def run_inspect(args: argparse.Namespace) -> int:
    """Print the fingerprint table of ``args.data``; write its JSON and a figure of samples."""
    from ..datasets.warcraft_fingerprint import fingerprint, save_sample_figure
    from ..datasets.warcraft_goals import format_report, goals

    fp = fingerprint(args.data, k=args.k, split=args.split, n=args.n)
    folder = Path(fp["source"]["folder"])
    out = Path(args.out or Path("runs") / "inspect" / f"{folder.name}-{args.split}")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"--out {out}: cannot make this folder ({exc.strerror})") from exc
    print(format_report(fp))
    (out / "fingerprint.json").write_text(json.dumps({**fp, "goals": goals(fp)}, indent=2) + "\n")
    print(f"\nwrote {out / 'fingerprint.json'}")
    try:
        png = save_sample_figure(folder, out / "samples.png", k=fp["source"]["k"], split=args.split)
        print(f"wrote {png}")
    except ImportError:
        print("no samples.png: matplotlib is not installed (pip install 'diffsolvers[lab]')")
    return 0
