"""The PyEPO side-by-side harness (benchmarks/pyepo_side_by_side): data, solvers, runs, table.

Tests that need PyEPO (the ``bench`` extra) skip without it; the rest run on diffsolvers
alone. Every run here is one epoch on a small test set: seconds, not a benchmark.
"""

from __future__ import annotations

import csv
import dataclasses
import math

import numpy as np
import pytest

from benchmarks.pyepo_side_by_side.__main__ import main
from benchmarks.pyepo_side_by_side.grid import (
    COLUMNS,
    Grid,
    append_row,
    finished_keys,
    parse_ranges,
    run_grid,
)
from benchmarks.pyepo_side_by_side.methods import METHODS, epochs_for
from benchmarks.pyepo_side_by_side.ours import MethodNotRegistered, run_ours
from benchmarks.pyepo_side_by_side.problems import (
    Cell,
    DataMismatch,
    check_pyepo_data,
    generate,
    ours_solver,
    pyepo_split,
    to_synthetic,
)
from benchmarks.pyepo_side_by_side.table import (
    BEGIN,
    END,
    load_rows,
    markdown,
    plot_regret_vs_degree,
    replace_between_markers,
    summarise,
)
from solvers.shortest_path_graph import grid_dag

OURS_NOW = list(METHODS)  # every method of the comparison is registered in diffsolvers


def _pyepo():
    return pytest.importorskip("pyepo")


# -- data -------------------------------------------------------------------------------
@pytest.mark.parametrize("problem", ["shortest_path", "knapsack"])
@pytest.mark.parametrize("deg,noise,seed", [(1, 0.0, 0), (2, 0.5, 1), (4, 0.5, 7), (6, 0.0, 3)])
def test_data_equal_pyepo_generator(problem, deg, noise, seed):
    """diffsolvers' formula fed PyEPO's random stream gives PyEPO's arrays, bit for bit."""
    pyepo = _pyepo()
    n = 60
    data = generate(Cell(problem, deg, noise, 40, seed), n_test=20)
    if problem == "shortest_path":
        x, c = pyepo.data.shortestpath.genData(n, 5, (5, 5), deg=deg, noise_width=noise, seed=seed)
    else:
        w, x, c = pyepo.data.knapsack.genData(
            n, 5, 32, dim=2, deg=deg, noise_width=noise, seed=seed
        )
        np.testing.assert_array_equal(data.weights, w)
    train, test = pyepo_split(n, 20, seed)
    np.testing.assert_array_equal(data.c_train, c[train])
    np.testing.assert_array_equal(data.c_test, c[test])
    np.testing.assert_array_equal(data.x_train, x[train].astype(np.float32))
    check_pyepo_data(data)  # the harness's own check agrees


def test_check_pyepo_data_catches_a_difference():
    _pyepo()
    data = generate(Cell("shortest_path", 2, 0.5, 30, 0), n_test=10)
    data.c_test[3, 5] += 1e-3
    with pytest.raises(DataMismatch, match="test costs"):
        check_pyepo_data(data)


@pytest.mark.parametrize("seed", [0, 5, 135])
def test_split_is_sklearns_train_test_split(seed):
    sk = pytest.importorskip("sklearn.model_selection")
    rows = np.arange(1100)
    tr, te = sk.train_test_split(rows, test_size=1000, random_state=seed)
    ours_tr, ours_te = pyepo_split(1100, 1000, seed)
    np.testing.assert_array_equal(tr, ours_tr)
    np.testing.assert_array_equal(te, ours_te)


