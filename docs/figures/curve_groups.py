"""Validation curves of groups of Warcraft runs, one line (mean over its runs) per group.

Rebuilds ``warcraft12_ties.png`` from finished ``diffsolvers train warcraft`` runs (their
``metrics.json``)::

    python docs/figures/curve_groups.py \
        "FY, stored labels=runs/compare_warcraft12_lit/fenchel_young/seed0" \
        "FY, random ties=runs/compare_warcraft12_ties/fenchel_young/seed0" \
        --out docs/figures/warcraft12_ties.png

(the README gives the command with every run of its figure). A group is ``LABEL=RUN[,RUN]``
(split at the last ``=``); groups with more than one run get a band of ± one sd over their
runs; groups whose labels agree up to the first comma share a colour, and a label that
says "stored" is dashed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from diffsolvers.experiments.plots import validation_curve


def _history(folder: Path) -> list[dict]:
    path = folder / "metrics.json"
    if not path.is_file():
        raise SystemExit(f"{folder}: no metrics.json (not a finished run)")
    history = json.loads(path.read_text()).get("history") or []
    if not history:
        raise SystemExit(f"{folder}: no validation history")
    return history


def _group(text: str) -> tuple[str, list[Path]]:
    label, sep, runs = text.rpartition("=")
    if not sep or not label or not runs:
        raise SystemExit(f"not LABEL=RUN[,RUN]: {text!r}")
    return label, [Path(r) for r in runs.split(",") if r]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("groups", nargs="+", type=_group, help="LABEL=RUN[,RUN...]")
    parser.add_argument("--out", type=Path, default=Path("warcraft12_ties.png"))
    parser.add_argument("--title", default="Warcraft 12×12: validation curves")
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    colours: dict[str, str] = {}
    for label, runs in args.groups:
        epochs, mean, sd = validation_curve([_history(run) for run in runs])
        family = label.split(",")[0]
        style = "--" if "stored" in label else "-"
        (line,) = ax.plot(
            epochs, mean, style, color=colours.get(family), label=f"{label} ({len(runs)})"
        )
        colours.setdefault(family, line.get_color())
        if sd is not None:
            ax.fill_between(epochs, mean - sd, mean + sd, alpha=0.15, color=line.get_color())
    ax.set(xlabel="epoch", ylabel="validation paths with optimal cost (%)", title=args.title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, title="(number of seeds)", title_fontsize=8)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    plt.close(fig)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
