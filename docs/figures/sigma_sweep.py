"""Test accuracy of Fenchel-Young Warcraft runs against their perturbation size σ.

Rebuilds ``warcraft12_fenchel_young_sigma.png`` from finished ``diffsolvers train warcraft``
runs (their ``config.json`` and ``metrics.json``)::

    python docs/figures/sigma_sweep.py runs/fy12_aug_sigma0001 runs/fy12_aug_sigma001 \
        --reference runs/blackbox_aug --out docs/figures/warcraft12_fenchel_young_sigma.png

(the README gives the command with every run of its figure).

Each FY run is one point (σ from its configuration, test and best validation share of
paths with optimal cost); ``--reference`` runs of other methods are drawn as horizontal lines.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def _load(folder: Path) -> tuple[dict, dict]:
    for name in ("config.json", "metrics.json"):
        if not (folder / name).is_file():
            raise SystemExit(f"{folder}: no {name} (not a run folder, or not started)")
    config = json.loads((folder / "config.json").read_text())
    metrics = json.loads((folder / "metrics.json").read_text())
    if "test" not in metrics:
        raise SystemExit(f"{folder}: no test metrics (the run has not finished)")
    return config, metrics


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="finished fenchel_young runs")
    parser.add_argument("--reference", nargs="*", type=Path, default=[], help="other runs")
    parser.add_argument("--out", type=Path, default=Path("warcraft12_fenchel_young_sigma.png"))
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = []
    for folder in args.runs:
        config, metrics = _load(folder)
        if config["method"] != "fenchel_young":
            raise SystemExit(f"{folder}: method {config['method']!r}, not fenchel_young")
        best_val = max(row["val_optimal"] for row in metrics["history"])
        sigma = config["method_options"]["sigma"]
        points.append((sigma, config["seed"], 100 * metrics["test"]["optimal"], 100 * best_val))
    points.sort()

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for i, seed in enumerate(sorted({p[1] for p in points})):
        mine = [p for p in points if p[1] == seed]
        sigmas = [p[0] for p in mine]
        ax.plot(sigmas, [p[2] for p in mine], "o-", color=f"C{i}", label=f"FY test, seed {seed}")
        ax.plot(
            sigmas, [p[3] for p in mine], "x:", color=f"C{i}", label=f"FY best val., seed {seed}"
        )
    for folder in args.reference:
        config, metrics = _load(folder)
        ax.axhline(100 * metrics["test"]["optimal"], ls="--", color="grey")
        ax.annotate(
            f"{config['method']} test",
            (points[0][0], 100 * metrics["test"]["optimal"]),
            textcoords="offset points",
            xytext=(0, 3),
            fontsize=8,
            color="grey",
        )
    ax.axhline(95.0, ls="-", lw=0.6, color="red")
    ax.set_xscale("log")
    ax.set_xlabel("perturbation size σ (Normal, additive, M = 3)")
    ax.set_ylabel("paths with optimal cost (%)")
    ax.set_title("Warcraft 12×12, --augment, 50 epochs")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    print(f"wrote {args.out}")
    for sigma, seed, test, val in points:
        print(f"sigma {sigma:g} seed {seed}: test {test:.1f}%, best validation {val:.1f}%")


if __name__ == "__main__":
    main()
