"""Counting the optimal paths of grid instances: brute force, networkx, closed forms, errors."""

from __future__ import annotations

import itertools
import math

import networkx as nx
import numpy as np
import pytest

import solvers
from solvers.base import SolverInputError
from solvers.optimal_paths import count_optimal_paths

WARCRAFT = [float(np.float16(v)) for v in (0.8, 1.2, 5.3, 7.7, 9.2)]


def moves(neighbourhood: int) -> list[tuple[int, int]]:
    steps = [m for m in itertools.product((-1, 0, 1), repeat=2) if m != (0, 0)]
    return steps if neighbourhood == 8 else [m for m in steps if 0 in m]


def brute_force_count(costs: np.ndarray, neighbourhood: int) -> int:
    """Every simple path from corner to corner, enumerated; the number of least-cost ones."""
    h, w = costs.shape
    best, count = math.inf, 0
    stack = [((0, 0), ((0, 0),), costs[0, 0])]
    while stack:
        cell, path, cost = stack.pop()
        if cell == (h - 1, w - 1):
            if cost < best - 1e-12:
                best, count = cost, 1
            elif abs(cost - best) <= 1e-12:
                count += 1
            continue
        for dr, dc in moves(neighbourhood):
            nxt = (cell[0] + dr, cell[1] + dc)
            if 0 <= nxt[0] < h and 0 <= nxt[1] < w and nxt not in path:
                stack.append((nxt, path + (nxt,), cost + costs[nxt]))
    return count


def networkx_count(costs: np.ndarray, neighbourhood: int) -> int:
    """Shortest paths by networkx on the directed grid whose move u → v costs c(v)."""
    h, w = costs.shape
    g = nx.DiGraph()
    g.add_node((0, 0))
    for r, c in itertools.product(range(h), range(w)):
        for dr, dc in moves(neighbourhood):
            if 0 <= r + dr < h and 0 <= c + dc < w:
                g.add_edge((r, c), (r + dr, c + dc), weight=float(costs[r + dr, c + dc]))
    return sum(1 for _ in nx.all_shortest_paths(g, (0, 0), (h - 1, w - 1), weight="weight"))


@pytest.mark.parametrize("neighbourhood", [8, 4])
def test_matches_brute_force_on_tiny_grids(neighbourhood):
    rng = np.random.default_rng(0)
    for _ in range(60):
        h, w = rng.integers(1, 4, size=2)
        costs = rng.choice([1.0, 2.0], size=(h, w))  # two values: many ties
        assert count_optimal_paths(costs, neighbourhood) == brute_force_count(costs, neighbourhood)


@pytest.mark.parametrize("neighbourhood", [8, 4])
@pytest.mark.parametrize("values", [[1.0, 2.0, 3.0], WARCRAFT], ids=["small_ints", "warcraft"])
def test_matches_networkx_on_random_grids(neighbourhood, values):
    rng = np.random.default_rng(1)
    batch = [rng.choice(values, size=tuple(rng.integers(1, 8, size=2))) for _ in range(150)]
    counts = [count_optimal_paths(costs, neighbourhood) for costs in batch]
    assert counts == [networkx_count(costs, neighbourhood) for costs in batch]
    assert max(counts) > 1  # the draws do contain ties


def test_batch_equals_one_grid_at_a_time():
    rng = np.random.default_rng(2)
    costs = rng.choice(WARCRAFT, size=(40, 12, 12))
    counts = count_optimal_paths(costs)
    assert counts.shape == (40,) and counts.dtype == np.float64
    assert counts.tolist() == [count_optimal_paths(c) for c in costs]


def test_closed_forms_of_uniform_grids():
    # 4 moves, equal costs: the monotone lattice paths, C(H + W - 2, H - 1).
    assert count_optimal_paths(np.ones((5, 7)), 4) == math.comb(10, 4)
    # 8 moves, equal costs, a square: the diagonal only.
    assert count_optimal_paths(np.full((9, 9), 2.5)) == 1
    # 8 moves, 2 × W: W - 1 column steps, the row free at each of the W - 2 inner columns.
    for w in range(2, 12):
        assert count_optimal_paths(np.ones((2, w))) == 2 ** (w - 2)
    # Beyond 2**53 the count is a float64 approximation of C(58, 29).
    assert count_optimal_paths(np.ones((30, 30)), 4) == pytest.approx(math.comb(58, 29), rel=1e-12)


