"""Warcraft labels must be optimal paths: checked on load against an independent reference.

The reference is networkx: a label is accepted exactly when its cells induce, in the
8-neighbour grid graph, a path graph from (0, 0) to (k-1, k-1) whose cost is the Dijkstra
optimum (within the float16 tolerance). Every simple path of small grids, random cell sets
and tie-rich costs are compared; then the loader's refusals and reports on real-layout
folders, and the command line's.
"""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from warcraft_cases import SAMPLE

import solvers
from diffsolvers.datasets.warcraft import WarcraftDataError, WarcraftShortestPath, load_split
from diffsolvers.datasets.warcraft_generator import CLASS_COSTS
from diffsolvers.datasets.warcraft_labels import (
    LABEL_RTOL,
    WarcraftLabelWarning,
    check_labels,
    label_problems,
)
from diffsolvers.experiments.cli import main as cli_main


def grid_graph(k: int) -> nx.Graph:
    graph = nx.Graph()
    cells = list(itertools.product(range(k), range(k)))
    graph.add_nodes_from(cells)
    for (i, j), (di, dj) in itertools.product(cells, itertools.product((-1, 0, 1), repeat=2)):
        if (di or dj) and 0 <= i + di < k and 0 <= j + dj < k:
            graph.add_edge((i, j), (i + di, j + dj))
    return graph


def optimum(costs: np.ndarray) -> float:
    """Dijkstra on vertex costs with networkx (the cost of the start included)."""
    k = costs.shape[0]
    graph = grid_graph(k).to_directed()
    for u, v in graph.edges:
        graph.edges[u, v]["w"] = float(costs[v])
    length = nx.dijkstra_path_length(graph, (0, 0), (k - 1, k - 1), weight="w")
    return float(costs[0, 0]) + length


def reference_ok(costs: np.ndarray, label: np.ndarray) -> bool:
    k = costs.shape[0]
    cells = [tuple(c) for c in np.argwhere(label > 0.5)]
    sub = grid_graph(k).subgraph(cells)
    ends = {(0, 0), (k - 1, k - 1)}
    if not ends <= set(cells) or not nx.is_connected(sub):
        return False
    degrees = dict(sub.degree())
    if k > 1 and any(degrees[c] != (1 if c in ends else 2) for c in cells):
        return False
    cost = float((costs.astype(np.float64) * (label > 0.5)).sum())
    return cost <= optimum(costs.astype(np.float64)) * (1 + LABEL_RTOL)


def as_grid(k: int, cells) -> np.ndarray:
    label = np.zeros((k, k), np.float32)
    for c in cells:
        label[c] = 1
    return label


@pytest.mark.parametrize("k", [1, 2, 3])
def test_every_simple_path_of_small_grids_is_judged_as_the_reference_judges_it(k):
    rng = np.random.default_rng(k)
    graph = grid_graph(k)
    paths = [[(0, 0)]] if k == 1 else list(nx.all_simple_paths(graph, (0, 0), (k - 1, k - 1)))
    for _ in range(3):
        # few cost levels: many ties among optimal paths
        costs = rng.choice([1.0, 2.0, 3.0], size=(k, k)).astype(np.float32)
        labels = np.stack([as_grid(k, p) for p in paths])
        got = ~label_problems(np.broadcast_to(costs, labels.shape), labels)["bad"]
        want = [reference_ok(costs, label) for label in labels]
        assert got.tolist() == want
        assert any(want)  # the optimal ones, however many tie, are accepted


