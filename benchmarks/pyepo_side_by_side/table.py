"""The results CSV as Markdown tables and a figure (regret against degree, both libraries).

Per (problem, training size, noise, degree, method): each library's normalised test regret,
mean ± sd over seeds (in %), the difference diffsolvers − PyEPO paired by seed (same data),
each library's mean training time and their ratio: processor time of the training loop
(robust to other work on a shared machine) and wall-clock time. A cell's regrets are called *within
noise* when ``|mean_ours − mean_pyepo| ≤ 2·√((sd_ours² + sd_pyepo²)/k)`` over ``k >= 2``
seeds (two standard errors of the difference of two independent means).

A results page keeps its prose: :func:`replace_between_markers` rewrites only the text
between ``<!-- tables:begin -->`` and ``<!-- tables:end -->``.
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .methods import ALL_METHODS, DIAGNOSTICS
from .problems import PROBLEMS

__all__ = [
    "Summary",
    "load_rows",
    "summarise",
    "markdown",
    "plot_regret_vs_degree",
    "replace_between_markers",
    "BEGIN",
    "END",
]

BEGIN, END = "<!-- tables:begin -->", "<!-- tables:end -->"


@dataclass
class Summary:
    """One (problem, size, noise, degree, method) with both sides' results by seed."""

    problem: str
    n_train: int
    noise: float
    deg: int
    method: str
    ours_solver: str | None
    regret: dict[str, dict[int, float]] = field(default_factory=lambda: defaultdict(dict))
    seconds: dict[str, dict[int, float]] = field(default_factory=lambda: defaultdict(dict))
    cpu: dict[str, dict[int, float]] = field(default_factory=lambda: defaultdict(dict))

    def stats(self, side: str) -> tuple[float, float, int]:
        """Mean and sd (ddof 1; 0 for one seed) of the regret of ``side``, and the count."""
        values = list(self.regret.get(side, {}).values())
        if not values:
            return math.nan, math.nan, 0
        sd = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
        return float(np.mean(values)), sd, len(values)

    def paired(self) -> tuple[float, float, int]:
        """Mean and sd of ours − PyEPO over the seeds both sides ran."""
        ours, theirs = self.regret.get("ours", {}), self.regret.get("pyepo", {})
        seeds = sorted(set(ours) & set(theirs))
        diffs = [ours[s] - theirs[s] for s in seeds]
        if not diffs:
            return math.nan, math.nan, 0
        sd = float(np.std(diffs, ddof=1)) if len(diffs) > 1 else 0.0
        return float(np.mean(diffs)), sd, len(diffs)

    def within_noise(self) -> bool | None:
        """See the module docstring; ``None`` without two seeds on each side."""
        mo, so, ko = self.stats("ours")
        mp, sp, kp = self.stats("pyepo")
        k = min(ko, kp)
        if k < 2:
            return None
        return abs(mo - mp) <= 2.0 * math.sqrt((so**2 + sp**2) / k) + 1e-12

    def mean_seconds(self, side: str, clock: str = "cpu") -> float:
        """Mean training time of ``side`` over seeds: ``clock`` ``"cpu"`` or ``"wall"``."""
        values = list((self.cpu if clock == "cpu" else self.seconds).get(side, {}).values())
        return float(np.mean(values)) if values else math.nan

    def time_ratio(self, clock: str = "cpu") -> float:
        """PyEPO's mean training time over diffsolvers' (NaN unless both ran)."""
        ours, theirs = self.mean_seconds("ours", clock), self.mean_seconds("pyepo", clock)
        if math.isnan(ours) or math.isnan(theirs) or ours <= 0:
            return math.nan
        return theirs / ours