def test_generate_is_deterministic_and_splits_all_rows():
    a = generate(Cell("knapsack", 4, 0.5, 50, 2), n_test=30)
    b = generate(Cell("knapsack", 4, 0.5, 50, 2), n_test=30)
    np.testing.assert_array_equal(a.c_train, b.c_train)
    assert a.x_train.shape == (50, 5) and a.x_test.shape == (30, 5) and a.c_test.shape == (30, 32)
    assert a.x_train.dtype == np.float32 and a.c_train.dtype == np.float32
    assert np.all(a.c_train == np.ceil(a.c_train)) and a.weights.shape == (2, 32)
    rows = np.concatenate([a.x_train, a.x_test])
    assert len(np.unique(rows, axis=0)) == 80  # every row once
    c = generate(Cell("knapsack", 4, 0.5, 50, 3), n_test=30)
    assert not np.array_equal(a.c_train, c.c_train)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(problem="tsp"), "unknown problem"),
        (dict(deg=0), "deg"),
        (dict(noise=1.0), "noise"),
        (dict(n_train=0), "n_train"),
    ],
)
def test_bad_cell_is_refused(kwargs, match):
    args = dict(problem="shortest_path", deg=1, noise=0.0, n_train=10, seed=0) | kwargs
    with pytest.raises(ValueError, match=match):
        Cell(**args)


# -- the edge order and the solvers ---------------------------------------------------------
def test_grid_edges_are_pyepos_arcs_in_order():
    _pyepo()
    from pyepo.model.ort import shortestPathModel

    assert [tuple(e) for e in grid_dag(5, 5)["edges"]] == list(shortestPathModel((5, 5)).arcs)


def test_shortest_path_same_optimum_as_pyepo_on_the_same_costs():
    """Same costs → same optimal objective, on random costs, integer costs with many ties,
    and costs that single out one path; a wrong edge order fails this test."""
    _pyepo()
    from pyepo.model.ort import shortestPathModel

    rng = np.random.default_rng(0)
    costs = [rng.uniform(0.1, 2.0, 40) for _ in range(15)]
    costs += [rng.integers(1, 3, 40).astype(float) for _ in range(10)]  # ties
    costs += [np.where(np.arange(40) % 9 == 0, 0.01, 5.0)]
    costs = np.array(costs)
    solver = __import__("solvers").get("shortest_path_graph", **grid_dag(5, 5))
    ours = (solver.solve(-costs) * costs).sum(1)
    model = shortestPathModel((5, 5))
    theirs = []
    for c in costs:
        model.setObj(c)
        sol, _ = model.solve()
        theirs.append(float(np.asarray(sol, np.float64) @ c))  # GLOP's value is within 1e-8
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    shuffled = costs[:, ::-1].copy()  # a wrong mapping (reversed edges) is caught
    wrong = (solver.solve(-shuffled) * costs).sum(1)
    assert np.any(np.abs(wrong - np.array(theirs)) > 1e-6)


@pytest.mark.parametrize("problem", ["shortest_path", "knapsack"])
def test_check_solvers_agree(problem):
    _pyepo()
    from benchmarks.pyepo_side_by_side.problems import check_solvers_agree

    data = generate(Cell(problem, 6, 0.5, 20, 1), n_test=12)
    name, params = ours_solver(data, "lp" if problem == "knapsack" else "auto")
    assert check_solvers_agree(data, name, params, n=12) < 1e-6
    if problem == "knapsack":  # a wrong capacity is caught
        params = dict(params, b_ub=params["b_ub"] / 2)
        with pytest.raises(DataMismatch, match="optimal objectives differ"):
            check_solvers_agree(data, name, params, n=12)


def test_knapsack_solver_choice():
    data = generate(Cell("knapsack", 1, 0.0, 10, 0), n_test=5)
    name, params = ours_solver(data, "lp")
    assert name == "lp" and params["A_ub"].shape == (2, 32)
    assert list(params["b_ub"]) == [20.0, 20.0]
    name, params = ours_solver(data, "multi_knapsack")
    assert name == "multi_knapsack" and params["weights"].shape == (2, 32)
    assert params["backend"] == "branch_and_bound" and params["weight_scale"] == 100
    with pytest.raises(ValueError, match="knapsack_solver"):
        ours_solver(data, "numba")
    problem = to_synthetic(data, "lp", {})
    assert problem.sign == 1.0 and len(problem) == 15
    np.testing.assert_array_equal(problem.costs[:10], data.c_train)