@pytest.mark.parametrize("k", [3, 4, 6, 12])
def test_random_cell_sets_and_solver_paths_are_judged_as_the_reference_judges_them(k):
    rng = np.random.default_rng(100 + k)
    n = 60
    costs = rng.choice(CLASS_COSTS, size=(n, k, k)).astype(np.float16).astype(np.float32)
    solver = solvers.get("shortest_path")
    optimal = solver.solve(solvers.costs_to_theta(costs.astype(np.float64))).astype(np.float32)
    labels = optimal.copy()
    kinds = rng.integers(0, 4, size=n)
    for i, kind in enumerate(kinds):
        if kind == 1:  # a random set with both ends
            labels[i] = rng.random((k, k)) < 0.3
        elif kind == 2:  # another map's path: a path, rarely optimal here
            labels[i] = optimal[(i + 1) % n]
        elif kind == 3:  # one cell of the path removed (a gap) or one added (a bump)
            on = np.argwhere(labels[i] > 0)[1:-1]
            off = np.argwhere(labels[i] == 0)
            pick = on if len(on) and rng.random() < 0.5 else off
            if len(pick):
                cell = tuple(pick[rng.integers(len(pick))])
                labels[i][cell] = 1 - labels[i][cell]
        labels[i, 0, 0] = labels[i, -1, -1] = 1
    got = ~label_problems(costs, labels)["bad"]
    want = [reference_ok(costs[i], labels[i]) for i in range(n)]
    assert got.tolist() == want
    assert got[kinds == 0].all()


def test_the_float16_tolerance_accepts_nominal_optima_and_nothing_costlier():
    """Two paths tie on the nominal costs (1.2 + 1.2 = 0.8 + 0.8 + 0.8) but not on the
    float16-stored ones (1.2002, 0.7998): both are accepted; a costlier path is not."""
    nominal = np.full((4, 4), 9.2)
    nominal[0, 0] = nominal[3, 3] = 0.8
    nominal[1, 1] = nominal[2, 2] = 1.2  # A: the diagonal
    nominal[0, 1] = nominal[1, 2] = nominal[2, 3] = 0.8  # B: one above it
    stored = nominal.astype(np.float16).astype(np.float32)
    a = as_grid(4, [(0, 0), (1, 1), (2, 2), (3, 3)])
    b = as_grid(4, [(0, 0), (0, 1), (1, 2), (2, 3), (3, 3)])
    costlier = as_grid(4, [(0, 0), (1, 1), (1, 2), (2, 3), (3, 3)])  # 4.4 against 4.0
    labels = np.stack([a, b, costlier])
    found = label_problems(np.broadcast_to(stored, labels.shape), labels)
    assert found["bad"].tolist() == [False, False, True]
    assert 0 < found["excess"][0] <= LABEL_RTOL and found["excess"][1] == 0
    assert found["excess"][2] == pytest.approx(0.1, rel=2e-3)


# -- the loader ------------------------------------------------------------------------------
@pytest.fixture
def sample_copy(tmp_path) -> Path:
    folder = tmp_path / "12x12"
    shutil.copytree(Path(SAMPLE) / "12x12", folder)
    return folder


