"""Grid shortest path (the Warcraft problem): labels, optimality, paths, input checks."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from solver_checks import (
    assert_batched_equals_single,
    assert_dtype_rules,
    assert_empty_batch,
    assert_integral,
    check_bad_inputs,
)

import solvers
from solvers.base import SolverInputError
from solvers.shortest_path import grid_edges

BACKENDS = ["numba", "python", "scipy", "networkx"]
# Warcraft vertex weights as stored (float16), cast to float64 as a data loader does.
WARCRAFT = [float(np.float16(v)) for v in (0.8, 1.2, 5.3, 7.7, 9.2)]
SMALL_INTS = [0.0, 1.0, 2.0, 3.0]


def get(backend: str, neighbourhood: int = 8, **kw) -> solvers.Solver:
    return solvers.get("shortest_path", backend=backend, neighbourhood=neighbourhood, **kw)


@st.composite
def cost_batches(draw, max_side: int = 7, max_batch: int = 4, values=None):
    """``(B, H, W)`` non-negative costs: small integers (many ties) or Warcraft values."""
    h = draw(st.integers(1, max_side))
    w = draw(st.integers(1, max_side))
    b = draw(st.integers(1, max_batch))
    vals = values if values is not None else draw(st.sampled_from([SMALL_INTS, WARCRAFT]))
    return draw(arrays(np.float64, (b, h, w), elements=st.sampled_from(vals)))


def path_order(y: np.ndarray, neighbourhood: int) -> list[tuple[int, int]] | None:
    """The cells of ``y`` as a simple (0,0)→(H-1,W-1) path visiting each exactly once, or None."""
    h, w = y.shape
    cells = {tuple(c) for c in np.argwhere(y == 1).tolist()}
    if not np.isin(y, (0.0, 1.0)).all() or (0, 0) not in cells or (h - 1, w - 1) not in cells:
        return None
    moves = [m for m in itertools.product((-1, 0, 1), repeat=2) if m != (0, 0)]
    if neighbourhood == 4:
        moves = [m for m in moves if abs(m[0]) + abs(m[1]) == 1]

    def extend(path: list, seen: set) -> list | None:
        r, c = path[-1]
        if (r, c) == (h - 1, w - 1):
            return path if len(path) == len(cells) else None
        for dr, dc in moves:
            nxt = (r + dr, c + dc)
            if nxt in cells and nxt not in seen:
                seen.add(nxt)
                found = extend(path + [nxt], seen)
                if found:
                    return found
                seen.discard(nxt)
        return None

    return extend([(0, 0)], {(0, 0)})


def assert_valid_paths(y: np.ndarray, costs: np.ndarray, neighbourhood: int) -> None:
    assert_integral(y)
    for b in range(y.shape[0]):
        assert path_order(y[b], neighbourhood) is not None, f"instance {b} is not a path:\n{y[b]}"


# -- the Warcraft labelling rule --------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(costs=cost_batches(), neighbourhood=st.sampled_from([4, 8]))
def test_numba_reproduces_python_labels_exactly(costs, neighbourhood):
    y_numba = get("numba", neighbourhood).solve(-costs)
    y_python = get("python", neighbourhood).solve(-costs)
    np.testing.assert_array_equal(y_numba, y_python)
    assert_valid_paths(y_numba, costs, neighbourhood)


@pytest.mark.parametrize("neighbourhood", [4, 8])
@pytest.mark.parametrize("shape", [(1, 1), (1, 2), (2, 1), (1, 6), (6, 1), (2, 2), (3, 3)])
def test_degenerate_sizes(shape, neighbourhood):
    rng = np.random.default_rng(hash(shape) % 2**32)
    costs = np.concatenate(
        [
            np.zeros((1, *shape)),  # every path ties
            np.ones((1, *shape)),
            rng.integers(0, 3, size=(20, *shape)).astype(float),
        ]
    )
    y = get("numba", neighbourhood).solve(-costs)
    np.testing.assert_array_equal(y, get("python", neighbourhood).solve(-costs))
    assert_valid_paths(y, costs, neighbourhood)
    if shape[0] == 1 or shape[1] == 1:  # a single row or column: the path is every cell
        np.testing.assert_array_equal(y, np.ones_like(costs))


def test_tie_breaking_hand_derived_examples():
    """Small cases worked out by hand from the labelling rule."""
    # 2x2, 4-neighbourhood, equal costs: (0,1) and (1,0) both reach distance 2; (0,1) is
    # popped first (row 0 < row 1) and gives (1,1) its predecessor, so the path goes right.
    y = get("numba", 4).solve(-np.ones((2, 2)))
    np.testing.assert_array_equal(y, [[1, 1], [0, 1]])
    # 3x3, 8-neighbourhood, equal costs: the diagonal is the unique shortest path.
    y = get("numba", 8).solve(-np.ones((3, 3)))
    np.testing.assert_array_equal(y, np.eye(3))
    # 2x3, 8-neighbourhood, all zero: from (0,0) the scan order reaches (0,1), (1,0), (1,1);
    # (0,1) is popped next and relaxes (0,2) and (1,2) first, so the target's predecessor is
    # (0,1), found before (1,1) is popped.
    y = get("numba", 8).solve(np.zeros((2, 3)))
    np.testing.assert_array_equal(y, [[1, 1, 0], [0, 0, 1]])


@pytest.mark.parametrize("values", [WARCRAFT, SMALL_INTS], ids=["warcraft", "ties"])
@pytest.mark.parametrize("shape", [(12, 12), (30, 30), (32, 32), (33, 31), (40, 40)])
@pytest.mark.parametrize("neighbourhood", [4, 8])
def test_grid_sizes_on_both_frontiers_match_python(shape, values, neighbourhood):
    """Grids up to ``BUCKETED_FRONTIER_MAX_CELLS`` cells use the bucketed frontier, larger ones
    in a heap: both reproduce the reference labels, ties and zero costs included."""
    rng = np.random.default_rng(shape[0] * 100 + shape[1])
    costs = rng.choice(values, size=(16, *shape))  # large enough for the prange kernel
    y = get("numba", neighbourhood).solve(-costs)
    np.testing.assert_array_equal(y, get("python", neighbourhood).solve(-costs))
    assert_valid_paths(y, costs, neighbourhood)


@pytest.mark.parametrize(
    "values",
    [
        [0.0, 1e-300, 5.0],
        [0.0, 1e-310, 3e-310],
        [0.0, 1e300],
        [0.0, 1e-3, 1.0, 1e3],
        [2.0**-30, 1.0, 1.0 + 2.0**-40],
    ],
    ids=["tiny-and-large", "all-subnormal", "huge-scale", "six-decades", "near-ties"],
)
@pytest.mark.parametrize("shape", [(12, 12), (30, 30)])
def test_bucketed_frontier_on_extreme_cost_scales_matches_python(values, shape):
    """Bucket indices ``⌊d · N / c_max⌋`` must keep the exact (distance, index) order for
    costs far below the bucket width, near-equal distances and huge costs (costs whose sums
    could overflow are rejected by the input checks)."""
    rng = np.random.default_rng(len(values) * 1000 + shape[0])
    costs = rng.choice(values, size=(16, *shape))
    for neighbourhood in (4, 8):
        y = get("numba", neighbourhood).solve(-costs)
        np.testing.assert_array_equal(y, get("python", neighbourhood).solve(-costs))


# -- optimality against independent references ------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(costs=cost_batches(), neighbourhood=st.sampled_from([4, 8]))
def test_objective_matches_scipy_and_networkx(costs, neighbourhood):
    theta = -costs
    ref = get("numba", neighbourhood)
    obj = ref.objective(theta, ref.solve(theta))
    integer = np.array_equal(costs, np.round(costs))
    for backend in ("scipy", "networkx"):
        solver = get(backend, neighbourhood)
        y = solver.solve(theta)
        assert_valid_paths(y, costs, neighbourhood)
        other = solver.objective(theta, y)
        if integer:
            np.testing.assert_array_equal(obj, other, err_msg=backend)
        else:
            np.testing.assert_allclose(obj, other, rtol=1e-12, atol=0, err_msg=backend)


@settings(max_examples=25, deadline=None)
@given(
    costs=cost_batches(max_side=4, max_batch=2, values=SMALL_INTS),
    neighbourhood=st.sampled_from([4, 8]),
)
def test_objective_matches_lp_backend(costs, neighbourhood):
    theta = -costs
    fast, lp = get("numba", neighbourhood), get("lp", neighbourhood)
    y_lp = lp.solve(theta)
    assert_integral(y_lp)
    np.testing.assert_array_equal(
        fast.objective(theta, fast.solve(theta)), lp.objective(theta, y_lp)
    )


@settings(max_examples=100, deadline=None)
@given(costs=cost_batches(max_side=5, max_batch=1), neighbourhood=st.sampled_from([4, 8]))
def test_lp_form_contains_the_path(costs, neighbourhood):
    """The numba path, written as edge flows, is feasible for the LP form with the same value."""
    solver = get("numba", neighbourhood)
    theta = -costs[0]
    y = solver.solve(theta)
    h, w = theta.shape
    form = solver.lp_form(shape=(h, w))
    assert form.integral_polytope and form.instance_shape == (h, w)
    edges = {tuple(e): i for i, e in enumerate(grid_edges((h, w), neighbourhood).tolist())}
    x = np.zeros(form.n_vars)
    cells = path_order(y, neighbourhood)
    for (r0, c0), (r1, c1) in zip(cells[:-1], cells[1:]):
        x[edges[(r0 * w + c0, r1 * w + c1)]] = 1.0
    x[form.y_index] = y
    assert form.is_feasible(x)
    assert form.objective_vector(theta) @ x == pytest.approx(solver.objective(theta, y))


# -- batching, dtypes, bad input -------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_batched_equals_single_and_dtypes(backend):
    rng = np.random.default_rng(1)
    theta = -rng.integers(0, 4, size=(5, 4, 6)).astype(float)
    solver = get(backend)
    assert_batched_equals_single(solver, theta)
    assert_dtype_rules(solver, theta)
    assert_empty_batch(solver, (4, 6))
    y3 = solver.solve(theta.reshape(1, 5, 4, 6))
    assert y3.shape == (1, 5, 4, 6)


def test_float32_input_same_labels_as_float64_of_same_values():
    rng = np.random.default_rng(2)
    costs32 = rng.choice(WARCRAFT, size=(50, 12, 12)).astype(np.float32)
    y32 = get("numba").solve(-costs32)
    assert y32.dtype == np.float32
    np.testing.assert_array_equal(y32, get("python").solve(-costs32.astype(np.float64)))


@pytest.mark.parametrize("backend", BACKENDS)
def test_bad_inputs_raise_clear_errors(backend):
    solver = get(backend)
    check_bad_inputs(solver, -np.ones((2, 3, 3)))
    with pytest.raises(SolverInputError, match="shortest_path.*costs must be >= 0"):
        solver.solve(np.array([[-1.0, 0.5], [-1.0, -1.0]]))
    with pytest.raises(SolverInputError, match="shortest_path"):
        solver.solve(-np.ones(5))  # one axis: not a grid
    with pytest.raises(SolverInputError, match="shortest_path.*overflow"):
        solver.solve(np.full((3, 3), -1e308))  # finite costs whose path sum is inf


@pytest.mark.parametrize("backend", BACKENDS)
def test_clamp_solves_the_clamped_instance(backend):
    rng = np.random.default_rng(3)
    theta = rng.normal(-1.0, 1.5, size=(20, 6, 6))  # many negative costs, as after noise
    assert (theta > 0).any()
    y = get(backend, negative_costs="clamp").solve(theta)
    assert_valid_paths(y, -theta, 8)
    clamped = np.minimum(theta, 0)
    expected = get("python").solve(clamped)
    obj = get("numba").objective
    np.testing.assert_allclose(obj(clamped, y), obj(clamped, expected), rtol=1e-12, atol=1e-12)


def test_constructor_rejects_bad_options():
    with pytest.raises(ValueError, match="shortest_path.*neighbourhood"):
        solvers.get("shortest_path", neighbourhood=6)
    with pytest.raises(ValueError, match="shortest_path.*negative_costs"):
        solvers.get("shortest_path", negative_costs="ignore")
    with pytest.raises(ValueError, match="shortest_path.*lp_form"):
        get("numba").lp_form()


def test_registered_backends():
    assert {"numba", "python", "scipy", "networkx", "lp"} <= set(solvers.backends("shortest_path"))
    assert solvers.default_backend("shortest_path") == "numba"


@pytest.mark.parametrize("backend", [*BACKENDS, "lp"])
@pytest.mark.parametrize("shape", [(0, 5), (5, 0), (1, 0), (0, 0), (2, 0, 5), (3, 4, 0)])
def test_grid_without_cells_raises(backend, shape):
    """A path needs a source and a target cell: H = 0 or W = 0 is rejected before any
    backend runs, while an empty batch of real grids stays valid."""
    solver = get(backend)
    with pytest.raises(SolverInputError, match="shortest_path: the grid's height and width"):
        solver.solve(np.zeros(shape))
    assert solver.solve(np.zeros((0, 2, 3))).shape == (0, 2, 3)
