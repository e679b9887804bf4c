r"""The generator's goals: a fingerprint against the real 12×12 Warcraft maps.

:data:`REAL` holds what is known of the real maps: the published channel statistics of
the whole 12×12 train split, and what was measured on real train maps (class shares from
400 cells of 25 maps, water 14-25% on whole maps; mean colour and mean within-tile
standard deviation of each class's 8 × 8 tiles; three maps' optimal-path counts).
:func:`goals` gives one pass/fail per goal, with the tolerances of :data:`TOLERANCE`:

* channel mean and std within 5% of the published values, every channel;
* per-class mean tile colour within 6 levels (0-255) per channel, mean within-tile std
  within 25% per channel;
* class shares within 5 points (water: of the range 14-20%);
* more than half of the water in bodies of at least 15 cells (4-connectivity);
* pixel maximum within 10 levels of 146.

:func:`format_report` prints them as a table, with the layout and label measures beside
what is known of the real maps.

Example::

    >>> from diffsolvers.datasets.warcraft_fingerprint import fingerprint_arrays
    >>> from diffsolvers.datasets.generator import generate_maps
    >>> rows = goals(fingerprint_arrays(*generate_maps(300, 12, seed=1)))
    >>> sum(r["pass"] for r in rows) == len(rows)
    True

Reference: Vlastelica et al., "Differentiation of Blackbox Combinatorial Solvers",
ICLR 2020 (data DOI 10.17617/3.YJCQ5S); measured values in ``docs/warcraft-data.md``.
"""

from __future__ import annotations

from typing import Any

from .generator.common import CLASS_NAMES
from .warcraft import PUBLISHED_MEAN, PUBLISHED_STD
from .warcraft_fingerprint import WATER_BODY_CELLS

__all__ = ["REAL", "TOLERANCE", "goals", "format_report"]

REAL: dict[str, Any] = {
    "channel_mean": list(PUBLISHED_MEAN),
    "channel_std": list(PUBLISHED_STD),
    "class_share": {
        "grass": 29.0,
        "dirt": 35.0,
        "forest": 14.0,
        "water": (14.0, 20.0),
        "rock": 9.0,
    },
    "tile_mean": {
        "grass": (50, 81, 10),
        "dirt": (103, 65, 7),
        "forest": (17, 80, 9),
        "water": (11, 53, 99),
        "rock": (74, 74, 73),
    },
    "tile_std": {
        "grass": (15, 7, 3),
        "dirt": (15, 6, 10),
        "forest": (16, 17, 8),
        "water": (12, 5, 21),
        "rock": (25, 26, 26),
    },
    "region": {
        "grass": "large background",
        "dirt": "large background",
        "forest": "clumps of trees",
        "water": "1-2 bodies, often 20-40",
        "rock": "outcrops of 5-13",
    },
    "water_in_large_bodies": "most",
    "pixel_max": 146,
    "optimal_paths": "22, 2816, 18 (three maps)",
}
"""The real 12×12 maps: published channel statistics (whole train split), and what was
measured on real train maps (class shares from 400 cells of 25 maps, water 14-25% on
whole maps; tile statistics per class; three maps' optimal-path counts)."""
TOLERANCE: dict[str, float] = {
    "channel": 0.05,
    "tile_mean": 6.0,
    "tile_std": 0.25,
    "class_share": 5.0,
    "water_in_large_bodies": 0.5,
    "pixel_max": 10.0,
}
"""Tolerances of the goals: relative for channel statistics and within-tile std, levels
(0-255) for tile colours, percentage points for class shares, levels for the maximum."""


def _check(goal: str, measured: Any, real: Any, tolerance: str, passed: bool) -> dict[str, Any]:
    return {
        "goal": goal,
        "measured": measured,
        "real": real,
        "tolerance": tolerance,
        "pass": passed,
    }


