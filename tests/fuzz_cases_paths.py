"""Fuzz cases of the problems over graphs: grid and graph shortest paths, spanning trees
and tours (see tests/fuzz_cases.py)."""

from __future__ import annotations

import functools
import itertools

import numpy as np
from fuzz_support import (
    Instance,
    Reference,
    best_of,
    exact_value,
    is_binary,
    is_tree,
    small_size,
    values,
)

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


def grid_instances(draw, st, rng, profile, batch) -> Instance:
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


def grid_reference(inst: Instance, b: int) -> Reference:
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


def grid_feasible(inst: Instance, b: int, y: np.ndarray, backend: str) -> str | None:
    """``y`` is the cell set of a simple path from the source to the target; the ``lp``
    backend may add cycles of zero-cost cells disjoint from it (its LP form says so)."""
    h, w = y.shape
    if not is_binary(y) or y[0, 0] != 1 or y[-1, -1] != 1:
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


def graph_instances(draw, st, rng, profile, batch) -> Instance:
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


def graph_reference(inst: Instance, b: int) -> Reference:
    p = inst.params
    paths = _edge_paths(p["n_nodes"], tuple(map(tuple, p["edges"])), p["source"], p["target"])
    return Reference(best_of(inst.theta[b], paths))


def graph_feasible(inst: Instance, b: int, y: np.ndarray, backend: str) -> str | None:
    """A unit source-target flow that is one simple path. The ``lp`` backend may add
    cycles of zero total cost (its LP form says so): for it the unit flow is enough, since
    the value check then leaves only a zero-cost circulation besides an optimal path."""
    p = inst.params
    edges = np.array(p["edges"], dtype=int).reshape(-1, 2)
    if not is_binary(y):
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


def tree_instances(draw, st, rng, profile, batch) -> Instance:
    n, tiny = small_size(draw, st, 1, 6, 10)
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


@functools.lru_cache(maxsize=64)
def _trees(n: int, edges: tuple) -> np.ndarray:
    arr = np.array(edges, dtype=int).reshape(-1, 2)
    rows = []
    for subset in itertools.combinations(range(arr.shape[0]), n - 1):
        if is_tree(n, arr[list(subset)]):
            y = np.zeros(arr.shape[0])
            y[list(subset)] = 1.0
            rows.append(y)
    return np.array(rows, dtype=np.float64).reshape(len(rows), arr.shape[0])


def tree_reference(inst: Instance, b: int) -> Reference:
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


def tree_feasible(inst: Instance, b: int, y: np.ndarray, backend: str) -> str | None:
    n, edges = inst.params["n_nodes"], _tree_edges(inst)
    if not is_binary(y) or not is_tree(n, edges[y == 1]):
        return "not a spanning tree"
    return None


# -- travelling salesman -----------------------------------------------------------------------


def tsp_instances(draw, st, rng, profile, batch) -> Instance:
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


def tsp_reference(inst: Instance, b: int) -> Reference:
    return Reference(best_of(inst.theta[b], _tours(inst.params["n_nodes"])))


def tsp_feasible(inst: Instance, b: int, y: np.ndarray, backend: str) -> str | None:
    n = inst.params["n_nodes"]
    edges = np.array(list(itertools.combinations(range(n), 2)))
    chosen = edges[y == 1] if is_binary(y) else None
    if chosen is None or chosen.shape[0] != n:
        return f"not {n} edges"
    if np.any(np.bincount(chosen.ravel(), minlength=n) != 2):
        return "a city without degree two"
    if not is_tree(n, chosen[1:]):  # degree two everywhere and connected: one tour
        return "several cycles"
    return None


# -- capacitated vehicle routing ----------------------------------------------------------------


def vrp_instances(draw, st, rng, profile, batch) -> Instance:
    """2 to 5 customers, integer demands from 0 to a third of the capacity (any three
    customers fit one vehicle: routes of two and one of three cover any number, so every
    instance is feasible), no route limit."""
    m = draw(st.integers(2, 5))
    capacity = draw(st.integers(1, 8))
    demands = rng.integers(0, capacity // 3 + 1, size=m).astype(np.float64)
    theta = values(rng, (batch, (m + 1) * m // 2), profile)
    return Instance(
        {"n_nodes": m + 1, "demands": demands, "capacity": float(capacity)}, theta, profile
    )


def _vrp_candidates(inst: Instance) -> np.ndarray:
    """The feasible route sets of the instance, by brute force (tests/vrp_support.py)."""
    from vrp_support import SETS

    sets = SETS[inst.params["n_nodes"] - 1]
    ok = (sets.members @ inst.params["demands"]).max(axis=1) <= inst.params["capacity"]
    return sets.y[ok]


def vrp_reference(inst: Instance, b: int) -> Reference:
    return Reference(best_of(inst.theta[b], _vrp_candidates(inst)))


def vrp_feasible(inst: Instance, b: int, y: np.ndarray, backend: str) -> str | None:
    if not is_binary(y) or not (_vrp_candidates(inst) == y).all(axis=1).any():
        return "not a set of routes within the capacity"
    return None