# -- methods -------------------------------------------------------------------------------
def test_pyepo_settings():
    assert epochs_for(100) == 200 and epochs_for(1000) == 20 and epochs_for(5000) == 4
    theirs, ours = METHODS["dbb"].options("shortest_path")
    assert theirs["lambd"] == 20.0 and ours["lambda_"] == 20.0
    assert METHODS["dbb"].options("knapsack")[0]["lambd"] == 10.0
    assert METHODS["dbb"].lr == 0.1 and METHODS["spo_plus"].lr == 0.01
    assert METHODS["dpo"].layer_loss == "regret" and METHODS["pfyl"].layer_loss == "hamming"
    assert METHODS["pfyl"].options("knapsack")[1] == {"n_samples": 1, "sigma": 1.0}


# -- one tiny run per side -----------------------------------------------------------------
@pytest.mark.parametrize("method", OURS_NOW)
def test_ours_one_epoch(method):
    data = generate(Cell("shortest_path", 2, 0.5, 64, 0), n_test=40)
    res = run_ours(data, METHODS[method], epochs=1)
    assert 0.0 <= res["regret"] < 5.0 and res["train_seconds"] > 0
    assert res["epochs"] == 1 and res["solver"] == "shortest_path_graph/numba"


def test_ours_knapsack_through_lp_one_epoch():
    data = generate(Cell("knapsack", 1, 0.5, 8, 0), n_test=8)
    res = run_ours(data, METHODS["spo_plus"], knapsack_solver="lp", epochs=1)
    assert 0.0 <= res["regret"] <= 1.0 and res["solver"] == "lp/ortools (SCIP)"


def test_ours_pending_method_says_so():
    unregistered = dataclasses.replace(METHODS["nce"], ours="no_such_method")
    data = generate(Cell("shortest_path", 1, 0.0, 8, 0), n_test=8)
    with pytest.raises(MethodNotRegistered, match="no_such_method"):
        run_ours(data, unregistered, epochs=1)


def test_grid_counts_a_method_diffsolvers_lacks_as_pending(tmp_path, monkeypatch):
    from benchmarks.pyepo_side_by_side import ours

    monkeypatch.setattr(ours, "ours_available", lambda spec: spec.name != "nce")
    grid = _tiny_grid(methods=["spo_plus", "nce"])
    counts = run_grid(grid, tmp_path / "results.csv", epochs=1, log=lambda m: None)
    assert counts == {"done": 2, "skipped": 0, "pending": 2, "failed": 0}


@pytest.mark.parametrize("method", list(METHODS))
def test_pyepo_one_epoch(method):
    _pyepo()
    from benchmarks.pyepo_side_by_side.theirs import run_pyepo

    data = generate(Cell("shortest_path", 2, 0.5, 64, 0), n_test=40)
    res = run_pyepo(data, METHODS[method], epochs=1)
    assert 0.0 <= res["regret"] < 5.0 and res["train_seconds"] > 0
    # PyEPO's own regret and diffsolvers' scoring of the same predictions agree (GLOP and
    # the DAG solver may break ties differently; random costs have none)
    assert res["regret_common"] == pytest.approx(res["regret"], rel=1e-4, abs=1e-6)


def test_same_initial_model_on_both_sides():
    """Same seed, same data: both libraries start from the same linear model, so two-stage
    regression trained to convergence by either gives nearly the same regret."""
    _pyepo()
    from benchmarks.pyepo_side_by_side.theirs import run_pyepo

    data = generate(Cell("shortest_path", 1, 0.0, 200, 4), n_test=100)
    ours = run_ours(data, METHODS["two_stage"], epochs=60)
    theirs = run_pyepo(data, METHODS["two_stage"])
    assert ours["regret"] == pytest.approx(theirs["regret"], abs=0.02)


# -- the grid --------------------------------------------------------------------------------
def _tiny_grid(**kw):
    args = dict(
        problems=["shortest_path"],
        degrees=[1, 2],
        noises=[0.5],
        sizes=[32],
        seeds=[0],
        methods=["spo_plus"],
        sides=["ours"],
        n_test=16,
    )
    return Grid(**(args | kw))


