"""Timing helpers shared by the benchmark scripts (not part of the library)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

CLOCKS = {"wall": time.perf_counter, "CPU": time.process_time}
"""The clocks of a paired measurement: wall time, and the CPU time of the process (all its
threads; the steadier figure when other work shares the cores)."""


def best_time(fn: Callable[[], object], repeat: int = 5, min_time: float = 0.05) -> float:
    """Best-of-``repeat`` seconds per call of ``fn``, each measurement looping >= ``min_time``."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        n, start = 0, time.perf_counter()
        while True:
            fn()
            n += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_time:
                break
        best = min(best, elapsed / n)
    return best


def print_paired(
    times: dict[tuple[str, str], list[float]], numerator: str, denominator: str, digits: int = 2
) -> None:
    """For each of :data:`CLOCKS`, the median ms per call of two variants measured in the
    same rounds (``times[clock, variant]``: seconds per call, one entry per round) and the
    median of the per-round ratios ``numerator / denominator``, with their range."""
    for clock in CLOCKS:
        top, bottom = times[clock, numerator], times[clock, denominator]
        ratios = [a / b for a, b in zip(top, bottom)]
        print(
            f"  {clock:>4}: {numerator} {1e3 * statistics.median(top):.2f} ms, {denominator} "
            f"{1e3 * statistics.median(bottom):.2f} ms; {numerator} / {denominator} "
            f"{statistics.median(ratios):.{digits}f} (per-round range "
            f"{min(ratios):.{digits}f} to {max(ratios):.{digits}f})"
        )


def numba_note() -> str:
    """The solver runtime's budget, Numba's threading layer and the kernel calls so far
    (serial / parallel): the context of any figure with threads in it."""
    import numba

    from solvers import runtime

    try:
        layer = numba.threading_layer()
    except ValueError:  # no parallel call yet
        layer = "not started"
    counts = runtime.stats()
    return (
        f"Numba: budget {runtime.budget()} threads, threading layer {layer}; kernel calls "
        f"serial {counts['serial']}, parallel {counts['parallel']} (the runtime picks one "
        "thread when other processes keep the cores busy)"
    )


def print_table(title: str, header: list[str], rows: list[list[object]]) -> None:
    """Print a plain aligned table."""
    cells = [[str(c) for c in header]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    print(f"\n## {title}\n")
    for k, row in enumerate(cells):
        print("  ".join(c.rjust(w) if k else c.ljust(w) for c, w in zip(row, widths)))
        if k == 0:
            print("  ".join("-" * w for w in widths))


def _fmt(value: object) -> str:
    if isinstance(value, float):
        if value >= 100:
            return f"{value:,.0f}"
        if value >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    return str(value)