def _spoil(folder: Path, split: str, how: str, index: int) -> None:
    """Replace one label of ``split`` as the adversarial cases of the issue do."""
    path = folder / f"{split}_shortest_paths.npy"
    paths = np.load(path)
    costs = np.load(folder / f"{split}_vertex_weights.npy").astype(np.float64)
    k = paths.shape[-1]
    if how == "blob":
        paths[index, :4, :4] = 1
    elif how == "ends":
        paths[index] = 0
        paths[index, 0, 0] = paths[index, -1, -1] = 1
    elif how == "gap":
        cells = np.argwhere(paths[index] > 0)
        paths[index][tuple(cells[len(cells) // 2])] = 0
    elif how == "other":
        own = (costs[index] * paths[index]).sum()
        other = next(j for j in range(len(paths)) if (costs[index] * paths[j]).sum() > own * 1.01)
        paths[index] = paths[other]
    assert paths[index, 0, 0] == 1 and paths[index, k - 1, k - 1] == 1
    np.save(path, paths)


@pytest.mark.parametrize(
    ("split", "how", "reason"),
    [
        ("test", "blob", "not one 8-neighbour path"),
        ("test", "ends", "not one 8-neighbour path"),
        ("test", "other", "costlier than the optimum"),
        ("train", "gap", "not one 8-neighbour path"),
    ],
)
def test_the_loader_refuses_labels_that_are_not_optimal_paths(sample_copy, split, how, reason):
    _spoil(sample_copy, split, how, index=3)
    _spoil(sample_copy, split, how, index=7)
    with pytest.raises(WarcraftDataError) as info:
        load_split(sample_copy, split, 12)
    message = str(info.value)
    assert f"({split} split)" in message and "2 of " in message and reason in message
    assert "example 3, 7" in message and "--labels report" in message
    with pytest.warns(WarcraftLabelWarning, match=r"2 of \d+ labels are not optimal"):
        ds = WarcraftShortestPath(sample_copy, 12, split, normalize="unit", labels="report")
    assert len(ds) == len(np.load(sample_copy / f"{split}_shortest_paths.npy"))
    load_split(sample_copy, split, 12, labels="trust")  # not looked at


def test_the_committed_sample_and_every_optimal_tie_are_accepted(sample_copy):
    for split in ("train", "val", "test"):
        load_split(sample_copy, split, 12)
    costs = np.load(sample_copy / "test_vertex_weights.npy").astype(np.float64)
    counts = solvers.count_optimal_paths(costs)
    i = int(np.argmax(counts))
    assert counts[i] > 1
    # every optimal path of the most tied map, drawn with random tie-breaking
    rng = np.random.default_rng(0)
    jittered = costs[i] + 1e-7 * rng.random((200, 12, 12))
    found = solvers.get("shortest_path").solve(solvers.costs_to_theta(jittered))
    distinct = np.unique(found.reshape(200, -1), axis=0).reshape(-1, 12, 12)
    assert len(distinct) > 1
    assert not label_problems(np.broadcast_to(costs[i], distinct.shape), distinct)["bad"].any()
    assert check_labels(costs[[i]], found[:1], where="x").size == 0


def test_check_labels_refuses_an_unknown_mode():
    with pytest.raises(ValueError, match="labels='strict'"):
        check_labels(np.ones((1, 2, 2)), np.ones((1, 2, 2)), where="x", mode="strict")


# -- the command line --------------------------------------------------------------------------
def test_train_and_evaluate_refuse_bad_labels_unless_asked_to_report(sample_copy, tmp_path, capsys):
    _spoil(sample_copy, "test", "other", index=0)
    run = tmp_path / "run"
    argv = ["train", "warcraft", "--method", "two_stage", "--data", str(sample_copy)]
    argv += ["--epochs", "1", "--batch-size", "20", "--n-train", "40", "--n-val", "10"]
    argv += ["--threads", "1", "--no-progress", "--out", str(run)]
    assert cli_main(argv) == 2
    err = capsys.readouterr().err
    assert "(test split): 1 of 10 labels are not optimal paths" in err
    assert "Traceback" not in err and not (run / "checkpoint.pt").exists()
    assert cli_main([*argv, "--labels", "report"]) == 0
    captured = capsys.readouterr()
    assert "diffsolvers: warning:" in captured.err and "1 of 10 labels" in captured.err
    assert "test: optimal-cost paths" in captured.out
    evaluate = ["evaluate", "warcraft", str(run), "--threads", "1"]
    assert cli_main(evaluate) == 2
    assert "1 of 10 labels are not optimal paths" in capsys.readouterr().err
    assert cli_main([*evaluate, "--labels", "report"]) == 0


def test_zero_cost_cells_are_refused_at_load_by_training_and_evaluation(
    sample_copy, tmp_path, capsys
):
    """One rule: zero-cost cells are refused wherever data are loaded (they used to train
    and then fail in evaluation's count of optimal paths)."""
    run = tmp_path / "run"
    argv = ["train", "warcraft", "--method", "two_stage", "--data", str(sample_copy)]
    argv += ["--epochs", "1", "--batch-size", "20", "--threads", "1", "--no-progress"]
    assert cli_main([*argv, "--out", str(run)]) == 0
    weights = np.load(sample_copy / "train_vertex_weights.npy")
    weights[5, 3, 4] = 0
    np.save(sample_copy / "train_vertex_weights.npy", weights)
    assert cli_main([*argv, "--out", str(tmp_path / "other")]) == 2
    err = capsys.readouterr().err
    assert "train_vertex_weights.npy" in err and "zero-cost cells" in err and "example 5" in err
    assert cli_main(["evaluate", "warcraft", str(run), "--split", "train"]) == 2
    assert "zero-cost cells" in capsys.readouterr().err
