"""Fuzz cases of the problems over vectors and sets: argmax, top_k, ranking, assignment,
knapsack, multi_knapsack and user LPs (see tests/fuzz_cases.py)."""

from __future__ import annotations

import functools
import itertools
from fractions import Fraction

import numpy as np
from fuzz_support import (
    Instance,
    Reference,
    all_subsets,
    best_of,
    exact_value,
    is_binary,
    small_size,
    values,
)

# -- argmax, top_k, ranking ------------------------------------------------------------------


def vector_instances(problem: str):
    def make(draw, st, rng, profile, batch) -> Instance:
        n, tiny = small_size(draw, st, 1, 8, 40)
        params = {}
        if problem == "top_k":
            params["k"] = draw(st.integers(1, n))
        theta = values(rng, (batch, n), profile)
        return Instance(params, theta, profile, info={"tiny": tiny and n <= 7})

    return make


@functools.lru_cache(maxsize=64)
def _subsets(n: int, k: int) -> np.ndarray:
    rows = [np.isin(np.arange(n), c) for c in itertools.combinations(range(n), k)]
    return np.array(rows, dtype=np.float64).reshape(-1, n)


@functools.lru_cache(maxsize=16)
def _rank_vectors(n: int) -> np.ndarray:
    return np.array(list(itertools.permutations(range(1, n + 1))), dtype=np.float64)


def vector_reference(problem: str):
    def reference(inst: Instance, b: int) -> Reference:
        t = inst.theta[b].astype(np.float64)
        n = t.size
        if problem == "argmax":
            return Reference(Fraction(float(t.max())))
        if problem == "top_k":
            k = inst.params["k"]
            if inst.info["tiny"]:
                return Reference(best_of(t, _subsets(n, k)))
            top = np.sort(t)[::-1][:k]  # the k largest values, whatever the ties
            return Reference(sum((Fraction(float(v)) for v in top), Fraction(0)))
        if inst.info["tiny"]:
            return Reference(best_of(t, _rank_vectors(n)))
        ranks = np.empty(n)
        ranks[np.argsort(t, kind="stable")] = np.arange(1, n + 1)  # rearrangement inequality
        return Reference(exact_value(t, ranks))

    return reference


def vector_feasible(problem: str):
    def feasible(inst: Instance, b: int, y: np.ndarray, backend: str) -> str | None:
        n = y.size
        if problem == "ranking":
            return None if np.array_equal(np.sort(y), np.arange(1, n + 1)) else "not ranks 1..n"
        k = 1 if problem == "argmax" else inst.params["k"]
        if not is_binary(y) or y.sum() != k:
            return f"not a 0/1 vector with {k} ones"
        return None

    return feasible


# -- assignment --------------------------------------------------------------------------------


def assignment_instances(draw, st, rng, profile, batch) -> Instance:
    n, tiny = small_size(draw, st, 1, 5, 25)
    m = n + draw(st.integers(0, 1 if n == 5 else 2))
    theta = values(rng, (batch, n, m), profile)
    return Instance({}, theta, profile, info={"tiny": tiny})


@functools.lru_cache(maxsize=64)
def _partial_permutations(n: int, m: int) -> np.ndarray:
    rows = []
    for cols in itertools.permutations(range(m), n):
        y = np.zeros((n, m))
        y[np.arange(n), list(cols)] = 1.0
        rows.append(y.ravel())
    return np.array(rows).reshape(-1, n * m)


def assignment_reference(inst: Instance, b: int) -> Reference:
    t = inst.theta[b].astype(np.float64)
    n, m = t.shape
    if inst.info["tiny"]:
        return Reference(best_of(t, _partial_permutations(n, m)))
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(t, maximize=True)
    y = np.zeros_like(t)
    y[rows, cols] = 1.0
    return Reference(exact_value(t, y), proven=False)


def assignment_feasible(inst: Instance, b: int, y: np.ndarray, backend: str) -> str | None:
    if not is_binary(y) or np.any(y.sum(1) != 1) or np.any(y.sum(0) > 1):
        return "not a partial permutation matrix"
    return None


# -- knapsack ----------------------------------------------------------------------------------


def knapsack_instances(draw, st, rng, profile, batch) -> Instance:
    n = draw(st.integers(1, 10))
    weights = rng.integers(0, 9, size=(batch, n)).astype(np.float64)
    total = weights.sum(1)
    mode = draw(st.sampled_from(["random", "below", "zero", "all"]))
    if mode == "zero":
        capacity = np.zeros(batch)
    elif mode == "all":
        capacity = total + rng.integers(0, 3, size=batch)
    else:
        capacity = np.floor(rng.uniform(0, 1, size=batch) * (total + 1))
        if mode == "below":  # just below an integer: never rounded up (issue 26, item 1)
            capacity = np.maximum(capacity - rng.choice([0.5, 1e-9, 2e-15], size=batch), 0.0)
    fixed = draw(st.booleans()) and batch > 0
    theta = values(rng, (batch, n), profile)
    if fixed:  # weights and capacity fixed at construction, shared by the batch
        weights[:] = weights[0]
        capacity[:] = capacity[0]
        params, side = {"weights": weights[0], "capacity": float(capacity[0])}, {}
    else:
        params, side = {}, {"weights": weights, "capacity": capacity}
    return Instance(params, theta, profile, side, info={"weights": weights, "capacity": capacity})


def knapsack_reference(inst: Instance, b: int) -> Reference:
    w, c = inst.info["weights"][b], inst.info["capacity"][b]
    subsets = all_subsets(w.size)
    return Reference(best_of(inst.theta[b], subsets[subsets @ w <= c]))


