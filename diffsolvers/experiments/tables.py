"""Plain-text tables of the lab's results: mean ± sd cells, aligned Markdown-style tables.

Example::

    >>> print(format_table(["method", "optimal %"], [["blackbox", format_mean_sd([0.9, 0.92])]]))
    | method   | optimal %  |
    |----------|------------|
    | blackbox | 91.0 ± 1.4 |
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .cost_profile import class_label, profile_cells, profile_levels, true_ratio_cells

__all__ = ["mean_sd", "format_mean_sd", "format_table", "profile_table"]


def mean_sd(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value; NaN for none)."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        return float("nan"), float("nan")
    return float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else 0.0


def format_mean_sd(values: Sequence[float], scale: float = 100.0, digits: int = 1) -> str:
    """``"mean ± sd"`` of ``values`` times ``scale`` (percentages by default)."""
    m, s = mean_sd(values)
    return f"{scale * m:.{digits}f} ± {scale * s:.{digits}f}"


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain aligned text table (Markdown-compatible)."""
    cells = [list(header)] + [list(r) for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(cells[0], widths)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells[1:]:
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |")
    return "\n".join(lines)


def profile_table(profiles: dict[str, dict[str, list[float]] | None]) -> str | None:
    """Methods × terrain classes table of cost profiles (:mod:`.cost_profile`), with the
    true ratios as a last row, or ``None`` if any profile is missing."""
    if not profiles or any(p is None for p in profiles.values()):
        return None
    levels = profile_levels(list(profiles.values()))
    rows = [[method, *profile_cells(p, levels)] for method, p in profiles.items()]
    rows.append(["true costs", *true_ratio_cells(levels)])
    return format_table(["method", *(class_label(c) for c in levels)], rows)