def test_grid_appends_and_resumes(tmp_path):
    path = tmp_path / "results.csv"
    log = []
    counts = run_grid(_tiny_grid(), path, epochs=1, log=log.append)
    assert counts["done"] == 2 and counts["failed"] == 0
    rows = list(csv.DictReader(path.open()))
    assert [r["deg"] for r in rows] == ["1", "2"] and set(rows[0]) == set(COLUMNS)
    assert rows[0]["solver"] == "shortest_path_graph/numba" and float(rows[0]["regret"]) >= 0
    assert any("[" in line and "regret" in line for line in log)  # progress lines
    again = run_grid(_tiny_grid(), path, epochs=1, log=log.append)
    assert again["done"] == 0 and again["skipped"] == 2
    assert len(finished_keys(path)) == 2
    more = run_grid(_tiny_grid(degrees=[1, 2, 4]), path, epochs=1, log=log.append)
    assert more["done"] == 1 and more["skipped"] == 2


def test_merge_keeps_the_latest_run_of_each_key(tmp_path, capsys):
    def write(name, rows):
        path = tmp_path / name
        for row in rows:
            append_row(path, row)
        return path

    base = {c: "" for c in COLUMNS} | {"problem": "knapsack", "deg": "1", "noise": "0.0"}
    base |= {"n_train": "100", "seed": "0", "method": "nce", "side": "ours", "solver": "s"}
    old = write("old.csv", [base | {"regret": "0.5"}, base | {"side": "pyepo", "regret": "0.4"}])
    new = write("new.csv", [base | {"regret": "0.3"}, base | {"seed": "1", "regret": "0.2"}])
    out = tmp_path / "merged.csv"
    assert main(["merge", str(out), str(old), str(new)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert [(r["side"], r["seed"], r["regret"]) for r in rows] == [
        ("ours", "0", "0.3"),  # replaced in its place by the later file
        ("pyepo", "0", "0.4"),
        ("ours", "1", "0.2"),
    ]
    assert "3 runs (of 4 rows read from 2 files)" in capsys.readouterr().out
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    assert main(["merge", str(out), str(bad)]) == 2
    assert "not a results file" in capsys.readouterr().err
    assert main(["merge", str(out), str(tmp_path / "missing.csv")]) == 2


def test_grid_logs_a_failed_run_and_goes_on(tmp_path, monkeypatch):
    from benchmarks.pyepo_side_by_side import ours

    real = ours.run_ours

    def flaky(data, spec, **kw):
        if data.cell.deg == 1:
            raise RuntimeError("solver exploded")
        return real(data, spec, **kw)

    monkeypatch.setattr(ours, "run_ours", flaky)
    path = tmp_path / "results.csv"
    counts = run_grid(_tiny_grid(), path, epochs=1, log=lambda m: None)
    assert counts == {"done": 1, "skipped": 0, "pending": counts["pending"], "failed": 1}
    errors = (tmp_path / "errors.csv").read_text()
    assert "solver exploded" in errors


def test_grid_refuses_bad_settings(tmp_path):
    with pytest.raises(ValueError, match="unknown methods"):
        _tiny_grid(methods=["spo"])
    with pytest.raises(ValueError, match="unknown sides"):
        _tiny_grid(sides=["theirs"])
    with pytest.raises(ValueError, match="seeds"):
        _tiny_grid(seeds=[])
    bad = tmp_path / "other.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="not a results file"):
        finished_keys(bad)


def test_parse_ranges():
    assert parse_ranges("0-2,5") == [0, 1, 2, 5]
    with pytest.raises(ValueError):
        parse_ranges(",")


# -- the table -------------------------------------------------------------------------------
def _write_csv(path, rows):
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        for r in rows:
            writer.writerow({k: r.get(k, "") for k in COLUMNS})


def _row(deg, method, side, seed, regret, seconds, cpu=None):
    return dict(
        problem="shortest_path",
        deg=deg,
        noise=0.5,
        n_train=100,
        seed=seed,
        method=method,
        side=side,
        solver="shortest_path_graph/numba" if side == "ours" else "pyepo.model.ort/glop",
        regret=regret,
        regret_common=regret,
        train_seconds=seconds,
        train_cpu_seconds=seconds if cpu is None else cpu,
        epochs=200,
    )


def test_table_from_a_small_csv(tmp_path):
    rows = []
    for seed, (o, p) in enumerate([(0.10, 0.11), (0.12, 0.13), (0.14, 0.12)]):
        rows += [
            _row(1, "spo_plus", "ours", seed, o, 2.0),
            _row(1, "spo_plus", "pyepo", seed, p, 16.0, cpu=12.0),
        ]
    for seed in range(3):  # far apart with small spread: not within noise
        rows += [_row(2, "pfyl", "ours", seed, 0.10 + 0.001 * seed, 1.0)]
        rows += [_row(2, "pfyl", "pyepo", seed, 0.30 + 0.001 * seed, 4.0)]
    rows.append(_row(2, "nce", "pyepo", 0, 0.2, 3.0))  # PyEPO only
    rows += [_row(2, "dbb", s, 0, r, 1.0) for s, r in (("ours", 0.12), ("pyepo", 0.2))]
    rows.append(_row(2, "dbb_exact_optimum", "pyepo", 0, 0.13, 1.0))
    path = tmp_path / "r.csv"
    _write_csv(path, rows)
    summaries = summarise(load_rows(path))
    by = {(s.deg, s.method): s for s in summaries}
    spo = by[1, "spo_plus"]
    assert spo.stats("ours") == pytest.approx((0.12, 0.02, 3))
    assert spo.paired()[0] == pytest.approx(0.0)
    assert spo.within_noise() is True and by[2, "pfyl"].within_noise() is False
    assert by[2, "nce"].within_noise() is None and math.isnan(by[2, "nce"].stats("ours")[0])
    text = markdown(summaries, {("shortest_path", "shortest_path_graph/numba"): "fig.png"})
    assert (
        "| 100 | 0.5 | 1 | spo_plus | 12.00 ± 2.00 | 12.00 ± 1.00 | +0.00 ± 1.73 | 3 | yes" in text
    )
    assert "| 6.0× | 8.0× |" in text and "**no**" in text and "![shortest_path" in text
    spo_row = "| spo_plus | 1 (1) | 12.00 | 12.00 | 1 / 1 | 6.0× [6.0, 6.0] | 8.0× [8.0, 8.0] |"
    assert spo_row in text
    assert "| nce | 0 (1) | — | — | — |" in text  # one side only: no means compared
    assert "| 100 | 0.5 | 2 | dbb | 20.00 | 13.00 | 12.00 |" in text  # the diagnostic table
    assert "| dbb_exact_optimum |" not in text.split("??? note")[0]  # not a summary row
    figure = tmp_path / "f.png"
    plot_regret_vs_degree(summaries, figure, "test")
    assert figure.stat().st_size > 1000


def test_page_markers():
    page = f"# Title\n\nprose\n\n{BEGIN}\nold\n{END}\n\nmore prose\n"
    new = replace_between_markers(page, "| new |")
    assert "old" not in new and "| new |" in new and new.endswith("more prose\n")
    assert replace_between_markers(new, "| newer |").count(BEGIN) == 1
    with pytest.raises(ValueError, match="markers|needs one"):
        replace_between_markers("no markers", "x")


# -- the command line ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "argv,match",
    [
        (["run", "--methods", "spo"], "unknown methods"),
        (["run", "--noise", "1.5"], "noise"),
        (["run", "--threads", "0"], "threads"),
        (["table", "/nonexistent/results.csv"], "No such file"),
    ],
)
def test_cli_bad_input(argv, match, capsys):
    assert main(argv) == 2
    assert match in capsys.readouterr().err


def test_cli_table_writes_page_and_figure(tmp_path, capsys):
    path = tmp_path / "r.csv"
    _write_csv(
        path, [_row(1, "spo_plus", "ours", 0, 0.1, 1.0), _row(1, "spo_plus", "pyepo", 0, 0.1, 9.0)]
    )
    page = tmp_path / "page.md"
    page.write_text(f"intro\n{BEGIN}\n{END}\n")
    assert main(["table", str(path), "--page", str(page), "--figures", str(tmp_path / "fig")]) == 0
    assert "9.0×" in page.read_text()
    assert (tmp_path / "fig" / "pyepo_side_by_side_shortest_path.png").exists()