def test_one_cell_and_one_row():
    assert count_optimal_paths(np.ones((1, 1))) == 1
    assert count_optimal_paths(np.ones((1, 6))) == 1


def test_the_solver_label_is_one_of_the_counted_paths():
    """A unique count means the solver's (tie-broken) path is the only optimal one: a
    strictly cheaper detour is impossible, checked by raising each other cell's cost."""
    rng = np.random.default_rng(3)
    costs = rng.choice(WARCRAFT, size=(200, 6, 6))
    counts = count_optimal_paths(costs)
    labels = solvers.get("shortest_path")(-costs)
    for c, y, n in zip(costs, labels, counts):
        assert n >= 1
        # Raising the cost of cells off the label keeps the label optimal and leaves one path.
        bumped = np.where(y > 0, c, c + 0.5)
        assert count_optimal_paths(bumped) == 1


def test_rtol_makes_near_ties_ties():
    costs = np.ones((2, 3))
    costs[0, 1] += 1e-12  # the path through (0, 1) is 1e-12 dearer
    assert count_optimal_paths(costs, rtol=0.0) == 1
    assert count_optimal_paths(costs) == 2


@pytest.mark.parametrize(
    "costs, match",
    [
        (np.ones(4), r"shape \(H, W\) or \(B, H, W\)"),
        (np.ones((1, 2, 3, 4)), r"shape \(H, W\) or \(B, H, W\)"),
        (np.ones((3, 0)), "H, W >= 1"),
        (np.array([[1.0, np.nan]]), "NaN"),
        (np.array([[1.0, np.inf]]), "inf"),
        (np.array([[1.0, 0.0]]), "must be > 0"),
        (np.array([[1.0, -2.0]]), "must be > 0"),
    ],
)
def test_bad_costs_raise_naming_the_problem(costs, match):
    with pytest.raises(SolverInputError, match=match):
        count_optimal_paths(costs)


def test_bad_options_and_types_raise():
    with pytest.raises(TypeError, match="numeric"):
        count_optimal_paths(np.array([["a"]]))
    with pytest.raises(ValueError, match="neighbourhood"):
        count_optimal_paths(np.ones((2, 2)), neighbourhood=6)
    with pytest.raises(ValueError, match="rtol"):
        count_optimal_paths(np.ones((2, 2)), rtol=-1.0)


def test_costs_whose_path_sum_overflows_raise():
    """1e308 per cell is finite, but a path's sum is inf: every distance ties at inf and
    the count came out 0. Raised as the grid solver does."""
    with pytest.raises(SolverInputError, match="count_optimal_paths: costs up to .* overflow"):
        count_optimal_paths(np.full((3, 3), 1e308))
    # 9 cells of 1e307 sum to 9e307 < 1.8e308: counted as the unit grid is
    assert count_optimal_paths(np.full((3, 3), 1e307)) == count_optimal_paths(np.ones((3, 3)))


@pytest.mark.parametrize("rtol", ["a", None, [1e-9], True, 1j])
def test_rtol_of_the_wrong_type_is_a_type_error_naming_rtol(rtol):
    with pytest.raises(TypeError, match="count_optimal_paths: rtol must be a real number"):
        count_optimal_paths(np.ones((2, 2)), rtol=rtol)


@pytest.mark.parametrize("rtol", [np.nan, np.inf, -1e-12, 1e-3])
def test_rtol_out_of_range_is_a_value_error_naming_rtol(rtol):
    with pytest.raises(ValueError, match="count_optimal_paths: rtol must lie in"):
        count_optimal_paths(np.ones((2, 2)), rtol=rtol)


def test_rtol_accepts_numpy_scalars():
    assert count_optimal_paths(np.ones((2, 3)), rtol=np.float32(0.0)) == 2
    assert count_optimal_paths(np.ones((2, 3)), rtol=0) == 2


def test_tensors_and_masked_costs():
    torch = pytest.importorskip("torch")
    costs = np.array([[1.0, 2.0], [2.0, 1.0]])
    assert count_optimal_paths(torch.from_numpy(costs)) == count_optimal_paths(costs)
    with pytest.raises(TypeError, match="count_optimal_paths: costs .*requires grad.*detach"):
        count_optimal_paths(torch.tensor(costs, requires_grad=True))
    with pytest.raises(SolverInputError, match="count_optimal_paths: costs is a masked array"):
        count_optimal_paths(np.ma.masked_greater(costs, 1.5))
