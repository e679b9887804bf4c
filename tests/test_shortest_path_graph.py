"""Shortest path on directed graphs: DAG DP and Dijkstra against networkx and brute force."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from solver_checks import (
    assert_batched_equals_single,
    assert_dtype_rules,
    assert_empty_batch,
    assert_integral,
    check_bad_inputs,
)

import solvers
from solvers.base import SolverInputError
from solvers.shortest_path_graph import grid_dag

PROBLEM = "shortest_path_graph"


def get(graph: dict, backend: str = "numba", **kw) -> solvers.Solver:
    return solvers.get(PROBLEM, backend=backend, **graph, **kw)


@st.composite
def graphs(draw, dag: bool, max_nodes: int = 6, max_extra: int = 10):
    """A random directed multigraph with a source→target path (no self-loops).

    ``dag=True``: every edge goes forward in a random node order. ``dag=False``: at least
    one cycle (an edge and its reverse).
    """
    n = draw(st.integers(2, max_nodes))
    perm = draw(st.permutations(range(n)))
    rank = {v: i for i, v in enumerate(perm)}
    s, t = perm[0], perm[-1]
    inner = draw(st.lists(st.sampled_from(perm[1:-1]), unique=True)) if n > 2 else []
    chain = [s, *sorted(inner, key=rank.get), t]
    edges = list(zip(chain[:-1], chain[1:]))
    pair = st.tuples(st.sampled_from(perm), st.sampled_from(perm)).filter(lambda e: e[0] != e[1])
    for u, v in draw(st.lists(pair, max_size=max_extra)):
        edges.append((u, v) if not dag or rank[u] < rank[v] else (v, u))
    if not dag:
        u, v = draw(st.sampled_from(edges))
        edges.append((v, u))
    edges = draw(st.permutations(edges))
    return {"n_nodes": n, "edges": edges, "source": s, "target": t}


def theta_for(draw, m: int, lo: int, hi: int, batch: int = 3) -> np.ndarray:
    vals = st.integers(lo, hi).map(float)
    rows = st.lists(st.lists(vals, min_size=m, max_size=m), min_size=1, max_size=batch)
    return np.array(draw(rows), dtype=np.float64).reshape(-1, m)


def simple_paths(graph: dict) -> list[list[int]]:
    """Every simple source→target path as a list of edge indices (brute force)."""
    out: dict[int, list[int]] = {}
    for e, (u, _) in enumerate(graph["edges"]):
        out.setdefault(u, []).append(e)
    paths = []

    def walk(u: int, seen: set, path: list) -> None:
        if u == graph["target"]:
            paths.append(list(path))
            return
        for e in out.get(u, []):
            v = graph["edges"][e][1]
            if v not in seen:
                walk(v, seen | {v}, path + [e])

    walk(graph["source"], {graph["source"]}, [])
    return paths


def brute_force_best(graph: dict, theta: np.ndarray) -> np.ndarray:
    paths = simple_paths(graph)
    return np.array([max(sum(row[e] for e in p) for p in paths) for row in theta])


def assert_simple_paths(graph: dict, y: np.ndarray) -> None:
    """Each row of ``y`` marks the edges of one simple source→target path."""
    assert_integral(y)
    edges = graph["edges"]
    for row in y:
        chosen = set(np.flatnonzero(row).tolist())
        assert set(np.unique(row)) <= {0.0, 1.0}
        u, seen = graph["source"], {graph["source"]}
        while chosen:
            step = [e for e in chosen if edges[e][0] == u]
            assert len(step) == 1, f"not a path at node {u}: {row}"
            chosen.remove(step[0])
            u = edges[step[0]][1]
            assert u not in seen, f"path revisits node {u}: {row}"
            seen.add(u)
        assert u == graph["target"], f"path ends at {u}, not at the target: {row}"


# -- optimality ------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_dag_with_negative_costs_matches_brute_force_and_networkx(data):
    graph = data.draw(graphs(dag=True))
    theta = theta_for(data.draw, len(graph["edges"]), -3, 3)
    solver = get(graph)
    assert solver.is_dag
    y = solver.solve(theta)
    assert_simple_paths(graph, y)
    best = brute_force_best(graph, theta)
    np.testing.assert_array_equal(solver.objective(theta, y), best)
    y_nx = get(graph, "networkx").solve(theta)
    assert_simple_paths(graph, y_nx)
    np.testing.assert_array_equal(solver.objective(theta, y_nx), best)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_cyclic_graph_dijkstra_matches_brute_force_and_networkx(data):
    graph = data.draw(graphs(dag=False))
    theta = theta_for(data.draw, len(graph["edges"]), -3, 0)
    solver = get(graph)
    assert not solver.is_dag
    y = solver.solve(theta)
    assert_simple_paths(graph, y)
    best = brute_force_best(graph, theta)
    np.testing.assert_array_equal(solver.objective(theta, y), best)
    np.testing.assert_array_equal(
        solver.objective(theta, get(graph, "networkx").solve(theta)), best
    )


@settings(max_examples=100, deadline=None)
@given(data=st.data(), floats=st.booleans())
def test_larger_graphs_match_networkx(data, floats):
    dag = data.draw(st.booleans())
    graph = data.draw(graphs(dag=dag, max_nodes=15, max_extra=40))
    m = len(graph["edges"])
    if floats:
        lo = -1.0 if dag else 0.0
        theta = -np.array(data.draw(st.lists(st.floats(lo, 5.0), min_size=m, max_size=m)))
    else:
        theta = theta_for(data.draw, m, -3, 3 if dag else 0)
    theta = theta.reshape(-1, m)
    solver = get(graph)
    y = solver.solve(theta)
    assert_simple_paths(graph, y)
    ref = solver.objective(theta, get(graph, "networkx").solve(theta))
    np.testing.assert_allclose(solver.objective(theta, y), ref, rtol=1e-12, atol=1e-12)


@settings(max_examples=20, deadline=None)
@given(data=st.data(), dag=st.booleans())
def test_objective_matches_lp_backend(data, dag):
    graph = data.draw(graphs(dag=dag, max_nodes=5, max_extra=6))
    theta = theta_for(data.draw, len(graph["edges"]), -3, 3 if dag else 0, batch=2)
    fast, lp = get(graph), get(graph, "lp")
    y_lp = lp.solve(theta)
    assert_integral(y_lp)
    np.testing.assert_array_equal(
        fast.objective(theta, fast.solve(theta)), lp.objective(theta, y_lp)
    )


@settings(max_examples=100, deadline=None)
@given(data=st.data(), dag=st.booleans())
def test_lp_form_contains_the_path(data, dag):
    graph = data.draw(graphs(dag=dag))
    theta = theta_for(data.draw, len(graph["edges"]), -3, 3 if dag else 0, batch=1)[0]
    solver = get(graph)
    y = solver.solve(theta)
    form = solver.lp_form()
    assert form.integral_polytope and form.instance_shape == theta.shape
    assert form.is_feasible(y)
    assert form.objective_vector(theta) @ y == solver.objective(theta, y)


# -- the PyEPO grid DAG ----------------------------------------------------------------------


def test_grid_dag_layout():
    g = grid_dag(2, 3)
    assert g["n_nodes"] == 6 and g["source"] == 0 and g["target"] == 5
    # row 0: right edges, then down edges; row 1: right edges only
    assert g["edges"] == [(0, 1), (1, 2), (0, 3), (1, 4), (2, 5), (3, 4), (4, 5)]
    for k in (1, 2, 5):
        assert len(grid_dag(k)["edges"]) == 2 * k * (k - 1)
    assert grid_dag(3, 1)["edges"] == [(0, 1), (1, 2)]
    with pytest.raises(ValueError, match=PROBLEM):
        grid_dag(0)


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_grid_dag_matches_brute_force(k):
    graph = grid_dag(k)
    m = len(graph["edges"])
    rng = np.random.default_rng(k)
    theta = -rng.integers(0, 4, size=(30, m)).astype(float)
    solver = get(graph)
    assert solver.is_dag
    y = solver.solve(theta)
    if k == 1:  # source == target: the empty path
        assert y.shape == (30, 0)
        return
    assert_simple_paths(graph, y)
    assert y.sum(axis=1).tolist() == [2 * (k - 1)] * 30  # every path has 2(k-1) moves
    np.testing.assert_array_equal(solver.objective(theta, y), brute_force_best(graph, theta))


def test_grid_dag_5x5_large_batch_matches_networkx():
    graph = grid_dag(5)
    theta = -np.random.default_rng(0).integers(0, 5, size=(200, 40)).astype(float)
    solver = get(graph)
    y = solver.solve(theta)  # 200 × 40 entries: the prange kernel
    assert_simple_paths(graph, y)
    ref = get(graph, "networkx").solve(theta)
    np.testing.assert_array_equal(solver.objective(theta, y), solver.objective(theta, ref))
    np.testing.assert_array_equal(y, np.concatenate([solver.solve(t[None]) for t in theta]))


# -- graph rules, batching, dtypes, bad input -------------------------------------------------

CYCLE = {
    "n_nodes": 4,
    "edges": [(0, 1), (1, 2), (2, 1), (2, 3), (0, 2), (3, 0)],
    "source": 0,
    "target": 3,
}


@pytest.mark.parametrize("graph", [grid_dag(3), CYCLE], ids=["dag", "cyclic"])
@pytest.mark.parametrize("backend", ["numba", "networkx"])
def test_batched_dtypes_and_bad_inputs(graph, backend):
    solver = get(graph, backend)
    m = len(graph["edges"])
    theta = -np.random.default_rng(4).integers(0, 4, size=(5, m)).astype(float)
    assert_batched_equals_single(solver, theta)
    assert_dtype_rules(solver, theta)
    assert_empty_batch(solver, (m,))
    check_bad_inputs(solver, theta)
    with pytest.raises(SolverInputError, match=PROBLEM):
        solver.solve(np.zeros((2, m + 1)))  # wrong number of edges
    with pytest.raises(SolverInputError, match=f"{PROBLEM}.*overflow"):
        solver.solve(np.full(m, -1e308))  # finite costs whose path sum is inf


def test_parallel_edges_choose_the_cheaper():
    graph = {"n_nodes": 2, "edges": [(0, 1), (0, 1), (0, 1)], "source": 0, "target": 1}
    theta = -np.array([[3.0, 1.0, 2.0], [1.0, 1.0, 5.0]])
    for backend in ("numba", "networkx"):
        y = get(graph, backend).solve(theta)
        assert y[0].tolist() == [0, 1, 0]
        assert y[1].sum() == 1 and y[1, 2] == 0


def test_negative_costs_on_cyclic_graph():
    theta = -np.array([1.0, -1.0, 2.0, 1.0, 5.0, 1.0])  # edge 1 costs -1
    for backend in ("numba", "networkx", "lp"):
        with pytest.raises(SolverInputError, match=f"{PROBLEM}.*cycle.*clamp"):
            get(CYCLE, backend).solve(theta)
        y = get(CYCLE, backend, negative_costs="clamp").solve(theta)
        assert_simple_paths(CYCLE, y[None])
        clamped = np.minimum(theta, 0)
        assert get(CYCLE).objective(clamped, y) == brute_force_best(CYCLE, clamped[None])[0]


def test_source_equals_target_gives_the_empty_path():
    graph = {"n_nodes": 3, "edges": [(0, 1), (1, 2)], "source": 1, "target": 1}
    for backend in ("numba", "networkx"):
        np.testing.assert_array_equal(get(graph, backend).solve(-np.ones((2, 2))), 0)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"n_nodes": 3, "edges": [(0, 1)], "source": 0, "target": 2}, "not reachable"),
        ({"n_nodes": 3, "edges": [(1, 0), (1, 2)], "source": 0, "target": 2}, "not reachable"),
        ({"n_nodes": 3, "edges": [(0, 3)], "source": 0, "target": 2}, "endpoints"),
        ({"n_nodes": 3, "edges": [(0, -1)], "source": 0, "target": 2}, "endpoints"),
        ({"n_nodes": 3, "edges": [(0, 1), (1, 1), (1, 2)], "source": 0, "target": 2}, "self-loop"),
        ({"n_nodes": 3, "edges": [(0, 1, 2)], "source": 0, "target": 2}, "pairs"),
        ({"n_nodes": 3, "edges": [(0.0, 1.0)], "source": 0, "target": 1}, "integer"),
        ({"n_nodes": 3, "edges": [(0, 1)], "source": 0, "target": 5}, "target"),
        ({"n_nodes": 0, "edges": [], "source": 0, "target": 0}, "n_nodes"),
        (
            {"n_nodes": 2, "edges": [(0, 1)], "source": 0, "target": 1, "negative_costs": "x"},
            "negative_costs",
        ),
    ],
)
def test_constructor_rejects_bad_graphs(params, match):
    with pytest.raises(ValueError, match=f"{PROBLEM}.*{match}"):
        solvers.get(PROBLEM, **params)


def test_registered_backends():
    assert {"numba", "networkx", "lp"} <= set(solvers.backends(PROBLEM))
    assert solvers.default_backend(PROBLEM) == "numba"


def test_networkx_reference_is_optimal_when_floating_point_absorbs_costs():
    """Costs from 1e-314 to 1e219 on a DAG with parallel edges: a second relaxation of node 0
    only matches its distance (-1.5e170 - 3.5e219 == -1.7e-285 - 3.5e219), and networkx's
    Bellman-Ford then never relaxes 0's edges (a path 3.5e219 short); the reference does."""
    edges = [(0, 3), (1, 0), (1, 5), (2, 0), (2, 3), (4, 0), (4, 1), (4, 2), (4, 3), (4, 5)]
    edges += [(5, 0), (5, 2), (5, 3), (2, 3), (4, 1)]
    theta = np.array(
        [
            [-9.3652456509479767e144, -1.2663316555422952e176, 2.8518503668682805e091]
            + [3.5300174483852719e219, -1.8850918906743270e-088, -6.9866093674404514e-262]
            + [-2.6524947387065904e-314, 1.6812182738118149e-285, -6.0410219409149365e158]
            + [0.0, 32.0, 1.5095849699286165e170, -4.3655745685100555e-011]
            + [6.4836180763765515e178, -2.8118211215894977e161]
        ]
    )
    values = {}
    for backend in ("numba", "networkx", "lp"):
        solver = solvers.get(
            "shortest_path_graph", backend=backend, n_nodes=6, edges=edges, source=4, target=3
        )
        values[backend] = float(solver.objective(theta, solver.solve(theta))[0])
    assert values["networkx"] == values["numba"] == values["lp"] == 3.530017448385272e219
