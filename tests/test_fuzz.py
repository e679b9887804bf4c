"""Fuzz every problem of the solver zoo, on every back end, against independent references.

For each registered problem, hypothesis draws batches of instances (sizes, options and a
magnitude profile; values from a seeded generator, see ``fuzz_support.values``): integer
scores with many ties, uniform floats, float32, integer mantissas over 80 binary orders
(near-ties decided by small entries), and magnitudes from the subnormals to ``1e296``.
Degenerate shapes (a 1×1 grid, n = 1, a single node, k = n, zero capacity) come up by
construction. Every back end in ``solvers.backends(problem)``, ``lp`` included, solves each
batch once, and every answer must be

* feasible, by the case's own check (paths, trees, permutations, capacities...), and
* optimal: its value ``⟨θ, y⟩``, computed exactly in rationals, equals the reference
  optimum up to what floating point may lose (``fuzz_support.tolerance``; zero for integer
  scores). Tiny instances are checked against brute force over the whole feasible set, an
  answer above which is an error too; larger ones against SciPy / networkx answers.

Any warning a solver emits fails the test (the exact back ends have none to give).

Run: the default test run draws :data:`QUICK_EXAMPLES` batches per problem (about a
minute for all problems); ``pytest -m slow tests/test_fuzz.py`` draws at least
:data:`LONG_INSTANCES` instances per problem and prints its figures (instances, back ends,
wall time per problem); set ``FUZZ_REPORT=path`` to have them written there as JSON lines.

Adding a problem. Write, in ``tests/fuzz_cases_sets.py`` or ``tests/fuzz_cases_paths.py``:

1. ``instances(draw, st, rng, profile, batch) -> Instance``: solver parameters (``params``,
   shared by the batch), ``θ`` of shape ``(batch, *shape)`` from
   ``values(rng, shape, profile, sign)``, per-instance side data (``side``) and whatever
   the checks need (``info``). Draw sizes with ``draw(st....)``; keep most instances tiny
   enough to enumerate.
2. ``reference(inst, b) -> Reference``: the optimum of instance ``b``, from brute force
   (``best_of(θ, candidates)`` over every feasible ``y``) or an independent library
   (``Reference(value, proven=False)``). Never the solver under test.
3. ``feasible(inst, b, y, backend) -> None | str``: ``None`` when ``y`` is a valid answer.

and add ``FuzzCase("<problem>", instances, reference, feasible)`` to ``CASES`` in
``tests/fuzz_cases.py``
(``y_max`` when entries of ``y`` exceed 1; ``skip={"backend": "reason"}`` only for a
documented limitation). ``test_every_problem_has_a_fuzz_case`` fails until a newly
registered problem has its entry; its back ends, ``lp`` included, are picked up from the
registry.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from collections import Counter

import numpy as np
import pytest
from fuzz_cases import CASES, FuzzCase
from fuzz_support import PROFILES, Instance, as_dtype, exact_value, tolerance
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import solvers

#: Batches per problem in the default run.
QUICK_EXAMPLES = 40
#: Instances per problem in the long run (``-m slow``).
LONG_INSTANCES = 10_000

_SETTINGS = dict(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@st.composite
def batches(draw, case: FuzzCase, max_batch: int = 4) -> Instance:
    seed = draw(st.integers(0, 2**32 - 1))
    profile = draw(st.sampled_from(PROFILES))
    batch = draw(st.integers(1, max_batch))
    return case.instances(draw, st, np.random.default_rng(seed), profile, batch)


def check_batch(case: FuzzCase, inst: Instance, stats: Counter) -> None:
    """Every back end of ``case.problem`` on ``inst``: feasible and optimal answers."""
    theta = as_dtype(inst.theta, inst.profile)
    references = [case.reference(inst, b) for b in range(inst.batch)]
    y_max = case.y_max(inst)
    for backend in solvers.backends(case.problem):
        if backend in case.skip:
            continue
        solver = solvers.get(case.problem, backend=backend, **inst.params)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            y = solver.solve(theta, **inst.side)
        assert y.shape == theta.shape and y.dtype == theta.dtype, (backend, y.shape, y.dtype)
        for b, ref in enumerate(references):
            yb = y[b].astype(np.float64)
            where = f"{case.problem} / {backend}, instance {b}:\n{inst.describe(b)}\ny={yb!r}"
            why = case.feasible(inst, b, yb, backend)
            assert why is None, f"infeasible answer ({why}) from {where}"
            got = exact_value(inst.scores(b), yb)
            tol = ref.tol if ref.tol is not None else tolerance(inst.scores(b), y_max)
            if ref.proven:
                assert got <= ref.value, f"value {float(got)!r} above the optimum, {where}"
            assert abs(ref.value - got) <= tol, (
                f"value {float(got)!r} against the optimum {float(ref.value)!r} "
                f"(gap {float(ref.value - got):.3g}, tolerance {float(tol):.3g}), {where}"
            )
        stats[backend] += inst.batch
    stats["instances"] += inst.batch


def run_fuzz(problem: str, examples: int, stats: Counter, database: bool = True) -> None:
    case = CASES[problem]

    @settings(max_examples=examples, **_SETTINGS, **({} if database else {"database": None}))
    @given(inst=batches(case))
    def fuzz(inst: Instance) -> None:
        check_batch(case, inst, stats)

    fuzz()


def test_every_problem_has_a_fuzz_case():
    missing = sorted(set(solvers.problems()) - set(CASES))
    assert not missing, f"add a FuzzCase for {missing} to tests/fuzz_cases.py"
    assert set(CASES) <= set(solvers.problems())


@pytest.mark.parametrize("problem", sorted(CASES))
def test_fuzz(problem):
    stats = Counter()
    run_fuzz(problem, QUICK_EXAMPLES, stats)
    assert stats["instances"] >= QUICK_EXAMPLES


@pytest.mark.slow
@pytest.mark.parametrize("problem", sorted(CASES))
def test_fuzz_long(problem):
    stats = Counter()
    start = time.perf_counter()
    while stats["instances"] < LONG_INSTANCES:
        run_fuzz(problem, 500, stats, database=False)
    seconds = time.perf_counter() - start
    record = {"problem": problem, "seconds": round(seconds, 1), **dict(stats)}
    print(f"\nfuzz {json.dumps(record)}")
    if os.environ.get("FUZZ_REPORT"):
        with open(os.environ["FUZZ_REPORT"], "a") as out:
            out.write(json.dumps(record) + "\n")
    assert stats["instances"] >= LONG_INSTANCES
