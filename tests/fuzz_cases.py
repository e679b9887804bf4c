"""The fuzz suite's cases: one :class:`FuzzCase` per problem of the solver zoo.

Each case draws batches of instances (:class:`fuzz_support.Instance`) with hypothesis for
the structure (sizes, options) and a seeded generator for the values, and knows, without
using the solvers under test:

* ``reference(inst, b)``: the exact optimum of instance ``b`` and whether it is proven
  (brute force over an enumerated feasible set: exact, compared one way) or the value of
  an independent library's answer (SciPy, networkx: compared both ways, within the float
  tolerance);
* ``feasible(inst, b, y, backend)``: ``None`` when ``y`` is a valid answer, else why not.

See tests/test_fuzz.py for how a new problem joins.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
from fuzz_support import Instance, best_of, exact_value, values

Draw = Callable[[Any], Any]  # hypothesis' draw


@dataclass(frozen=True)
class Reference:
    """The optimum of one instance: ``proven`` (brute force, exact: an answer may not
    exceed it) or an independent library's answer (compared both ways); ``tol`` replaces
    the float tolerance of :func:`fuzz_support.tolerance` where the reference itself is
    only as precise as a floating-point LP solver."""

    value: Fraction
    proven: bool = True
    tol: Fraction | None = None


@dataclass(frozen=True)
class FuzzCase:
    """How to fuzz one problem (module docstring). ``instances(draw, rng, profile, batch)``
    builds an :class:`Instance`; ``y_max`` bounds ``|y|`` (ranks go up to ``n``);
    ``skip`` maps a backend to the documented reason it is left out."""

    problem: str
    instances: Callable[..., Instance]
    reference: Callable[[Instance, int], Reference]
    feasible: Callable[[Instance, int, np.ndarray, str], str | None]
    y_max: Callable[[Instance], float] = lambda inst: 1.0
    skip: dict[str, str] = field(default_factory=dict)


def _small(draw: Draw, st_module: Any, low: int, tiny: int, medium: int) -> tuple[int, bool]:
    """A size, tiny (brute force) four times in five, else medium (library reference)."""
    st = st_module
    if draw(st.integers(0, 4)) or medium <= tiny:
        return draw(st.integers(low, tiny)), True
    return draw(st.integers(tiny + 1, medium)), False


def _binary(y: np.ndarray) -> bool:
    return bool(np.all((y == 0) | (y == 1)))


# -- argmax, top_k, ranking ------------------------------------------------------------------


def _vector_instances(problem: str):
    def make(draw, st, rng, profile, batch) -> Instance:
        n, tiny = _small(draw, st, 1, 8, 40)
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


def _vector_reference(problem: str):
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


def _vector_feasible(problem: str):
    def feasible(inst: Instance, b: int, y: np.ndarray, backend: str) -> str | None:
        n = y.size
        if problem == "ranking":
            return None if np.array_equal(np.sort(y), np.arange(1, n + 1)) else "not ranks 1..n"
        k = 1 if problem == "argmax" else inst.params["k"]
        if not _binary(y) or y.sum() != k:
            return f"not a 0/1 vector with {k} ones"
        return None

    return feasible


# -- assignment --------------------------------------------------------------------------------


def _assignment_instances(draw, st, rng, profile, batch) -> Instance:
    n, tiny = _small(draw, st, 1, 5, 25)
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


def _assignment_reference(inst: Instance, b: int) -> Reference:
    t = inst.theta[b].astype(np.float64)
    n, m = t.shape
    if inst.info["tiny"]:
        return Reference(best_of(t, _partial_permutations(n, m)))
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(t, maximize=True)
    y = np.zeros_like(t)
    y[rows, cols] = 1.0
    return Reference(exact_value(t, y), proven=False)


def _assignment_feasible(inst: Instance, b: int, y: np.ndarray, backend: str) -> str | None:
    if not _binary(y) or np.any(y.sum(1) != 1) or np.any(y.sum(0) > 1):
        return "not a partial permutation matrix"
    return None


# -- grid shortest path ------------------------------------------------------------------------


def _moves(neighbourhood: int) -> list[tuple[int, int]]:
    moves = [d for d in itertools.product((-1, 0, 1), (-1, 0, 1)) if d != (0, 0)]
    return moves if neighbourhood == 8 else [d for d in moves if abs(d[0]) + abs(d[1]) == 1]


@functools.lru_cache(maxsize=64)
def _grid_paths(h: int, w: int, neighbourhood: int) -> np.ndarray:
    """Cell indicators of every simple path from (0, 0) to (h-1, w-1)."""
    rows = []

    def extend(cell, seen):
        if cell == (h - 1, w - 1):
            y = np.zeros((h, w))
            y[tuple(np.array(seen).T)] = 1.0
            rows.append(y.ravel())
            return
        for dr, dc in _moves(neighbourhood):
            nxt = (cell[0] + dr, cell[1] + dc)
            if 0 <= nxt[0] < h and 0 <= nxt[1] < w and nxt not in seen:
                seen.append(nxt)
                extend(nxt, seen)
                seen.pop()

    extend((0, 0), [(0, 0)])
    return np.unique(np.array(rows).reshape(-1, h * w), axis=0)


def _grid_instances(draw, st, rng, profile, batch) -> Instance:
    neighbourhood = draw(st.sampled_from([4, 8]))
    tiny = draw(st.integers(0, 4)) > 0
    if tiny:
        h, w = draw(
            st.sampled_from(
                [(1, 1), (1, 2), (1, 4), (2, 1), (2, 2), (2, 3), (3, 2)]
                + [(3, 3), (3, 4), (4, 3)]
                + ([(4, 4)] * (neighbourhood == 4))
            )
        )
    else:
        h, w = draw(st.integers(2, 8)), draw(st.integers(2, 8))
    clamp = draw(st.booleans())
    params = {"neighbourhood": neighbourhood}
    theta = values(rng, (batch, h, w), profile, sign="any" if clamp else "nonpositive")
    info = {"tiny": tiny}
    if clamp:  # the solvers solve, and are scored on, the clamped instance
        params["negative_costs"] = "clamp"
        info["scores"] = np.minimum(theta, 0.0)
    return Instance(params, theta, profile, info=info)


def _grid_reference(inst: Instance, b: int) -> Reference:
    t = np.minimum(inst.theta[b].astype(np.float64), 0.0)  # clamped, or already <= 0
    h, w = t.shape
    nb = inst.params["neighbourhood"]
    if inst.info["tiny"]:
        return Reference(best_of(t, _grid_paths(h, w, nb)))
    import scipy.sparse as sp
    from scipy.sparse.csgraph import dijkstra

    tails, heads = [], []
    for r, c in itertools.product(range(h), range(w)):
        for dr, dc in _moves(nb):
            if 0 <= r + dr < h and 0 <= c + dc < w:
                tails.append(r * w + c)
                heads.append((r + dr) * w + c + dc)
    cost = -t.ravel()
    graph = sp.csr_matrix((cost[heads], (tails, heads)), shape=(h * w, h * w))
    _, pred = dijkstra(graph, indices=0, return_predecessors=True)
    y = np.zeros(h * w)
    v = h * w - 1
    y[v] = 1.0
    while v != 0:
        v = pred[v]
        y[v] = 1.0
    return Reference(exact_value(t, y), proven=False)


def _grid_feasible(inst: Instance, b: int, y: np.ndarray, backend: str) -> str | None:
    """``y`` is the cell set of a simple path from the source to the target; the ``lp``
    backend may add cycles of zero-cost cells disjoint from it (its LP form says so)."""
    h, w = y.shape
    if not _binary(y) or y[0, 0] != 1 or y[-1, -1] != 1:
        return "not a 0/1 grid containing both ends"
    t = np.minimum(inst.theta[b].astype(np.float64), 0.0)
    cells = {tuple(c) for c in np.argwhere(y == 1)}
    optional = {
        c for c in cells if backend == "lp" and t[c] == 0 and c not in ((0, 0), (h - 1, w - 1))
    }
    needed = cells - optional
    moves = _moves(inst.params["neighbourhood"])

    def search(cell, seen) -> bool:  # a simple path through every needed cell
        if cell == (h - 1, w - 1):
            return needed <= seen
        for dr, dc in moves:
            nxt = (cell[0] + dr, cell[1] + dc)
            if nxt in cells and nxt not in seen:
                seen.add(nxt)
                if search(nxt, seen):
                    return True
                seen.discard(nxt)
        return False

    return None if search((0, 0), {(0, 0)}) else "the cells are not a simple source-target path"


# -- shortest path on a general graph ----------------------------------------------------------


def _graph_instances(draw, st, rng, profile, batch) -> Instance:
    n = draw(st.integers(1, 6))
    dag = draw(st.booleans())
    order = rng.permutation(n)
    pairs = [(u, v) for u in range(n) for v in range(n) if u != v]
    if dag:
        rank = np.empty(n, dtype=int)
        rank[order] = np.arange(n)
        pairs = [(u, v) for u, v in pairs if rank[u] < rank[v]]
    keep = rng.random(len(pairs)) < rng.uniform(0.3, 0.9)
    edges = [p for p, k in zip(pairs, keep) if k]
    edges += [edges[i] for i in range(len(edges)) if rng.random() < 0.1]  # parallel edges
    source, target = (int(order[0]), int(order[-1])) if dag else tuple(rng.integers(0, n, 2))
    source, target = int(source), int(target)
    reach = {source}
    for _ in range(n):
        reach |= {v for u, v in edges if u in reach}
    if target not in reach:  # make the target reachable: a direct edge
        edges.append((source, target))
    params = {"n_nodes": n, "edges": edges, "source": source, "target": target}
    theta = values(rng, (batch, len(edges)), profile, sign="any" if dag else "nonpositive")
    return Instance(params, theta, profile, info={"dag": dag})


@functools.lru_cache(maxsize=256)
def _edge_paths(n: int, edges: tuple, source: int, target: int) -> np.ndarray:
    """Edge indicators of every simple (node-simple) source-target path."""
    out = []

    def extend(node, seen, used):
        if node == target:
            y = np.zeros(len(edges))
            y[list(used)] = 1.0
            out.append(y)
            return
        for e, (u, v) in enumerate(edges):
            if u == node and v not in seen:
                extend(v, seen | {v}, used + [e])

    extend(source, {source}, [])
    return np.array(out, dtype=np.float64).reshape(len(out), len(edges))


def _graph_reference(inst: Instance, b: int) -> Reference:
    p = inst.params
    paths = _edge_paths(p["n_nodes"], tuple(map(tuple, p["edges"])), p["source"], p["target"])
    return Reference(best_of(inst.theta[b], paths))


def _graph_feasible(inst: Instance, b: int, y: np.ndarray, backend: str) -> str | None:
    """A unit source-target flow that is one simple path. The ``lp`` backend may add
    cycles of zero total cost (its LP form says so): for it the unit flow is enough, since
    the value check then leaves only a zero-cost circulation besides an optimal path."""
    p = inst.params
    edges = np.array(p["edges"], dtype=int).reshape(-1, 2)
    if not _binary(y):
        return "not 0/1"
    chosen = np.flatnonzero(y).tolist()
    balance = np.zeros(p["n_nodes"])
    np.add.at(balance, edges[chosen, 0], 1.0)
    np.add.at(balance, edges[chosen, 1], -1.0)
    want = np.zeros(p["n_nodes"])
    if p["source"] != p["target"]:
        want[p["source"]], want[p["target"]] = 1.0, -1.0
    if not np.array_equal(balance, want):
        return "not a unit source-target flow"
    if backend == "lp":
        return None
    out = {}
    for e in chosen:
        if edges[e, 0] in out:
            return f"node {edges[e, 0]} has two chosen out-edges"
        out[int(edges[e, 0])] = e
    node, seen, used = p["source"], {p["source"]}, 0
    while node != p["target"]:
        node = int(edges[out[node], 1])
        used += 1
        if node in seen:
            return "the path revisits a node"
        seen.add(node)
    return None if used == len(chosen) else "edges lie off the path"


# -- spanning tree -----------------------------------------------------------------------------


def _tree_instances(draw, st, rng, profile, batch) -> Instance:
    n, tiny = _small(draw, st, 1, 6, 10)
    complete = draw(st.booleans())
    if complete and tiny and n == 6:
        complete = False  # 3,003 edge subsets of K6 is enough; K6 itself comes from edges
    pairs = list(itertools.combinations(range(n), 2))
    if complete:
        edges = None
        m = len(pairs)
    else:
        perm = rng.permutation(n)  # a random spanning tree, then extra edges
        tree = {tuple(sorted((int(perm[i]), int(perm[rng.integers(0, i)])))) for i in range(1, n)}
        extra = [p for p in pairs if p not in tree and rng.random() < 0.4]
        edges = [tuple(e) if rng.random() < 0.5 else tuple(e[::-1]) for e in sorted(tree)] + extra
        rng.shuffle(edges)
        m = len(edges)
    params = {"n_nodes": n} if edges is None else {"n_nodes": n, "edges": edges}
    theta = values(rng, (batch, m), profile)
    return Instance(params, theta, profile, info={"tiny": tiny})


def _tree_edges(inst: Instance) -> np.ndarray:
    if inst.params.get("edges") is None:
        return np.array(list(itertools.combinations(range(inst.params["n_nodes"]), 2)))
    return np.array(inst.params["edges"], dtype=int).reshape(-1, 2)


def _is_tree(n: int, edges: np.ndarray) -> bool:
    if edges.shape[0] != n - 1:
        return False
    parent = list(range(n))

    def root(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for u, v in edges:
        ru, rv = root(int(u)), root(int(v))
        if ru == rv:
            return False
        parent[ru] = rv
    return True


@functools.lru_cache(maxsize=64)
def _trees(n: int, edges: tuple) -> np.ndarray:
    arr = np.array(edges, dtype=int).reshape(-1, 2)
    rows = []
    for subset in itertools.combinations(range(arr.shape[0]), n - 1):
        if _is_tree(n, arr[list(subset)]):
            y = np.zeros(arr.shape[0])
            y[list(subset)] = 1.0
            rows.append(y)
    return np.array(rows, dtype=np.float64).reshape(len(rows), arr.shape[0])


def _tree_reference(inst: Instance, b: int) -> Reference:
    n, edges = inst.params["n_nodes"], _tree_edges(inst)
    t = inst.theta[b].astype(np.float64)
    if inst.info["tiny"]:
        return Reference(best_of(t, _trees(n, tuple(map(tuple, edges.tolist())))))
    import networkx as nx

    g = nx.Graph()
    g.add_nodes_from(range(n))
    for k, (u, v) in enumerate(edges.tolist()):
        g.add_edge(u, v, weight=float(t[k]), id=k)
    y = np.zeros(edges.shape[0])
    y[[d["id"] for _, _, d in nx.maximum_spanning_tree(g).edges(data=True)]] = 1.0
    return Reference(exact_value(t, y), proven=False)


def _tree_feasible(inst: Instance, b: int, y: np.ndarray, backend: str) -> str | None:
    n, edges = inst.params["n_nodes"], _tree_edges(inst)
    if not _binary(y) or not _is_tree(n, edges[y == 1]):
        return "not a spanning tree"
    return None


# -- knapsack ----------------------------------------------------------------------------------


def _knapsack_instances(draw, st, rng, profile, batch) -> Instance:
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


@functools.lru_cache(maxsize=32)
def _all_subsets(n: int) -> np.ndarray:
    return np.array(list(itertools.product((0.0, 1.0), repeat=n))).reshape(-1, n)


def _knapsack_reference(inst: Instance, b: int) -> Reference:
    w, c = inst.info["weights"][b], inst.info["capacity"][b]
    subsets = _all_subsets(w.size)
    return Reference(best_of(inst.theta[b], subsets[subsets @ w <= c]))


def _knapsack_feasible(inst: Instance, b: int, y: np.ndarray, backend: str) -> str | None:
    w, c = inst.info["weights"][b], inst.info["capacity"][b]
    if not _binary(y) or y @ w > c:
        return f"packs weight {y @ w} into capacity {c!r}"
    if backend != "lp" and np.any(y[inst.theta[b] <= 0]):
        return "an item of non-positive value was chosen"  # numba and ortools promise it
    return None


# -- multi-dimensional knapsack ---------------------------------------------------------------


def _multi_knapsack_instances(draw, st, rng, profile, batch) -> Instance:
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


def _multi_knapsack_reference(inst: Instance, b: int) -> Reference:
    w, c = inst.info["weights"][b], inst.info["capacity"][b]
    subsets = _all_subsets(w.shape[1])
    return Reference(best_of(inst.theta[b], subsets[np.all(subsets @ w.T <= c, axis=1)]))


def _multi_knapsack_feasible(inst: Instance, b: int, y: np.ndarray, backend: str) -> str | None:
    w, c = inst.info["weights"][b], inst.info["capacity"][b]
    if not _binary(y) or np.any(w @ y > c):
        return f"loads {w @ y} exceed the capacities {c!r}"
    if backend != "lp" and np.any(y[inst.theta[b] <= 0]):
        return "an item of non-positive value was chosen"  # numba and ortools promise it
    return None


# -- travelling salesman -----------------------------------------------------------------------


def _tsp_instances(draw, st, rng, profile, batch) -> Instance:
    n = draw(st.integers(3, 8))
    theta = values(rng, (batch, n * (n - 1) // 2), profile)
    return Instance({"n_nodes": n}, theta, profile)


@functools.lru_cache(maxsize=8)
def _tours(n: int) -> np.ndarray:
    """Edge indicators of every Hamiltonian cycle of the complete graph (each once)."""
    index = {pair: k for k, pair in enumerate(itertools.combinations(range(n), 2))}
    rows = []
    for perm in itertools.permutations(range(1, n)):
        if perm[0] > perm[-1]:
            continue  # the same cycle the other way round
        cycle = (0, *perm, 0)
        y = np.zeros(len(index))
        y[[index[tuple(sorted(cycle[k : k + 2]))] for k in range(n)]] = 1.0
        rows.append(y)
    return np.array(rows)


def _tsp_reference(inst: Instance, b: int) -> Reference:
    return Reference(best_of(inst.theta[b], _tours(inst.params["n_nodes"])))


def _tsp_feasible(inst: Instance, b: int, y: np.ndarray, backend: str) -> str | None:
    n = inst.params["n_nodes"]
    edges = np.array(list(itertools.combinations(range(n), 2)))
    chosen = edges[y == 1] if _binary(y) else None
    if chosen is None or chosen.shape[0] != n:
        return f"not {n} edges"
    if np.any(np.bincount(chosen.ravel(), minlength=n) != 2):
        return "a city without degree two"
    if not _is_tree(n, chosen[1:]):  # degree two everywhere and connected: one tour
        return "several cycles"
    return None


# -- user LPs (the lp problem) -----------------------------------------------------------------


def _lp_instances(draw, st, rng, profile, batch) -> Instance:
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
    return Instance(params, theta, profile, info={"kind": kind})


def _lp_reference(inst: Instance, b: int) -> Reference:
    p, t = inst.params, inst.theta[b].astype(np.float64)
    if inst.info["kind"] == "plain":
        from scipy.optimize import linprog

        n = t.size
        res = linprog(-t, A_ub=p["A_ub"], b_ub=p["b_ub"], bounds=[(0, 1)] * n, method="highs")
        value = Fraction(float(-res.fun))
        return Reference(value, proven=False, tol=Fraction(1, 10**7) * (1 + abs(value)))
    subsets = _all_subsets(t.size)
    return Reference(best_of(t, subsets[np.all(subsets @ p["A_ub"].T <= p["b_ub"], axis=1)]))


def _lp_feasible(inst: Instance, b: int, y: np.ndarray, backend: str) -> str | None:
    p = inst.params
    slack = 0.0
    if inst.info["kind"] == "plain":  # fractional y, rounded to θ's dtype
        slack = 1e-6 if inst.profile == "float32" else 1e-9
    if np.any(p["A_ub"] @ y > p["b_ub"] + slack) or np.any(y < -slack) or np.any(y > 1 + slack):
        return "violates the constraints"
    if inst.info["kind"] != "plain" and not _binary(y):
        return "not integral"
    return None


CASES: dict[str, FuzzCase] = {
    c.problem: c
    for c in [
        FuzzCase(
            "argmax",
            _vector_instances("argmax"),
            _vector_reference("argmax"),
            _vector_feasible("argmax"),
        ),
        FuzzCase(
            "top_k",
            _vector_instances("top_k"),
            _vector_reference("top_k"),
            _vector_feasible("top_k"),
        ),
        FuzzCase(
            "ranking",
            _vector_instances("ranking"),
            _vector_reference("ranking"),
            _vector_feasible("ranking"),
            y_max=lambda inst: float(inst.theta.shape[-1]),
        ),
        FuzzCase("assignment", _assignment_instances, _assignment_reference, _assignment_feasible),
        FuzzCase("shortest_path", _grid_instances, _grid_reference, _grid_feasible),
        FuzzCase("shortest_path_graph", _graph_instances, _graph_reference, _graph_feasible),
        FuzzCase("spanning_tree", _tree_instances, _tree_reference, _tree_feasible),
        FuzzCase("knapsack", _knapsack_instances, _knapsack_reference, _knapsack_feasible),
        FuzzCase(
            "multi_knapsack",
            _multi_knapsack_instances,
            _multi_knapsack_reference,
            _multi_knapsack_feasible,
        ),
        FuzzCase("tsp", _tsp_instances, _tsp_reference, _tsp_feasible),
        FuzzCase("lp", _lp_instances, _lp_reference, _lp_feasible),
    ]
}