def knapsack_feasible(inst: Instance, b: int, y: np.ndarray, backend: str) -> str | None:
    w, c = inst.info["weights"][b], inst.info["capacity"][b]
    if not is_binary(y) or y @ w > c:
        return f"packs weight {y @ w} into capacity {c!r}"
    if backend != "lp" and np.any(y[inst.theta[b] <= 0]):
        return "an item of non-positive value was chosen"  # numba and ortools promise it
    return None


# -- multi-dimensional knapsack ---------------------------------------------------------------


def multi_knapsack_instances(draw, st, rng, profile, batch) -> Instance:
    n, m = draw(st.integers(1, 9)), draw(st.integers(1, 3))
    weights = rng.integers(0, 7, size=(batch, m, n)).astype(np.float64)
    total = weights.sum(2)
    mode = draw(st.sampled_from(["random", "below", "zero", "all"]))
    if mode == "zero":
        capacity = np.zeros((batch, m))
    elif mode == "all":
        capacity = total + rng.integers(0, 3, size=(batch, m))
    else:
        capacity = np.floor(rng.uniform(0, 1, size=(batch, m)) * (total + 1))
        if mode == "below":  # just below an integer: never rounded up
            capacity = np.maximum(capacity - rng.choice([0.5, 1e-9, 2e-15], (batch, m)), 0.0)
    theta = values(rng, (batch, n), profile)
    if draw(st.booleans()):  # fixed at construction, shared by the batch
        weights[:], capacity[:] = weights[0], capacity[0]
        params, side = {"weights": weights[0], "capacity": capacity[0]}, {}
    else:
        params, side = {}, {"weights": weights, "capacity": capacity}
    return Instance(params, theta, profile, side, info={"weights": weights, "capacity": capacity})


def multi_knapsack_reference(inst: Instance, b: int) -> Reference:
    w, c = inst.info["weights"][b], inst.info["capacity"][b]
    subsets = all_subsets(w.shape[1])
    return Reference(best_of(inst.theta[b], subsets[np.all(subsets @ w.T <= c, axis=1)]))


def multi_knapsack_feasible(inst: Instance, b: int, y: np.ndarray, backend: str) -> str | None:
    w, c = inst.info["weights"][b], inst.info["capacity"][b]
    if not is_binary(y) or np.any(w @ y > c):
        return f"loads {w @ y} exceed the capacities {c!r}"
    if backend != "lp" and np.any(y[inst.theta[b] <= 0]):
        return "an item of non-positive value was chosen"  # numba and ortools promise it
    return None


# -- user LPs (the lp problem) -----------------------------------------------------------------


def lp_instances(draw, st, rng, profile, batch) -> Instance:
    kind = draw(st.sampled_from(["mip", "interval", "plain"]))
    n = draw(st.integers(1, 7))
    if kind == "plain":  # a fractional LP: the floating-point path, narrow ranges only
        profile = "float" if profile in ("wide", "extreme") else profile
    rows = draw(st.integers(1, 3))
    if kind == "interval":  # consecutive-ones rows: totally unimodular, an integral polytope
        starts = rng.integers(0, n, size=rows)
        ends = np.minimum(starts + rng.integers(1, n + 1, size=rows), n)
        a = np.array([(np.arange(n) >= s) & (np.arange(n) < e) for s, e in zip(starts, ends)])
        a = a.astype(np.float64)
    else:
        a = rng.integers(0, 4, size=(rows, n)).astype(np.float64)
    b_ub = np.floor(rng.uniform(0, 1, size=rows) * (a.sum(1) + 1))
    params = {"A_ub": a, "b_ub": b_ub, "upper": np.ones(n)}
    if kind == "mip":
        params["integrality"] = np.ones(n, dtype=bool)
    elif kind == "interval":
        params["integral_polytope"] = True
    theta = values(rng, (batch, n), profile)
    if kind == "plain" and profile != "ties":
        # |θ| in [1/2, 2]: within the floating-point path's range limit of 1e4, where it
        # warns (solvers.lp; a uniform draw near 0 once gave a range of 2e4 and a warning)
        theta = np.sign(theta) * np.maximum(np.abs(theta), 0.5) + (theta == 0) * 0.5
        if profile == "float32":
            theta = theta.astype(np.float32).astype(np.float64)
    return Instance(params, theta, profile, info={"kind": kind})


def lp_reference(inst: Instance, b: int) -> Reference:
    p, t = inst.params, inst.theta[b].astype(np.float64)
    if inst.info["kind"] == "plain":
        from scipy.optimize import linprog

        n = t.size
        res = linprog(-t, A_ub=p["A_ub"], b_ub=p["b_ub"], bounds=[(0, 1)] * n, method="highs")
        value = Fraction(float(-res.fun))
        return Reference(value, proven=False, tol=Fraction(1, 10**7) * (1 + abs(value)))
    subsets = all_subsets(t.size)
    return Reference(best_of(t, subsets[np.all(subsets @ p["A_ub"].T <= p["b_ub"], axis=1)]))


def lp_feasible(inst: Instance, b: int, y: np.ndarray, backend: str) -> str | None:
    p = inst.params
    slack = 0.0
    if inst.info["kind"] == "plain":  # fractional y, rounded to θ's dtype
        slack = 1e-6 if inst.profile == "float32" else 1e-9
    if np.any(p["A_ub"] @ y > p["b_ub"] + slack) or np.any(y < -slack) or np.any(y > 1 + slack):
        return "violates the constraints"
    if inst.info["kind"] != "plain" and not is_binary(y):
        return "not integral"
    return None
