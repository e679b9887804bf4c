"""Evaluating saved Warcraft runs again, and the per-class cost profile.

The profile is checked against closed forms (a scaled copy of the true costs recovers the
true ratios with no spread) and an independent grouping of the cells by terrain; a saved
run evaluated again must reproduce the metrics and profile it recorded when it finished.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from warcraft_cases import SAMPLE

import solvers
from diffsolvers.datasets.warcraft import train_channel_stats
from diffsolvers.datasets.warcraft_generator import CLASS_COSTS
from diffsolvers.experiments.cli import main as cli_main
from diffsolvers.experiments.cost_profile import (
    MAX_CLASSES,
    class_label,
    cost_profile,
    mean_profile,
)
from diffsolvers.experiments.evaluate import evaluate_run, evaluate_runs, label_ambiguity
from diffsolvers.experiments.warcraft import train_warcraft
from diffsolvers.experiments.warcraft_metrics import solve_paths
from diffsolvers.experiments.warcraft_run import WarcraftConfig

#: The class costs as the data store them (float16: 0.7998, 1.2002, 5.3008, 7.6992, 9.2031).
STORED_COSTS = CLASS_COSTS.astype(np.float16).astype(np.float64)


def _random_costs(rng: np.random.Generator, n: int = 30, k: int = 12) -> torch.Tensor:
    return torch.from_numpy(rng.choice(STORED_COSTS, size=(n, k, k)))


# -- the profile -------------------------------------------------------------------------------
def test_a_scaled_copy_of_the_true_costs_has_the_true_ratios_and_no_spread():
    true = _random_costs(np.random.default_rng(0))
    profile = cost_profile(3.5 * true, true)
    np.testing.assert_allclose(profile["true_cost"], CLASS_COSTS)
    np.testing.assert_allclose(profile["true_ratio"], CLASS_COSTS / CLASS_COSTS[0])
    # Predicted ratios are those of the stored (float16) costs, 9.2031 / 0.7998 and so on.
    np.testing.assert_allclose(profile["predicted_ratio"], STORED_COSTS / STORED_COSTS[0])
    np.testing.assert_allclose(profile["predicted_sd"], 0.0, atol=1e-12)
    assert sum(profile["cells"]) == true.numel()
    assert profile["scale"] == pytest.approx(3.5 * STORED_COSTS[0])


def test_the_profile_matches_an_independent_grouping_of_the_cells():
    rng = np.random.default_rng(1)
    true = _random_costs(rng)
    predicted = true * 2.0 + torch.from_numpy(rng.normal(0.0, 0.3, size=true.shape))
    profile = cost_profile(predicted.float(), true.float())
    c, p = true.numpy().ravel(), predicted.float().double().numpy().ravel()
    groups = [p[np.isclose(c, cost, atol=5e-3)] for cost in CLASS_COSTS]
    base = groups[0].mean()
    np.testing.assert_allclose(profile["predicted_ratio"], [g.mean() / base for g in groups])
    np.testing.assert_allclose(profile["predicted_sd"], [g.std() / base for g in groups])
    assert profile["cells"] == [g.size for g in groups]
    assert profile["scale"] == pytest.approx(base)
    tenfold = cost_profile(10.0 * predicted.float(), true.float())
    assert tenfold["scale"] == pytest.approx(10.0 * base)
    np.testing.assert_allclose(tenfold["predicted_ratio"], profile["predicted_ratio"], rtol=1e-6)


def test_the_profile_has_one_entry_per_class_present():
    true = torch.full((4, 12, 12), float(STORED_COSTS[2]))
    true[:, 0, :] = float(STORED_COSTS[4])
    profile = cost_profile(true.clone(), true)
    assert profile["true_cost"] == [5.3, 9.2]
    assert profile["cells"] == [4 * 11 * 12, 4 * 12]


def test_a_cell_mask_profiles_only_the_cells_it_marks():
    rng = np.random.default_rng(3)
    true = _random_costs(rng)
    predicted = true + torch.from_numpy(rng.normal(0.0, 0.2, size=true.shape))
    mask = torch.from_numpy(rng.random(true.shape) < 0.3)
    masked = cost_profile(predicted, true, mask)
    assert masked == cost_profile(predicted[mask], true[mask])
    assert sum(masked["cells"]) == int(mask.sum())
    assert cost_profile(predicted, true, torch.ones_like(mask)) == cost_profile(predicted, true)
    with pytest.raises(ValueError, match="cell mask"):
        cost_profile(predicted, true, mask[:2])


def test_the_profile_refuses_mismatched_shapes_and_gives_none_when_undefined():
    true = _random_costs(np.random.default_rng(2), n=3)
    with pytest.raises(ValueError, match="same shape"):
        cost_profile(true[:2], true)
    continuous = torch.linspace(0.1, 10.0, 3 * 144).reshape(3, 12, 12)
    assert len(np.unique(continuous.numpy().round(2))) > MAX_CLASSES
    assert cost_profile(continuous, continuous) is None
    assert cost_profile(torch.zeros_like(true), true) is None


def test_the_mean_profile_averages_ratios_and_spreads_over_runs():
    rng = np.random.default_rng(4)
    true = _random_costs(rng)
    noise = [torch.from_numpy(rng.normal(0, 0.1 * i, true.shape)) for i in (1, 2)]
    runs = [true * (1 + 0.1 * i) + z for i, z in zip((1, 2), noise)]
    profiles = [cost_profile(r, true) for r in runs]
    mean = mean_profile(profiles)
    for key in ("predicted_ratio", "predicted_sd"):
        np.testing.assert_allclose(mean[key], np.add(*(p[key] for p in profiles)) / 2)
    assert mean["cells"] == [2 * n for n in profiles[0]["cells"]]
    assert mean["true_cost"] == profiles[0]["true_cost"]
    assert mean["scale"] == pytest.approx((profiles[0]["scale"] + profiles[1]["scale"]) / 2)
    saved_before_scales = {k: v for k, v in profiles[1].items() if k != "scale"}
    assert "scale" not in mean_profile([profiles[0], saved_before_scales])
    assert mean_profile([profiles[0], None]) is None
    assert mean_profile([]) is None
    without_rock = cost_profile(true[true < 9], true[true < 9])
    assert mean_profile([profiles[0], without_rock]) is None


def test_class_labels_name_the_warcraft_terrains():
    assert [class_label(c) for c in (0.8, 1.2, 5.3, 7.7, 9.2)] == [
        "0.8 grass",
        "1.2 dirt",
        "5.3 forest",
        "7.7 water",
        "9.2 rock",
    ]
    assert class_label(3.0) == "3"


# -- the ambiguity of the labels --------------------------------------------------------------
def test_label_ambiguity_counts_ties_and_the_matches_on_tied_maps():
    # Map 0: equal costs on a 2×3 grid, two optimal paths; map 1: the middle column dear
    # except (1, 1), one optimal path; map 2: all equal on 2×3 again.
    costs = torch.ones(3, 2, 3, dtype=torch.float64)
    costs[1, 0, 1] = 5.0
    paths = solve_paths(solvers.get("shortest_path"), costs, torch.float64)
    other = paths.clone()
    via_top = torch.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
    via_bottom = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]], dtype=torch.float64)
    other[0] = via_bottom if torch.equal(paths[0], via_top) else via_top  # the other optimum
    assert (other[0] * costs[0]).sum() == (paths[0] * costs[0]).sum()
    assert not torch.equal(other[0], paths[0])
    ambiguity = label_ambiguity(costs, paths, other)
    assert ambiguity["unique"] == pytest.approx(1 / 3)
    assert (ambiguity["median_paths"], ambiguity["max_paths"]) == (2.0, 2.0)
    assert ambiguity["exact_tied"] == pytest.approx(0.5)  # map 2 matches, map 0 does not
    assert label_ambiguity(costs[1:2], paths[1:2], paths[1:2])["exact_tied"] is None


def test_label_ambiguity_of_the_sample_matches_the_counting_function():
    costs = torch.from_numpy(np.load(Path(SAMPLE) / "12x12" / "test_vertex_weights.npy"))
    paths = torch.from_numpy(np.load(Path(SAMPLE) / "12x12" / "test_shortest_paths.npy"))
    counts = solvers.count_optimal_paths(costs.double().numpy())
    ambiguity = label_ambiguity(costs.float(), paths.float(), paths.float())
    assert ambiguity["unique"] == pytest.approx(float(np.mean(counts == 1)))
    assert ambiguity["max_paths"] == counts.max()
    if (counts > 1).any():
        assert ambiguity["exact_tied"] == 1.0  # the labels match themselves


# -- evaluating saved runs ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    config = WarcraftConfig(
        epochs=1, batch_size=20, milestones=(1,), data=SAMPLE, threads=1, progress=False
    )
    return out, train_warcraft(config, out)


def test_a_saved_run_evaluated_again_reproduces_its_recorded_results(finished_run):
    out, recorded = finished_run
    again = evaluate_run(out)
    assert again["metrics"] == recorded["test"]
    assert again["cost_profile"] == recorded["test_cost_profile"]
    assert again["trained_on_this_data"] and not again["notes"]
    assert (again["method"], again["seed"], again["epoch"], again["n"]) == (
        "fenchel_young",
        0,
        1,
        10,
    )
    val = evaluate_run(out, data=SAMPLE, split="val")
    last = recorded["history"][-1]
    assert val["metrics"] == {k: last[f"val_{k}"] for k in val["metrics"]}
    assert evaluate_run(out, n=4)["n"] == 4
    on_path, off_path = (evaluate_run(out, cells=c)["cost_profile"] for c in ("path", "off-path"))
    path_cells = int(np.load(Path(SAMPLE) / "12x12" / "test_shortest_paths.npy")[:10].sum())
    assert sum(on_path["cells"]) == path_cells
    assert sum(off_path["cells"]) == 10 * 144 - path_cells


def _move_run_away_from_its_data(out: Path, moved: Path, keep_normalization: bool) -> None:
    """Copy a run as if its training data were gone (and, optionally, as a run saved before
    checkpoints held the image statistics)."""
    shutil.copytree(out, moved)
    config = json.loads((moved / "config.json").read_text())
    config["data"] = config["data_root"] = str(moved.parent / "gone")
    (moved / "config.json").write_text(json.dumps(config))
    if not keep_normalization:
        state = torch.load(moved / "checkpoint.pt", weights_only=False)
        del state["normalization"]
        torch.save(state, moved / "checkpoint.pt")


def test_a_run_carries_its_image_statistics_to_other_machines(finished_run, tmp_path):
    out, recorded = finished_run
    state = torch.load(out / "checkpoint.pt", weights_only=False)
    mean, std = train_channel_stats(Path(SAMPLE) / "12x12", 12)
    np.testing.assert_allclose(state["normalization"]["mean"], mean)
    np.testing.assert_allclose(state["normalization"]["std"], std)
    _move_run_away_from_its_data(out, tmp_path / "moved", keep_normalization=True)
    again = evaluate_run(tmp_path / "moved", data=SAMPLE)
    assert not again["notes"]
    assert again["metrics"] == recorded["test"]


def test_an_older_run_without_its_data_is_normalised_with_the_evaluated_datas(
    finished_run, tmp_path
):
    out, recorded = finished_run
    moved = tmp_path / "moved"
    _move_run_away_from_its_data(out, moved, keep_normalization=False)
    again = evaluate_run(moved, data=SAMPLE)
    assert len(again["notes"]) == 1 and "not here" in again["notes"][0]
    # The sample's own statistics are those the run trained with: the same results.
    assert again["metrics"] == recorded["test"]
    with pytest.raises(FileNotFoundError, match="gone"):
        evaluate_run(moved)


def test_a_run_evaluated_on_other_data_says_it_measures_a_transfer(finished_run, tmp_path):
    out, recorded = finished_run
    other = tmp_path / "other" / "12x12"
    shutil.copytree(Path(SAMPLE) / "12x12", other)
    info = json.loads((other / "info.json").read_text())
    info["dataset_params"]["seed"] = -1  # another data set, as far as the signature knows
    (other / "info.json").write_text(json.dumps(info))
    again = evaluate_run(out, data=other)
    assert not again["trained_on_this_data"]
    assert len(again["notes"]) == 1 and "transfer" in again["notes"][0]
    assert again["metrics"] == recorded["test"]  # the same maps, read from the copy


def test_evaluate_rejects_bad_arguments(finished_run, tmp_path):
    out, _ = finished_run
    with pytest.raises(ValueError, match="unknown split"):
        evaluate_run(out, split="holdout")
    with pytest.raises(ValueError, match="unknown cells"):
        evaluate_run(out, cells="near")
    with pytest.raises(FileNotFoundError, match="no checkpoint.pt"):
        evaluate_run(tmp_path)
    with pytest.raises(ValueError, match="no run folders"):
        evaluate_runs([])


def test_cli_evaluate_prints_the_table_and_writes_files(finished_run, tmp_path, capsys):
    out, recorded = finished_run
    prefix = tmp_path / "eval" / "table"
    assert cli_main(["evaluate", "warcraft", str(out), str(out), "--out", str(prefix)]) == 0
    printed = capsys.readouterr().out
    assert "test split (10 maps)" in printed
    assert "0.8 grass" in printed and "| true costs" in printed
    rows = list(csv.DictReader(prefix.with_suffix(".csv").open()))
    assert len(rows) == 2
    assert float(rows[0]["optimal"]) == pytest.approx(recorded["test"]["optimal"])
    ratio_columns = [c for c in rows[0] if c.startswith("ratio_")]
    assert ratio_columns and float(rows[0][ratio_columns[0]]) == pytest.approx(1.0)
    saved = json.loads(prefix.with_suffix(".json").read_text())
    assert saved["runs"][0]["cost_profile"] == recorded["test_cost_profile"]
    assert float(rows[0]["scale"]) == pytest.approx(recorded["test_cost_profile"]["scale"])
    assert "| scale" in printed and f"{recorded['test_cost_profile']['scale']:.3g}" in printed
    unique = saved["runs"][0]["labels"]["unique"]
    assert f"{100 * unique:.1f}% of the maps have a single optimal path" in printed
    assert "| exact % tied" in printed and "exact_tied" in rows[0]

    assert cli_main(["evaluate", "warcraft", str(out), "--cells", "path"]) == 0
    assert "over the cells on the true paths" in capsys.readouterr().out
    assert cli_main(["evaluate", "warcraft", str(tmp_path / "nothing")]) == 2
    assert "no checkpoint.pt" in capsys.readouterr().err
