"""Maximum spanning tree: Numba Prim/Kruskal vs networkx vs SciPy vs LP vs brute force."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from solver_checks import (
    assert_batched_equals_single,
    assert_dtype_rules,
    assert_empty_batch,
    assert_integral,
    assert_same_objective,
    check_bad_inputs,
)

import solvers
from solvers.base import SolverInputError
from solvers.spanning_tree import _rank_weights


@st.composite
def graphs(draw, max_nodes=8, max_extra=12):
    """A random connected graph: a random tree plus extra edges, shuffled and reoriented."""
    n = draw(st.integers(1, max_nodes))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    perm = rng.permutation(n)
    edges = {tuple(sorted((perm[i], perm[rng.integers(0, i)]))) for i in range(1, n)}
    others = [p for p in itertools.combinations(range(n), 2) if p not in edges]
    k = min(len(others), draw(st.integers(0, max_extra)))
    edges |= {others[i] for i in rng.choice(len(others), size=k, replace=False)}
    edges = [(v, u) if rng.random() < 0.5 else (u, v) for u, v in edges]
    rng.shuffle(edges)
    return n, [(int(u), int(v)) for u, v in edges], rng


def tree_check(n: int, edges, y: np.ndarray) -> None:
    """``y`` (B, E) marks n - 1 edges that connect all n nodes (independent union-find)."""
    assert_integral(y)
    assert np.all((y == 0) | (y == 1))
    for row in y:
        chosen = [edges[e] for e in np.flatnonzero(row)]
        assert len(chosen) == n - 1
        parent = list(range(n))
        for u, v in chosen:
            ru, rv = _root(parent, u), _root(parent, v)
            assert ru != rv, "the chosen edges contain a cycle"
            parent[ru] = rv


def _root(parent: list[int], x: int) -> int:
    while parent[x] != x:
        x = parent[x]
    return x


def brute_force_best(n: int, edges, theta: np.ndarray) -> float:
    best = -np.inf
    for subset in itertools.combinations(range(len(edges)), n - 1):
        y = np.zeros((1, len(edges)))
        y[0, list(subset)] = 1
        try:
            tree_check(n, edges, y)
        except AssertionError:
            continue
        best = max(best, theta[list(subset)].sum())
    return best


def build(n, edges, backend=None, **kw):
    return solvers.get("spanning_tree", backend, n_nodes=n, edges=edges, **kw)


@settings(max_examples=150, deadline=None)
@given(graphs(), st.integers(1, 4))
def test_backends_agree_on_integer_scores(graph, batch):
    n, edges, rng = graph
    theta = rng.integers(-2, 3, size=(batch, len(edges))).astype(np.float64)
    reference = build(n, edges, "networkx")
    best = reference.objective(theta, reference.solve(theta))
    candidates = [build(n, edges, algorithm=a) for a in ("prim", "kruskal")]
    candidates += [build(n, edges), build(n, edges, "scipy")]
    for solver in candidates:
        y = solver.solve(theta)
        tree_check(n, edges, y)
        np.testing.assert_array_equal(solver.objective(theta, y), best, err_msg=repr(solver))


@settings(max_examples=100, deadline=None)
@given(graphs(max_nodes=6, max_extra=5))
def test_matches_brute_force(graph):
    n, edges, rng = graph
    theta = rng.integers(-2, 3, size=len(edges)).astype(np.float64)
    for algorithm in ("prim", "kruskal"):
        solver = build(n, edges, algorithm=algorithm)
        y = solver.solve(theta)
        tree_check(n, edges, y[None])
        assert solver.objective(theta, y) == brute_force_best(n, edges, theta)


@settings(max_examples=20, deadline=None)
@given(graphs(max_nodes=6, max_extra=5))
def test_matches_lp_backend(graph):
    n, edges, rng = graph
    theta = rng.integers(-3, 4, size=(2, len(edges))).astype(np.float64)
    _, y_lp = assert_same_objective(build(n, edges), build(n, edges, "lp"), theta)
    tree_check(n, edges, y_lp)


@settings(max_examples=60, deadline=None)
@given(graphs(max_nodes=40, max_extra=200), st.sampled_from([np.float32, np.float64]))
def test_distinct_float_scores_give_the_unique_tree(graph, dtype):
    """With distinct scores the maximum spanning tree is unique: every backend returns it."""
    n, edges, rng = graph
    theta = rng.permutation(len(edges)).astype(dtype) + rng.random(len(edges)).astype(dtype) / 2
    theta = np.stack([theta, -theta])
    y = build(n, edges, "networkx").solve(theta)
    tree_check(n, edges, y)
    for solver in (build(n, edges, algorithm=a) for a in ("prim", "kruskal")):
        out = solver.solve(theta)
        assert out.dtype == dtype
        np.testing.assert_array_equal(out, y)
    np.testing.assert_array_equal(build(n, edges, "scipy").solve(theta), y)


def test_complete_graph_default_order_and_density_choice():
    solver = solvers.get("spanning_tree", n_nodes=5)
    assert [tuple(e) for e in solver.edges] == list(itertools.combinations(range(5), 2))
    assert solver.instance_shape == (10,)
    assert solver.algorithm == "prim"
    path = [(i, i + 1) for i in range(29)] + [(0, 29)]
    assert build(30, path).algorithm == "kruskal"


def test_costs_enter_as_negative_scores():
    edges = [(0, 1), (1, 2), (0, 2), (2, 3)]
    costs = np.array([1.0, 2.0, 5.0, 1.0])
    y = build(4, edges).solve(solvers.costs_to_theta(costs))
    np.testing.assert_array_equal(y, [1, 1, 0, 1])


@pytest.mark.parametrize("backend", ["numba", "networkx", "scipy"])
def test_degenerate_graphs(backend):
    single = build(1, None, backend)
    assert single.n_edges == 0
    assert single.solve(np.zeros((3, 0))).shape == (3, 0)
    assert build(1, [], backend).solve(np.zeros(0)).shape == (0,)
    pair = build(2, None, backend)
    np.testing.assert_array_equal(pair.solve(np.array([[-4.0], [0.0]])), [[1.0], [1.0]])
    tree = [(0, 1), (1, 2), (1, 3)]  # a tree: every edge is taken
    np.testing.assert_array_equal(build(4, tree, backend).solve(np.array([-1.0, 0.0, 2.0])), 1)
    zeros = build(6, None, backend).solve(np.zeros((2, 15)))  # all ties
    tree_check(6, list(itertools.combinations(range(6), 2)), zeros)


@pytest.mark.parametrize("backend", ["numba", "networkx", "scipy"])
def test_contract(backend):
    solver = build(6, None, backend)
    theta = np.random.default_rng(0).integers(-3, 4, size=(5, 15)).astype(np.float64)
    assert_batched_equals_single(solver, theta)
    assert_dtype_rules(solver, theta)
    assert_empty_batch(solver, (15,))
    check_bad_inputs(solver, theta)
    with pytest.raises(SolverInputError, match="spanning_tree.*shape"):
        solver.solve(np.zeros((2, 14)))


@pytest.mark.parametrize(
    ("n", "edges", "match"),
    [
        (4, [(0, 1), (2, 3)], "disconnected"),
        (3, [(0, 1)], "disconnected"),
        (3, [(0, 1), (1, 1), (1, 2)], "self-loop"),
        (3, [(0, 1), (1, 3)], "0..2"),
        (3, [(0, 1), (-1, 2)], "0..2"),
        (3, [(0, 1), (1, 2), (2, 1)], "more than once"),
        (3, [(0, 1, 2)], "pairs"),
        (3, [(0, 1), (1, 2, 0)], r"edges must be a sequence of \(u, v\) pairs"),
        (3, [(0, 1), [2]], r"edges must be a sequence of \(u, v\) pairs"),
        (2, [], "disconnected"),
    ],
)
def test_bad_graphs(n, edges, match):
    with pytest.raises(SolverInputError, match=f"spanning_tree.*{match}"):
        build(n, edges)


def test_bad_construction_arguments():
    with pytest.raises(ValueError, match="spanning_tree.*n_nodes"):
        build(0, None)
    with pytest.raises(ValueError, match="spanning_tree.*n_nodes"):
        build(True, None)
    with pytest.raises(TypeError, match="spanning_tree.*integers"):
        build(3, [(0, 1.5), (1, 2)])
    with pytest.raises(ValueError, match="spanning_tree.*algorithm"):
        build(3, None, algorithm="boruvka")


def test_lp_form():
    solver = build(4, [(0, 1), (1, 2), (2, 3), (0, 3), (0, 2)])
    form = solver.lp_form()
    assert form.instance_shape == (5,) and not form.integral_polytope
    assert form.integrality.all()  # the flows on a tree are integral too

    def point(y):  # route one unit from node 0 to every node along the tree
        y = np.asarray(y, dtype=float)
        x = np.concatenate([y, np.zeros(10)])
        import networkx as nx

        g = nx.Graph([tuple(solver.edges[e]) for e in np.flatnonzero(y)])
        for target in range(1, 4):
            path = nx.shortest_path(g, 0, target)
            for a, b in zip(path, path[1:]):
                e = next(k for k, (u, v) in enumerate(solver.edges) if {u, v} == {a, b})
                x[5 + e if solver.edges[e][0] == a else 10 + e] += 1
        return x

    assert form.is_feasible(point([1, 1, 1, 0, 0]))
    assert form.is_feasible(point([0, 1, 0, 1, 1]))
    cycle = np.concatenate([[1, 1, 0, 0, 1], np.zeros(10)])  # 0-1-2-0 cycle misses node 3
    assert not form.is_feasible(cycle)
    with pytest.raises(SolverInputError, match="spanning_tree"):
        solver.lp_form((4,))


@pytest.mark.parametrize(
    "theta",
    [[1e-17, -1e-17, 2e-17], [1.7e308, -1.7e308, -1e308], [5e-324, 0.0, -5e-324]],
)
def test_close_and_extreme_scores(theta):
    """Scores closer than one ulp of 1, or near the float64 limit: every backend keeps the
    two highest-scoring edges of the triangle, without overflow warnings."""
    theta = np.array(theta)
    expected = np.zeros(3)
    expected[np.argsort(theta)[1:]] = 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for backend in ("numba", "networkx", "scipy"):
            np.testing.assert_array_equal(build(3, None, backend).solve(theta), expected, backend)


@settings(max_examples=60, deadline=None)
@given(graphs(max_nodes=12, max_extra=30), st.sampled_from([2.0**-1000, 2.0**-56, 1.0, 2.0**1000]))
def test_scipy_matches_networkx_on_scores_a_few_ulps_apart(graph, scale):
    """Distinct scores give a unique tree, however close the scores are (a power-of-two
    scale keeps the scores ``scale·(1 + k·eps)`` exact and distinct)."""
    n, edges, rng = graph
    theta = scale * (1.0 + np.finfo(float).eps * rng.permutation(len(edges)))
    theta *= rng.choice([-1.0, 1.0])
    expected = build(n, edges, "networkx").solve(theta)
    np.testing.assert_array_equal(build(n, edges, "scipy").solve(theta), expected)
    np.testing.assert_array_equal(build(n, edges).solve(theta), expected)


def test_rank_weights_keep_order_and_ties():
    theta = np.array([3.0, -1.0, 3.0, 0.0, 1e-300])
    np.testing.assert_array_equal(_rank_weights(theta), [1.0, 4.0, 1.0, 3.0, 2.0])