def goals(fp: dict[str, Any]) -> list[dict[str, Any]]:
    """One pass/fail per goal of the generator: ``fp`` against :data:`REAL` and
    :data:`TOLERANCE` (rows for classes absent from ``fp`` fail).

    Each row is a dict with keys ``goal``, ``measured``, ``real``, ``tolerance`` and
    ``pass``.

    Examples:
        >>> from diffsolvers.datasets.warcraft_fingerprint import fingerprint
        >>> rows = goals(fingerprint("datasets/warcraft_sample/12x12", n=10))
        >>> rows[0]["goal"], rows[0]["real"], rows[0]["tolerance"]
        ('channel mean R', 0.2411, '±5%')
    """
    rows = []
    rel = TOLERANCE["channel"]
    for key, what in (("channel_mean", "channel mean"), ("channel_std", "channel std")):
        for c, channel in enumerate("RGB"):
            got, want = fp[key][c], REAL[key][c]
            ok = abs(got - want) <= rel * want
            rows.append(_check(f"{what} {channel}", got, want, f"±{rel:.0%}", ok))
    for name in CLASS_NAMES:
        got = fp["class_share"][name]
        want = REAL["class_share"][name]
        lo, hi = want if isinstance(want, tuple) else (want, want)
        tol = TOLERANCE["class_share"]
        shown = f"{lo:g}-{hi:g}" if lo != hi else f"{lo:g}"
        rows.append(
            _check(f"{name} share %", got, shown, f"±{tol:g} points", lo - tol <= got <= hi + tol)
        )
    for name in CLASS_NAMES:
        got = fp["tile_mean"][name]
        want = REAL["tile_mean"][name]
        tol = TOLERANCE["tile_mean"]
        ok = got is not None and max(abs(a - b) for a, b in zip(got, want)) <= tol
        rows.append(_check(f"{name} tile mean RGB", got, list(want), f"±{tol:g} levels", ok))
    for name in CLASS_NAMES:
        got = fp["tile_std"][name]
        want = REAL["tile_std"][name]
        tol = TOLERANCE["tile_std"]
        ok = got is not None and all(abs(a - b) <= tol * b for a, b in zip(got, want))
        rows.append(_check(f"{name} within-tile std", got, list(want), f"±{tol:.0%}", ok))
    got = fp.get("water_in_large_bodies")
    tol = TOLERANCE["water_in_large_bodies"]
    rows.append(
        _check(
            f"water in bodies >= {WATER_BODY_CELLS} cells",
            got,
            REAL["water_in_large_bodies"],
            f"> {tol:.0%}",
            got is not None and got > tol,
        )
    )
    tol = TOLERANCE["pixel_max"]
    got = fp["pixel_max"]
    rows.append(
        _check(
            "pixel maximum",
            got,
            REAL["pixel_max"],
            f"±{tol:g}",
            abs(got - REAL["pixel_max"]) <= tol,
        )
    )
    return rows


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(_fmt(v) for v in value) + ")"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1 else f"{value:g}"
    return str(value)


def format_report(fp: dict[str, Any]) -> str:
    """The fingerprint as a readable table: the goals with pass/fail, then the layout and
    label measures beside what is known of the real maps.

    Examples:
        >>> from diffsolvers.datasets.warcraft_fingerprint import fingerprint
        >>> report = format_report(fingerprint("datasets/warcraft_sample/12x12", n=10))
        >>> print(report.splitlines()[0])
        Warcraft fingerprint: datasets/warcraft_sample/12x12 (train split, 10 maps, k=12)
    """
    rows = goals(fp)
    width = max(len(r["goal"]) for r in rows) + 2
    source = fp.get("source", {})
    lines = [
        f"Warcraft fingerprint: {source.get('folder') or 'in-memory maps'}"
        f" ({source.get('split') or '-'} split, {source.get('maps')} maps, k={source.get('k')})",
        "",
        f"{'goal':<{width}}{'measured':<26}{'real':<22}{'tolerance':<14}result",
    ]
    for r in rows:
        verdict = "pass" if r["pass"] else "FAIL"
        lines.append(
            f"{r['goal']:<{width}}{_fmt(r['measured']):<26}{_fmt(r['real']):<22}"
            f"{r['tolerance']:<14}{verdict}"
        )
    passed = sum(r["pass"] for r in rows)
    lines += [
        "",
        f"{passed} of {len(rows)} goals met",
        "",
        f"{'layout and labels':<{width}}{'measured':<26}real",
    ]
    for name in CLASS_NAMES:
        lines.append(
            f"{name + ' mean region size':<{width}}{_fmt(fp['region_mean_size'][name]):<26}"
            f"{REAL['region'][name]}"
        )
    for name in CLASS_NAMES:
        lines.append(
            f"{name + ' pixel step RGB':<{width}}{_fmt(fp['pixel_step'][name]):<26}not measured"
        )
    lines.append(f"{'water bodies per map':<{width}}{_fmt(fp.get('water_bodies_per_map')):<26}1-2")
    if "path_length" in fp:
        pl = fp["path_length"]
        lines.append(
            f"{'path length min/median/max':<{width}}{pl['min']} / {pl['median']:g} / {pl['max']}"
        )
    if "optimal_paths" in fp:
        op = fp["optimal_paths"]
        counts = f"{op['median']:g} / {op['p90']:g} / {op['max']:g}"
        lines.append(f"{'maps with one optimal path':<{width}}{op['unique_share']:.1%}")
        lines.append(
            f"{'optimal paths median/p90/max':<{width}}{counts:<26}{REAL['optimal_paths']}"
        )
    if fp.get("unknown_cost_share"):
        lines.append(f"cells whose cost is no class cost: {fp['unknown_cost_share']}%")
    return "\n".join(lines)