def load_rows(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a results CSV with numbers parsed."""
    with Path(path).open(newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        for k in ("deg", "n_train", "seed", "epochs"):
            r[k] = int(r[k])
        for k in ("noise", "regret", "regret_common", "train_seconds", "train_cpu_seconds"):
            r[k] = float(r[k])
    return rows


def summarise(rows: list[dict[str, Any]]) -> list[Summary]:
    """Group rows by (problem, diffsolvers solver, size, noise, degree, method).

    PyEPO's rows join every diffsolvers solver's group of their problem (a problem run with
    two diffsolvers solvers, e.g. ``lp`` and a dedicated one, gives two groups)."""
    ours_solvers: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        if r["side"] == "ours":
            ours_solvers[r["problem"]].add(r["solver"])
    groups: dict[tuple, Summary] = {}
    for r in rows:
        names = [r["solver"]] if r["side"] == "ours" else sorted(ours_solvers[r["problem"]])
        for solver in names or [None]:
            key = (r["problem"], solver, r["n_train"], r["noise"], r["deg"], r["method"])
            if key not in groups:
                groups[key] = Summary(*key[:1], *key[2:], ours_solver=solver)
            groups[key].regret[r["side"]][r["seed"]] = r["regret"]
            groups[key].seconds[r["side"]][r["seed"]] = r["train_seconds"]
            groups[key].cpu[r["side"]][r["seed"]] = r["train_cpu_seconds"]
    order = {m: i for i, m in enumerate(ALL_METHODS)}
    problems = {p: i for i, p in enumerate(PROBLEMS)}
    return sorted(
        groups.values(),
        key=lambda s: (
            problems.get(s.problem, 99),
            s.problem,
            s.ours_solver or "",
            s.n_train,
            s.noise,
            s.deg,
            order.get(s.method, 99),
        ),
    )


def _pm(mean: float, sd: float, k: int, scale: float = 100.0) -> str:
    if k == 0:
        return "—"
    return f"{scale * mean:.2f} ± {scale * sd:.2f}" if k > 1 else f"{scale * mean:.2f}"


def _seconds(s: float) -> str:
    return "—" if math.isnan(s) else f"{s:.2f}" if s < 10 else f"{s:.1f}"


def _ratio(r: float) -> str:
    if math.isnan(r):
        return "—"
    return f"{r:.1f}×" if r >= 1 else f"{r:.2f}×"


def _detail_table(items: list[Summary]) -> str:
    head = (
        "| n | noise | deg | method | diffsolvers regret % | PyEPO regret % | paired Δ % "
        "| seeds | within noise | diffsolvers CPU s | PyEPO CPU s | time ratio CPU "
        "| time ratio wall |\n"
        "|---:|---:|---:|---|---:|---:|---:|---:|:---:|---:|---:|---:|---:|\n"
    )
    lines = []
    for s in items:
        mo, so, ko = s.stats("ours")
        mp, sp, kp = s.stats("pyepo")
        md, sd, kd = s.paired()
        verdict = {True: "yes", False: "**no**", None: "—"}[s.within_noise()]
        delta = "—" if kd == 0 else f"{100 * md:+.2f}" + (f" ± {100 * sd:.2f}" if kd > 1 else "")
        lines.append(
            f"| {s.n_train} | {s.noise:g} | {s.deg} | {s.method} | {_pm(mo, so, ko)} "
            f"| {_pm(mp, sp, kp)} | {delta} | {max(ko, kp)} | {verdict} "
            f"| {_seconds(s.mean_seconds('ours'))} | {_seconds(s.mean_seconds('pyepo'))} "
            f"| {_ratio(s.time_ratio('cpu'))} | {_ratio(s.time_ratio('wall'))} |"
        )
    return head + "\n".join(lines) + "\n"


def _method_table(items: list[Summary]) -> str:
    """Per method over the cells both sides ran (out of the cells either ran): mean
    regrets, cells within noise, time ratios."""
    head = (
        "| method | cells both ran (of) | diffsolvers mean regret % | PyEPO mean regret % "
        "| within noise "
        "| time ratio PyEPO / diffsolvers (CPU), geometric mean [min, max] | same (wall) |\n"
        "|---|---:|---:|---:|---:|---|---|\n"
    )
    by_method: dict[str, list[Summary]] = defaultdict(list)
    for s in items:
        if s.method not in DIAGNOSTICS:  # shown in their own table
            by_method[s.method].append(s)
    lines = []
    order = {m: i for i, m in enumerate(ALL_METHODS)}
    for method in sorted(by_method, key=lambda m: order.get(m, 99)):
        group = by_method[method]
        both = [s for s in group if s.stats("ours")[2] and s.stats("pyepo")[2]]
        ours = [s.stats("ours")[0] for s in both]
        theirs = [s.stats("pyepo")[0] for s in both]
        verdicts = [v for v in (s.within_noise() for s in group) if v is not None]
        ratio, wall = _geometric(group, "cpu"), _geometric(group, "wall")
        lines.append(
            f"| {method} | {len(both)} ({len(group)}) "
            f"| {'—' if not ours else f'{100 * np.mean(ours):.2f}'} "
            f"| {'—' if not theirs else f'{100 * np.mean(theirs):.2f}'} "
            f"| {f'{sum(verdicts)} / {len(verdicts)}' if verdicts else '—'} | {ratio} | {wall} |"
        )
    return head + "\n".join(lines) + "\n"


def _diagnostic_table(items: list[Summary]) -> str:
    """For each cell with a diagnostic run (``<method>_exact_optimum``): PyEPO's method
    against its stored optimum, against the exact one, and diffsolvers' method."""
    by_key = {(s.n_train, s.noise, s.deg, s.method): s for s in items}
    lines = []
    for s in items:
        if s.method not in DIAGNOSTICS or not s.stats("pyepo")[2]:
            continue
        base = by_key.get((s.n_train, s.noise, s.deg, s.method.removesuffix("_exact_optimum")))
        if base is None:
            continue
        lines.append(
            f"| {s.n_train} | {s.noise:g} | {s.deg} | {base.method} "
            f"| {_pm(*base.stats('pyepo'))} | {_pm(*s.stats('pyepo'))} "
            f"| {_pm(*base.stats('ours'))} |"
        )
    if not lines:
        return ""
    head = (
        "| n | noise | deg | method | PyEPO, stored optimum z | PyEPO, optimum ⟨c, w⟩ "
        "| diffsolvers |\n|---:|---:|---:|---|---:|---:|---:|\n"
    )
    return head + "\n".join(lines) + "\n"


def _geometric(group: list[Summary], clock: str) -> str:
    """Geometric mean [min, max] of the time ratios of the cells both sides ran."""
    ratios = [r for r in (s.time_ratio(clock) for s in group) if not math.isnan(r) and r > 0]
    if not ratios:
        return "—"
    mean = math.exp(float(np.mean(np.log(ratios))))
    return f"{_ratio(mean)} [{_ratio(min(ratios))[:-1]}, {_ratio(max(ratios))[:-1]}]"


def sections(summaries: list[Summary]) -> dict[tuple[str, str | None], list[Summary]]:
    """Summaries grouped by (problem, diffsolvers solver)."""
    out: dict[tuple[str, str | None], list[Summary]] = defaultdict(list)
    for s in summaries:
        out[s.problem, s.ours_solver].append(s)
    return out


def markdown(
    summaries: list[Summary], figures: dict[tuple[str, str | None], str] | None = None
) -> str:
    """The Markdown of every section: a per-method summary, a figure, and the detailed table
    in a collapsed block (``pymdownx.details``)."""
    parts = []
    for (problem, solver), items in sections(summaries).items():
        theirs = "PyEPO OR-Tools " + ("GLOP" if problem == "shortest_path" else "SCIP")
        name = PROBLEMS[problem].description if problem in PROBLEMS else problem
        ours = f"diffsolvers `{solver}`" if solver else "diffsolvers not run"
        parts.append(f"### {problem.replace('_', ' ')} ({name}): {ours}, {theirs}\n")
        parts.append(_method_table(items))
        if figures and (problem, solver) in figures:
            parts.append(f"![{problem}: regret against degree]({figures[problem, solver]})\n")
        diagnostic = _diagnostic_table(items)
        if diagnostic:
            parts.append(
                "PyEPO's DBB and DPO against the optimum it stores and against the optimum "
                "recomputed in the precision of the prediction's objective (normalised test "
                "regret %, mean ± sd over seeds; see below):\n"
            )
            parts.append(diagnostic)
        detail = _detail_table(items).rstrip("\n").replace("\n", "\n    ")
        parts.append(f'??? note "Every cell: {problem.replace("_", " ")}"\n\n    {detail}\n')
    return "\n".join(parts)


def plot_regret_vs_degree(items: list[Summary], path: str | Path, title: str) -> None:
    """Rows: (size, noise); columns: methods (not the diagnostics); diffsolvers solid, PyEPO
    dashed, ± sd."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = {m: i for i, m in enumerate(ALL_METHODS)}
    items = [s for s in items if s.method not in DIAGNOSTICS]
    methods = sorted({s.method for s in items}, key=lambda m: order.get(m, 99))
    panels = sorted({(s.n_train, s.noise) for s in items})
    fig, axes = plt.subplots(
        len(panels),
        len(methods),
        figsize=(2.3 * len(methods) + 0.5, 2.0 * len(panels) + 0.6),
        sharex=True,
        squeeze=False,
    )
    for i, (n, noise) in enumerate(panels):
        for j, method in enumerate(methods):
            ax = axes[i][j]
            cell = sorted(
                (s for s in items if (s.n_train, s.noise, s.method) == (n, noise, method)),
                key=lambda s: s.deg,
            )
            for side, style, color, label in (
                ("ours", "-", "C0", "diffsolvers"),
                ("pyepo", "--", "C1", "PyEPO"),
            ):
                pts = [(s.deg, *s.stats(side)[:2]) for s in cell if s.stats(side)[2]]
                if pts:
                    d, m, sd = (np.array(v) for v in zip(*pts))
                    ax.errorbar(
                        d,
                        100 * m,
                        yerr=100 * sd,
                        linestyle=style,
                        color=color,
                        marker="o",
                        markersize=3,
                        capsize=2,
                        label=label,
                    )
            if i == 0:
                ax.set_title(method, fontsize=9)
            if j == 0:
                ax.set_ylabel(f"n {n}, noise {noise:g}\nregret %", fontsize=8)
            if i == len(panels) - 1:
                ax.set_xlabel("degree", fontsize=8)
            ax.set_xticks(sorted({s.deg for s in items}))
            ax.set_ylim(bottom=min(0.0, ax.get_ylim()[0]))
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def replace_between_markers(text: str, body: str) -> str:
    """``text`` with everything between :data:`BEGIN` and :data:`END` replaced by ``body``."""
    if text.count(BEGIN) != 1 or text.count(END) != 1 or text.index(BEGIN) > text.index(END):
        raise ValueError(f"the page needs one {BEGIN} line followed by one {END} line")
    head, rest = text.split(BEGIN)
    _, tail = rest.split(END)
    return f"{head}{BEGIN}\n\n{body.strip()}\n\n{END}{tail}"
