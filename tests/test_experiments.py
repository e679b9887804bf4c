"""Training, comparison and synthetic-suite tests on the committed Warcraft sample.

Every run here is tiny (a few batches of the 40/10/10-map sample or a few hundred synthetic
instances); what is checked is the machinery: files and tables are well formed, resuming
skips finished work and continues interrupted work exactly, training improves on the
untrained model, and the synthetic generators are deterministic with the documented costs.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from warcraft_cases import SAMPLE, TINY

import solvers
from diffsolvers.datasets.synthetic import SYNTHETIC_PROBLEMS, make_synthetic
from diffsolvers.datasets.warcraft_symmetries import (
    SYMMETRIES,
    apply_symmetries,
    draw_symmetries,
    random_symmetry,
)
from diffsolvers.experiments import compare as compare_module
from diffsolvers.experiments import compare_synthetic as compare_synthetic_module
from diffsolvers.experiments import warcraft as warcraft_module
from diffsolvers.experiments import warcraft_data, warcraft_run
from diffsolvers.experiments.cli import main as cli_main
from diffsolvers.experiments.compare import compare_warcraft
from diffsolvers.experiments.compare_synthetic import compare_synthetic
from diffsolvers.experiments.models import WarcraftCNN
from diffsolvers.experiments.objectives import hamming_loss, make_objective
from diffsolvers.experiments.plots import validation_curve
from diffsolvers.experiments.synthetic import SyntheticConfig, _fit_least_squares, train_synthetic
from diffsolvers.experiments.warcraft import load_data, train_warcraft
from diffsolvers.experiments.warcraft_metrics import evaluate, path_metrics, random_tie_paths
from diffsolvers.experiments.warcraft_run import RunAlreadyExists, resolve_device

#: Each symmetry of ``random_symmetry`` on one ``(..., n, n)`` grid.
SYMMETRY_MAPS = {
    "identity": lambda x: x,
    "transpose": lambda x: x.transpose(-1, -2),
    "rot180": lambda x: x.flip(-1, -2),
    "antitranspose": lambda x: x.transpose(-1, -2).flip(-1, -2),
}


# -- metrics ---------------------------------------------------------------------------------
def test_path_metrics_by_hand():
    costs = torch.ones(2, 3, 3)
    costs[:, 1, 1] = 5.0
    y_true = torch.zeros(2, 3, 3)
    y_true[:, [0, 1, 2], [0, 2, 2]] = 1.0  # (0,0) (1,2) (2,2): cost 3
    y_pred = y_true.clone()
    y_pred[1] = 0.0
    y_pred[1, [0, 1, 2], [0, 1, 2]] = 1.0  # diagonal through the 5: cost 7
    m = path_metrics(costs, y_true, y_pred)
    assert m["exact"] == 0.5
    assert m["optimal"] == 0.5
    assert m["regret"] == pytest.approx((0.0 + 4.0 / 3.0) / 2)
    assert m["normalized_regret"] == pytest.approx(4.0 / 6.0)
    assert m["cell_acc"] == pytest.approx(16 / 18)  # two cells differ


def test_path_metrics_counts_an_equal_cost_path_as_optimal():
    costs = torch.ones(1, 2, 2)
    y_true = torch.tensor([[[1.0, 1.0], [0.0, 1.0]]])
    y_pred = torch.tensor([[[1.0, 0.0], [1.0, 1.0]]])
    m = path_metrics(costs, y_true, y_pred)
    assert (m["exact"], m["optimal"], m["regret"]) == (0.0, 1.0, 0.0)


def test_hamming_objective_sums_over_cells_and_averages_over_the_batch():
    y_true = torch.zeros(2, 3, 3)
    y_true[:, 0, 0] = 1.0
    y_pred = y_true.clone()
    y_pred[0, 2, 2] = 1.0  # one wrong cell
    y_pred[1] = 1.0 - y_true[1]  # all nine wrong
    assert float(hamming_loss(y_pred, y_true)) == pytest.approx((1 + 9) / 2)
    c_hat = torch.rand(2, 3, 3, requires_grad=True)
    hamming_loss(c_hat, y_true).backward()  # ∂L/∂ŷ = (1 − 2y) / B per entry
    torch.testing.assert_close(c_hat.grad, (1.0 - 2.0 * y_true) / 2)


# -- Warcraft training -----------------------------------------------------------------------
def test_train_warcraft_writes_every_output(tmp_path):
    res = train_warcraft(TINY, tmp_path)
    for name in ("config.json", "metrics.json", "metrics.csv", "checkpoint.pt"):
        assert (tmp_path / name).stat().st_size > 0, name
    for name in ("curves.png", "examples.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    on_disk = json.loads((tmp_path / "metrics.json").read_text())
    assert on_disk["test"] == res["test"]
    assert set(res["test"]) == {"exact", "optimal", "regret", "normalized_regret", "cell_acc"}
    assert 0.0 <= res["test"]["exact"] <= res["test"]["optimal"] <= 1.0
    assert res["test"]["regret"] >= -1e-9
    (row,) = list(csv.DictReader((tmp_path / "metrics.csv").open()))
    assert int(row["epoch"]) == 1
    for key in ("data_seconds", "step_seconds", "solver_seconds"):
        assert 0.0 <= float(row[key]) <= float(row["epoch_seconds"]) + 1e-6
    assert 0.0 < float(row["solver_share"]) < 1.0


def test_train_refuses_an_existing_run_and_a_changed_config(tmp_path):
    train_warcraft(TINY, tmp_path)
    with pytest.raises(RunAlreadyExists, match="resume"):
        train_warcraft(TINY, tmp_path)
    with pytest.raises(RunAlreadyExists, match=r"lr: 0\.0005 → 0\.001"):
        train_warcraft(dataclasses.replace(TINY, lr=1e-3), tmp_path, resume=True)


def test_interrupted_then_resumed_run_equals_an_uninterrupted_one(tmp_path, monkeypatch):
    config = dataclasses.replace(TINY, epochs=3, milestones=(2,))
    straight = train_warcraft(config, tmp_path / "straight")

    with monkeypatch.context() as mp:
        _interrupt_at_validation(mp, call=2)  # validation of epoch 2: epoch 1 is saved
        with pytest.raises(KeyboardInterrupt):
            train_warcraft(config, tmp_path / "resumed")
    saved = torch.load(tmp_path / "resumed" / "checkpoint.pt", weights_only=False)
    assert saved["epoch"] == 1

    resumed = train_warcraft(config, tmp_path / "resumed", resume=True)
    assert [h["epoch"] for h in resumed["history"]] == [1, 2, 3]
    for a, b in zip(straight["history"], resumed["history"]):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-6)
        assert a["val_regret"] == pytest.approx(b["val_regret"], rel=1e-6, abs=1e-9)
        assert a["lr"] == b["lr"]
    assert resumed["test"] == pytest.approx(straight["test"], rel=1e-6, abs=1e-9)
    # the lr each epoch trained with: 5e-4 for epochs 1-2, ÷ 10 after epoch 2
    assert [h["lr"] for h in resumed["history"]] == pytest.approx([5e-4, 5e-4, 5e-5])


def test_random_symmetry_keeps_the_path_ends_and_optimal_costs():
    rng = np.random.default_rng(0)
    costs = torch.from_numpy(rng.choice([0.8, 1.2, 5.3, 7.7, 9.2], size=(64, 6, 6)))
    images = torch.arange(64 * 3 * 48 * 48, dtype=torch.float64).reshape(64, 3, 48, 48)
    solver = solvers.get("shortest_path")
    paths = torch.from_numpy(solver.solve(-costs.numpy()))
    img_t, cost_t, path_t = random_symmetry(
        images, costs, paths, generator=torch.Generator().manual_seed(1)
    )
    seen = set()
    for b in range(64):
        # the one symmetry applied to sample b, found from its cost grid, moved the image too
        matches = [
            name
            for name, f in SYMMETRY_MAPS.items()
            if torch.equal(f(images[b]), img_t[b]) and torch.equal(f(costs[b]), cost_t[b])
        ]
        assert len(matches) == 1, matches
        seen.add(matches[0])
        assert torch.equal(SYMMETRY_MAPS[matches[0]](paths[b]), path_t[b])
        # ends stay put, and the moved path is an optimal path of the moved costs
        assert path_t[b, 0, 0] == 1 and path_t[b, -1, -1] == 1
        best = solver.solve(-cost_t[b].numpy())
        assert float((cost_t[b] * path_t[b]).sum()) == pytest.approx(
            float((cost_t[b].numpy() * best).sum())
        )
    assert seen == set(SYMMETRIES)
    with pytest.raises(ValueError, match="square"):
        random_symmetry(torch.zeros(2, 3, 4))
    with pytest.raises(ValueError, match="batch first"):
        random_symmetry(torch.zeros(2, 4, 4), torch.zeros(3, 4, 4))


def test_symmetries_drawn_for_a_batch_and_applied_to_its_parts_move_it_as_a_whole():
    costs = torch.rand(9, 5, 5, generator=torch.Generator().manual_seed(0))
    images = torch.rand(9, 3, 40, 40, generator=torch.Generator().manual_seed(1))
    whole = random_symmetry(images, costs, generator=torch.Generator().manual_seed(2))
    choices = draw_symmetries(9, torch.Generator().manual_seed(2))
    assert choices.dtype == torch.int64 and set(choices.tolist()) <= set(range(len(SYMMETRIES)))
    parts = [apply_symmetries(choices[p], images[p], costs[p]) for p in (slice(0, 5), slice(5, 9))]
    for i, moved in enumerate(whole):
        assert torch.equal(torch.cat([part[i] for part in parts]), moved)
    for b, c in enumerate(choices.tolist()):
        assert torch.equal(whole[1][b], SYMMETRY_MAPS[SYMMETRIES[c]](costs[b]))
    assert apply_symmetries(choices[:0], costs[:0])[0].shape == (0, 5, 5)
    with pytest.raises(ValueError, match=r"must lie in 0\.\.3"):
        apply_symmetries(torch.tensor([0, 4]), costs[:2])
    with pytest.raises(ValueError, match="1-D integer tensor"):
        apply_symmetries(torch.tensor([0.0, 1.0]), costs[:2])
    with pytest.raises(ValueError, match="for 3 symmetries"):
        apply_symmetries(choices[:3], costs[:2])


def test_a_config_saved_before_a_field_existed_takes_its_default():
    saved = TINY.to_dict()
    del saved["augment"]  # as written before the option existed
    assert warcraft_run.config_mismatch(saved, TINY.to_dict()) is None
    changed = dataclasses.replace(TINY, augment=True).to_dict()
    assert "augment: False → True" in warcraft_run.config_mismatch(saved, changed)


def test_the_data_path_counts_only_for_runs_saved_without_a_data_signature():
    by_default = TINY.to_dict() | {"data": None}
    by_path = TINY.to_dict() | {"data": "/somewhere/12x12"}
    signature = {"dataset_params": {"seed": 0}, "files": {"train_maps.npy": 10}}
    saved = by_path | {"data_root": "/somewhere/12x12", "data_signature": signature}
    assert warcraft_run.config_mismatch(saved, by_default) is None
    assert "data: '/somewhere/12x12' → None" in warcraft_run.config_mismatch(by_path, by_default)
    other_run = by_default | {"seed": TINY.seed + 1}
    assert "seed" in warcraft_run.config_mismatch(saved, other_run)


def test_device_is_checked_first_and_is_not_part_of_a_runs_identity(tmp_path, capsys):
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        assert resolve_device("auto") == torch.device("cpu")
        with pytest.raises(ValueError, match="no CUDA device"):
            resolve_device("cuda")
        out = tmp_path / "gpu"
        cli = ["train", "warcraft", "--data", SAMPLE, "--device", "cuda", "--out", str(out)]
        with pytest.raises(SystemExit) as exit_:
            cli_main(cli)
        assert exit_.value.code == 2
        err = capsys.readouterr().err
        assert "argument --device" in err and "no CUDA device" in err and not out.exists()
    on_gpu = dataclasses.replace(TINY, device="cuda:1").to_dict()
    assert warcraft_run.config_mismatch(TINY.to_dict(), on_gpu) is None


def test_training_with_augmentation_runs_and_is_a_different_run(tmp_path):
    config = dataclasses.replace(TINY, augment=True)
    res = train_warcraft(config, tmp_path / "aug")
    assert 0.0 <= res["test"]["optimal"] <= 1.0
    plain = train_warcraft(TINY, tmp_path / "plain")
    assert res["history"][0]["train_loss"] != plain["history"][0]["train_loss"]
    with pytest.raises(RunAlreadyExists, match="augment: True → False"):
        train_warcraft(TINY, tmp_path / "aug", resume=True)


def test_random_tie_paths_are_optimal_and_random_among_the_ties():
    rng = np.random.default_rng(0)
    stored = [float(np.float16(v)) for v in (0.8, 1.2, 5.3, 7.7, 9.2)]
    costs = torch.from_numpy(rng.choice(stored, size=(300, 8, 8)))
    solver = solvers.get("shortest_path")
    reference = torch.from_numpy(solver.solve(-costs.numpy()))
    jitter = torch.from_numpy(rng.uniform(size=tuple(costs.shape)))
    drawn = random_tie_paths(solver, costs, jitter, torch.float64)
    assert torch.equal((costs * drawn).sum((1, 2)), (costs * reference).sum((1, 2)))
    same = (drawn == reference).flatten(1).all(1).numpy()
    counts = solvers.count_optimal_paths(costs.numpy())
    assert same[counts == 1].all()  # a unique optimum is the label whatever the jitter
    assert not same[counts > 1].all()  # on tied maps some labels change
    # Two optimal paths on a 2×3 grid of equal costs: each is drawn about half the time.
    flat = torch.ones(1, 2, 3, dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    draws = [torch.rand(1, 2, 3, generator=g, dtype=torch.float64) for _ in range(400)]
    via_top = sum(int(random_tie_paths(solver, flat, j, torch.float64)[0, 0, 1]) for j in draws)
    assert 160 < via_top < 240
    # A path 5e-8 dearer than the optimum is within the jitter: refused, not returned.
    near = flat.clone()
    near[0, 0, 1] += 5e-8
    push = torch.zeros(1, 2, 3, dtype=torch.float64)
    push[0, 1, 1] = 1.0
    with pytest.raises(ValueError, match="not optimal"):
        random_tie_paths(solver, near, push, torch.float64)


def test_training_with_random_ties_relabels_the_train_split_only(tmp_path, monkeypatch):
    calls = []

    def spy(solver, costs, jitter, dtype):
        calls.append(costs.shape[0])
        return random_tie_paths(solver, costs, jitter, dtype)

    monkeypatch.setattr(warcraft_module, "random_tie_paths", spy)
    monkeypatch.setattr(warcraft_data, "random_tie_paths", spy)
    config = dataclasses.replace(TINY, ties="random")
    res = train_warcraft(config, tmp_path / "random")
    assert calls == [TINY.n_train]  # the train split, once; val and test keep their labels
    plain = train_warcraft(TINY, tmp_path / "plain")
    assert res["history"][0]["train_loss"] != plain["history"][0]["train_loss"]
    with pytest.raises(RunAlreadyExists, match="ties: 'random' → 'reference'"):
        train_warcraft(TINY, tmp_path / "random", resume=True)
    augmented = dataclasses.replace(config, augment=True)
    train_warcraft(augmented, tmp_path / "augmented")
    assert calls[1:] == [20, 20]  # with augmentation: each moved batch, not the split first
    with pytest.raises(ValueError, match="unknown ties 'first'"):
        train_warcraft(dataclasses.replace(TINY, ties="first"), tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


def test_validation_curve_is_the_mean_and_sd_over_runs_cut_to_the_shortest():
    runs = [
        [{"val_optimal": v} for v in (0.5, 0.7, 0.9)],
        [{"val_optimal": v} for v in (0.7, 0.9)],
    ]
    epochs, mean, sd = validation_curve(runs)
    np.testing.assert_array_equal(epochs, [1, 2])
    np.testing.assert_allclose(mean, [60.0, 80.0])
    np.testing.assert_allclose(sd, [np.sqrt(200.0), np.sqrt(200.0)])  # ddof = 1
    epochs, mean, sd = validation_curve(runs[:1])
    np.testing.assert_allclose(mean, [50.0, 70.0, 90.0])
    assert sd is None and epochs.tolist() == [1, 2, 3]


def test_short_training_beats_the_untrained_model():
    """Fenchel-Young training on the 40 sample maps raises the optimal-cost share on the
    20 held-out maps (val + test) above that of the untrained CNN and halves its regret."""
    config = dataclasses.replace(
        TINY, epochs=8, batch_size=10, lr=5e-3, milestones=(8,), n_val=None, n_test=None
    )
    splits, _, _ = load_data(config)
    held_out = [torch.cat([splits["val"][i], splits["test"][i]]) for i in range(3)]
    solver = solvers.get("shortest_path")
    torch.manual_seed(config.seed)
    untrained, _, _ = evaluate(WarcraftCNN(12), solver, *held_out)

    state = {}
    real_evaluate = warcraft_module.evaluate

    def keep_model(model, *args, **kwargs):
        state["model"] = model
        return real_evaluate(model, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(warcraft_module, "evaluate", keep_model)
        import tempfile

        with tempfile.TemporaryDirectory() as out:
            train_warcraft(config, out)
    trained, _, _ = evaluate(state["model"], solver, *held_out)
    assert trained["optimal"] >= untrained["optimal"] + 0.1, (untrained, trained)
    assert trained["normalized_regret"] < 0.5 * untrained["normalized_regret"], (
        untrained,
        trained,
    )


# -- Warcraft comparison ---------------------------------------------------------------------
def test_compare_warcraft_table_files_and_resume(tmp_path, monkeypatch, capsys):
    methods = ["fenchel_young", "two_stage"]
    result = compare_warcraft(methods, [0], tmp_path, TINY)
    text = capsys.readouterr().out
    for method in methods:
        assert method in text
        run = tmp_path / method / "seed0"
        assert (run / "metrics.json").exists() and (run / "checkpoint.pt").exists()
    assert "optimal-cost paths %" in text and "±" in text
    rows = list(csv.DictReader((tmp_path / "summary.csv").open()))
    assert [r["method"] for r in rows] == methods
    for row in rows:
        assert 0.0 <= float(row["optimal_mean"]) <= 1.0
        assert float(row["optimal_sd"]) == 0.0  # one seed
        assert float(row["seconds_per_epoch_mean"]) > 0.0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["table"] == result["table"]
    assert "Predicted cost per terrain class" in text and "| true costs" in text
    assert summary["profile_table"] == result["profile_table"]
    for method in methods:
        recorded = json.loads((tmp_path / method / "seed0" / "metrics.json").read_text())
        assert summary["cost_profiles"][method] == recorded["test_cost_profile"]  # one seed
    assert (tmp_path / "validation_curves.png").read_bytes()[:4] == b"\x89PNG"

    def must_not_train(*args, **kwargs):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(compare_module, "train_warcraft", must_not_train)
    again = compare_warcraft(methods, [0], tmp_path, TINY)
    text = capsys.readouterr().out
    assert "finished earlier: skipped" in text and "different devices" not in text
    assert again["table"] == result["table"]
    assert [r["devices"] for r in again["rows"]] == ["cpu", "cpu"]
    assert again["paired"] is None and "Paired by seed" not in text

    paired = compare_warcraft(methods, [0], tmp_path, TINY, reference="two_stage")
    text = capsys.readouterr().out
    assert "Paired by seed against two_stage" in text and "fenchel_young" in paired["paired_table"]
    fy, two_stage = (
        json.loads((tmp_path / m / "seed0" / "metrics.json").read_text()) for m in methods
    )
    difference = paired["paired"]["optimal"]["fenchel_young"]
    assert difference["mean"] == pytest.approx(fy["test"]["optimal"] - two_stage["test"]["optimal"])
    assert difference["low"] is None  # one seed: no interval
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["paired"]["reference"] == "two_stage"
    assert summary["paired_table"] == paired["paired_table"]

    finished = tmp_path / "two_stage" / "seed0" / "metrics.json"
    moved = json.loads(finished.read_text()) | {"device": "cuda:0"}
    del moved["test_cost_profile"]  # as a run saved before profiles were recorded
    finished.write_text(json.dumps(moved))
    mixed = compare_warcraft(methods, [0], tmp_path, TINY)
    text = capsys.readouterr().out
    assert "trained on different devices (fenchel_young: cpu; two_stage: cuda:0)" in text
    assert "saved without one; `diffsolvers evaluate warcraft" in text
    assert mixed["profile_table"] is None
    assert [r["devices"] for r in mixed["rows"]] == ["cpu", "cuda:0"]


def test_runs_of_one_seed_start_from_the_same_weights_and_batches_whatever_the_method(
    tmp_path, monkeypatch
):
    """What pairs runs by seed (``compare --reference``): every method at a seed starts from
    the same CNN weights and sees the same batches."""
    starts, batches = {}, {}

    class RecordingCNN(WarcraftCNN):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            starts[method] = {k: v.clone() for k, v in self.state_dict().items()}

        def forward(self, x):
            if self.training:
                batches.setdefault(method, []).append(x.clone())
            return super().forward(x)

    monkeypatch.setattr(warcraft_module, "WarcraftCNN", RecordingCNN)
    for method in ("fenchel_young", "blackbox", "two_stage"):
        train_warcraft(dataclasses.replace(TINY, method=method, seed=3), tmp_path / method)
    reference = starts.pop("fenchel_young")
    for state in starts.values():
        assert state.keys() == reference.keys()
        assert all(torch.equal(state[k], reference[k]) for k in reference)
    first = batches.pop("fenchel_young")
    for seen in batches.values():
        assert len(seen) == len(first) == 2
        assert all(torch.equal(a, b) for a, b in zip(seen, first))


def test_runs_on_changed_data_are_refused_by_resume_and_compare(tmp_path):
    import shutil

    data = tmp_path / "data" / "12x12"
    shutil.copytree(Path(SAMPLE) / "12x12", data)
    config = dataclasses.replace(TINY, data=str(data), method="two_stage")
    train_warcraft(config, tmp_path / "cmp" / "two_stage" / "seed0")
    saved = json.loads((tmp_path / "cmp" / "two_stage" / "seed0" / "config.json").read_text())
    assert saved["data_signature"] == warcraft_run.data_signature(data, 12)
    compare_warcraft(["two_stage"], [0], tmp_path / "cmp", config)  # same data: reused
    info = json.loads((data / "info.json").read_text())
    info["dataset_params"]["seed"] = 12345  # as if the folder were generated again
    (data / "info.json").write_text(json.dumps(info))
    with pytest.raises(RunAlreadyExists, match=r"other data .*dataset_params\.seed: \d+ → 12345"):
        train_warcraft(config, tmp_path / "cmp" / "two_stage" / "seed0", resume=True)
    with pytest.raises(RunAlreadyExists, match="other data"):
        compare_warcraft(["two_stage"], [0], tmp_path / "cmp", config)


def test_compare_checks_the_data_of_unfinished_runs_before_training(tmp_path, monkeypatch):
    import shutil

    data = tmp_path / "data" / "12x12"
    shutil.copytree(Path(SAMPLE) / "12x12", data)
    config = dataclasses.replace(TINY, data=str(data), epochs=2, milestones=(2,))
    compare_warcraft(["two_stage"], [0], tmp_path / "cmp", config)
    with monkeypatch.context() as mp:
        _interrupt_at_validation(mp, call=2)  # seed 1 stops after its first epoch
        with pytest.raises(KeyboardInterrupt):
            compare_warcraft(["two_stage"], [0, 1], tmp_path / "cmp", config)
    assert (tmp_path / "cmp" / "two_stage" / "seed1" / "checkpoint.pt").exists()
    (data / "val_vertex_weights.npy").write_bytes(
        (data / "val_vertex_weights.npy").read_bytes() + b"\0" * 64
    )

    def must_not_train(*args, **kwargs):
        raise AssertionError("trained before the data were checked")

    monkeypatch.setattr(compare_module, "train_warcraft", must_not_train)
    changed = r"seed{} was trained on other data .*files\.val_vertex"
    with pytest.raises(RunAlreadyExists, match=changed.format(1)):  # the unfinished run
        compare_warcraft(["two_stage"], [1], tmp_path / "cmp", config)
    with pytest.raises(RunAlreadyExists, match=changed.format(0)):  # the finished one
        compare_warcraft(["two_stage"], [0, 1], tmp_path / "cmp", config)


def test_compare_in_parallel_processes_equals_the_sequential_table(tmp_path, capsys):
    methods = ["fenchel_young", "two_stage"]
    sequential = compare_warcraft(methods, [0], tmp_path / "seq", TINY)
    parallel = compare_warcraft(methods, [0], tmp_path / "par", TINY, jobs=2)
    assert "2 at a time" in capsys.readouterr().out
    for a, b in zip(sequential["rows"], parallel["rows"], strict=True):
        assert a["method"] == b["method"]
        assert a["optimal_mean"] == b["optimal_mean"] and a["regret_mean"] == b["regret_mean"]
    with pytest.raises(ValueError, match="jobs"):
        compare_warcraft(methods, [0], tmp_path / "bad", TINY, jobs=0)


def _interrupt_at_validation(monkeypatch, call: int) -> None:
    """Make the ``call``-th validation raise KeyboardInterrupt (as Ctrl-C would)."""
    real_evaluate = warcraft_module.evaluate
    calls = {"n": 0}

    def evaluate_or_interrupt(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == call:
            raise KeyboardInterrupt
        return real_evaluate(*args, **kwargs)

    monkeypatch.setattr(warcraft_module, "evaluate", evaluate_or_interrupt)


def test_compare_resumes_an_unfinished_run(tmp_path, monkeypatch):
    """A run interrupted after epoch 1 of 2 is resumed by ``compare`` (not restarted, not
    refused) and ends as the same run trained without interruption."""
    config = dataclasses.replace(TINY, epochs=2, milestones=(2,))
    straight = train_warcraft(config, tmp_path / "straight")
    with monkeypatch.context() as mp:
        _interrupt_at_validation(mp, call=2)
        with pytest.raises(KeyboardInterrupt):
            compare_warcraft(["fenchel_young"], [0], tmp_path / "cmp", config)
    run = tmp_path / "cmp" / "fenchel_young" / "seed0"
    assert torch.load(run / "checkpoint.pt", weights_only=False)["epoch"] == 1
    assert not (run / "metrics.json").exists()
    calls = []
    real = compare_module.train_warcraft

    def spy(cfg, out, *, resume=False):
        calls.append(resume)
        return real(cfg, out, resume=resume)

    monkeypatch.setattr(compare_module, "train_warcraft", spy)
    result = compare_warcraft(["fenchel_young"], [0], tmp_path / "cmp", config)
    assert calls == [True]
    (resumed,) = result["runs"]["fenchel_young"]
    assert [h["train_loss"] for h in resumed["history"]] == pytest.approx(
        [h["train_loss"] for h in straight["history"]], rel=1e-6
    )
    assert resumed["test"] == pytest.approx(straight["test"], rel=1e-6, abs=1e-9)


def test_compare_refuses_to_mix_configurations(tmp_path):
    compare_warcraft(["two_stage"], [0], tmp_path, TINY)
    with pytest.raises(RunAlreadyExists, match=r"epochs: 1 → 2"):
        compare_warcraft(["two_stage"], [0], tmp_path, dataclasses.replace(TINY, epochs=2))
    base = SyntheticConfig(n_train=40, n_test=40, epochs=1)
    compare_synthetic("shortest_path_graph", ["two_stage"], [1], [0], tmp_path / "s", base)
    with pytest.raises(RunAlreadyExists, match=r"n_train: 40 → 50"):
        compare_synthetic(
            "shortest_path_graph",
            ["two_stage"],
            [1],
            [0],
            tmp_path / "s",
            dataclasses.replace(base, n_train=50),
        )


def test_compare_checks_names_before_training(tmp_path, monkeypatch):
    def must_not_train(*args, **kwargs):
        raise AssertionError("trained before checking the method names")

    monkeypatch.setattr(compare_module, "train_warcraft", must_not_train)
    monkeypatch.setattr(compare_synthetic_module, "train_synthetic", must_not_train)
    with pytest.raises(ValueError, match="no_such_method"):
        compare_warcraft(["two_stage", "no_such_method"], [0], tmp_path, TINY)
    with pytest.raises(ValueError, match="at least one seed"):
        compare_warcraft(["two_stage"], [], tmp_path, TINY)
    with pytest.raises(ValueError, match="reference method 'blackbox' is not among"):
        compare_warcraft(["two_stage", "identity"], [0], tmp_path, TINY, reference="blackbox")
    base = SyntheticConfig()
    with pytest.raises(ValueError, match="unknown synthetic problem"):
        compare_synthetic("no_such_problem", ["two_stage"], [1], [0], tmp_path, base)
    with pytest.raises(ValueError, match="deg"):
        compare_synthetic("knapsack", ["two_stage"], [0], [0], tmp_path, base)
    assert not any(tmp_path.iterdir())


def test_cli_train_and_errors(tmp_path, capsys):
    args = [
        "train",
        "warcraft",
        "--method",
        "blackbox",
        "--epochs",
        "1",
        "--batch-size",
        "20",
        "--data",
        SAMPLE,
        "--threads",
        "1",
        "--no-progress",
        "--out",
        str(tmp_path / "run"),
    ]
    assert cli_main(args) == 0
    assert json.loads((tmp_path / "run" / "config.json").read_text())["method"] == "blackbox"
    assert cli_main(args) == 2
    assert "--resume" in capsys.readouterr().err
    unknown = args[:-1] + [str(tmp_path / "unknown")]
    unknown[unknown.index("--method") + 1] = "no_such_method"
    with pytest.raises(SystemExit) as exit_:
        cli_main(unknown)
    assert exit_.value.code == 2
    assert "no_such_method" in capsys.readouterr().err
    assert not (tmp_path / "unknown").exists()
    bad = args[:-1] + [str(tmp_path / "other")]
    bad[bad.index("--data") + 1] = str(tmp_path / "nowhere")
    assert cli_main(bad) == 2
    assert "nowhere" in capsys.readouterr().err
    reference = ["compare", "warcraft", "--methods", "two_stage", "--reference", "blackbox"]
    with pytest.raises(SystemExit) as exit_:
        cli_main(reference + ["--out", str(tmp_path / "cmp")])
    assert exit_.value.code == 2
    assert "argument --reference: 'blackbox' is not among" in capsys.readouterr().err
    assert not (tmp_path / "cmp").exists()


def test_cli_passes_projection_and_augmentation_to_the_run(tmp_path):
    from diffsolvers.experiments.cli import build_parser
    from diffsolvers.experiments.cli_options import warcraft_config as _warcraft_config

    base = ["train", "warcraft", "--method", "identity", "--data", SAMPLE]
    plain = _warcraft_config(build_parser().parse_args(base), "identity", 0)
    assert "projection" not in plain.method_options and plain.augment is False
    args = build_parser().parse_args([*base, "--projection", "normalize", "--augment"])
    config = _warcraft_config(args, "identity", 0)
    assert config.method_options["projection"] == "normalize" and config.augment is True
    assert config.ties == "reference"
    random_ties = _warcraft_config(build_parser().parse_args([*base, "--ties", "random"]), "x", 0)
    assert random_ties.ties == "random"
    with pytest.raises(SystemExit):
        build_parser().parse_args([*base, "--ties", "first"])
    out = tmp_path / "run"
    cli = [*base, "--projection", "normalize", "--epochs", "1", "--batch-size", "20"]
    cli += ["--threads", "1", "--no-progress", "--out", str(out)]
    assert cli_main(cli) == 0
    saved = json.loads((out / "config.json").read_text())
    assert saved["method_options"]["projection"] == "normalize"
    with pytest.raises(SystemExit):
        build_parser().parse_args([*base, "--projection", "sphere"])


# -- synthetic suite -------------------------------------------------------------------------
@pytest.mark.parametrize("problem", sorted(SYNTHETIC_PROBLEMS))
def test_synthetic_generators_are_deterministic_and_solvable(problem):
    a = make_synthetic(problem, n=50, deg=3, seed=7)
    b = make_synthetic(problem, n=50, deg=3, seed=7)
    c = make_synthetic(problem, n=50, deg=3, seed=8)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.costs, b.costs)
    assert not np.array_equal(a.costs, c.costs)
    assert a.x.shape == (50, 5) and a.x.dtype == np.float32
    assert np.isfinite(a.costs).all() and (a.costs > 0).all()
    solver = solvers.get(problem, **a.solver_params)
    y = solver.solve(a.theta)
    assert y.shape == a.costs.shape
    if problem == "ranking":  # y holds ranks 1..n
        np.testing.assert_array_equal(np.sort(y, axis=1), np.tile(np.arange(1, 17), (50, 1)))
    else:
        assert set(np.unique(y)) <= {0.0, 1.0}


def test_synthetic_same_seed_other_size_repeats_the_first_rows():
    # documented in make_synthetic: why train and test must come from one draw
    small = make_synthetic("knapsack", n=20, seed=3)
    large = make_synthetic("knapsack", n=50, seed=3)
    np.testing.assert_array_equal(small.x, large.x[:20])
    np.testing.assert_array_equal(small.solver_params["weights"], large.solver_params["weights"])


def test_synthetic_shapes():
    shapes = {
        "shortest_path_graph": (40,),
        "knapsack": (32,),
        "assignment": (8, 8),
        "ranking": (16,),
        "spanning_tree": (28,),
        "multi_knapsack": (32,),
        "tsp": (45,),
        "vehicle_routing": (45,),
    }
    for problem, shape in shapes.items():
        data = make_synthetic(problem, n=3, p=4)
        assert data.costs.shape == (3, *shape), problem
        assert data.x.shape == (3, 4)


def _double_factorial(n: int) -> int:
    return 1 if n <= 0 else n * _double_factorial(n - 2)


@pytest.mark.parametrize("deg", [1, 2, 4])
def test_synthetic_cost_statistics(deg):
    """Without noise, c = ((Bx)_j/√p + 3)^deg + 1) / 3.5^deg with (Bx)_j/√p ~ N(0, s_j/p),
    s_j the number of ones in row j of B; the multiplicative noise has mean one and stays
    within [1 − w̄, 1 + w̄]."""
    n, p = 200_000, 5
    clean = make_synthetic("ranking", n=n, p=p, deg=deg, noise_width=0.0, seed=3)
    noisy = make_synthetic("ranking", n=n, p=p, deg=deg, noise_width=0.5, seed=3)
    np.testing.assert_array_equal(clean.x, noisy.x)
    np.testing.assert_allclose(clean.x.std(0), 1.0, atol=0.03)
    # E[(Z + 3)^deg] for Z ~ N(0, v): Σ_k C(deg, k) 3^(deg−k) E[Z^k], E[Z^k] = v^(k/2) (k−1)!!
    # for even k and 0 for odd k.
    expected = []
    for s in range(p + 1):
        v = s / p
        moment = sum(
            math.comb(deg, k) * 3.0 ** (deg - k) * v ** (k // 2) * _double_factorial(k - 1)
            for k in range(0, deg + 1, 2)
        )
        expected.append((moment + 1) / 3.5**deg)
    # Each column's mean is, within 4 standard errors, one of the p + 1 possible values.
    costs = clean.costs.astype(np.float64)
    col_mean, tol = costs.mean(0), 4 * costs.std(0) / np.sqrt(n)
    nearest = np.min(np.abs(col_mean[:, None] - np.array(expected)[None, :]), axis=1)
    assert (nearest < tol).all(), (col_mean, expected)
    if deg == 1:
        assert col_mean.mean() == pytest.approx(4 / 3.5, rel=0.02)
    ratio = noisy.costs.astype(np.float64) / clean.costs
    assert ratio.min() >= 0.5 - 1e-6 and ratio.max() <= 1.5 + 1e-6
    assert ratio.mean() == pytest.approx(1.0, abs=0.01)


def test_synthetic_rejects_bad_arguments():
    with pytest.raises(ValueError, match="unknown synthetic problem 'no_such_problem'"):
        make_synthetic("no_such_problem")
    with pytest.raises(ValueError, match="deg"):
        make_synthetic("ranking", deg=0)
    with pytest.raises(ValueError, match="noise_width"):
        make_synthetic("ranking", noise_width=1.5)


def test_train_synthetic_is_reproducible_and_learns():
    config = SyntheticConfig(deg=2, n_train=300, n_test=300, epochs=3, seed=1)
    first = train_synthetic(config)
    second = train_synthetic(config)
    assert first["final_regret"] == second["final_regret"]
    assert first["final_regret"] < 0.8 * first["initial_regret"], first


def test_two_stage_fits_least_squares_in_closed_form():
    """The fit solves the normal equations ``[x, 1]^T ([x, 1] W - c) = 0`` (float64) and agrees
    with NumPy's least squares; train_synthetic uses it by default, Adam on request."""
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.normal(size=(200, 5))).float()
    target = torch.from_numpy(rng.normal(size=(200, 7)) + 3.0)
    model = torch.nn.Linear(5, 7)
    _fit_least_squares(model, x, target)
    design = np.hstack([x.double().numpy(), np.ones((200, 1))])
    want = np.linalg.lstsq(design, target.numpy(), rcond=None)[0]
    np.testing.assert_allclose(model.weight.detach().numpy(), want[:-1].T, atol=1e-6)
    np.testing.assert_allclose(model.bias.detach().numpy(), want[-1], atol=1e-6)
    residual = design @ np.vstack([want[:-1], want[-1:]]) - target.numpy()
    np.testing.assert_allclose(design.T @ residual, 0.0, atol=1e-9)

    config = SyntheticConfig(method="two_stage", deg=2, n_train=300, n_test=300, epochs=4)
    closed = train_synthetic(config)
    assert len(closed["regret_curve"]) == 1 and closed["two_stage_fit"] == "least_squares"
    assert closed["final_regret"] < 0.8 * closed["initial_regret"], closed
    config.two_stage_fit = "gradient"
    adam = train_synthetic(config)
    assert len(adam["regret_curve"]) == 4 and adam["final_regret"] != closed["final_regret"]
    config.two_stage_fit = "normal"
    with pytest.raises(ValueError, match="two_stage_fit must be one of least_squares, gradient"):
        train_synthetic(config)


@pytest.mark.parametrize(
    "problem", ["knapsack", "ranking", "assignment", "multi_knapsack", "tsp", "vehicle_routing"]
)
def test_train_synthetic_learns_beyond_shortest_paths(problem):
    """Maximisation (knapsack, ranking, multi_knapsack) and other minimisation problems
    (assignment, tsp, vehicle_routing): a sign slip between values and costs would make the
    regret rise, not fall."""
    config = SyntheticConfig(problem=problem, deg=4, n_train=300, n_test=300, epochs=3)
    res = train_synthetic(config)
    assert res["final_regret"] < 0.8 * res["initial_regret"], res


def test_compare_synthetic_tiny_and_resume(tmp_path, monkeypatch, capsys):
    base = SyntheticConfig(n_train=60, n_test=60, epochs=1)
    methods, degrees = ["fenchel_young", "two_stage"], [1, 4]
    result = compare_synthetic("shortest_path_graph", methods, degrees, [0, 1], tmp_path, base)
    text = capsys.readouterr().out
    assert "deg 1" in text and "deg 4" in text and "±" in text
    rows = list(csv.DictReader((tmp_path / "summary.csv").open()))
    assert [(r["method"], int(r["deg"])) for r in rows] == [
        (m, d) for m in methods for d in degrees
    ]
    assert all(np.isfinite(float(r["regret_mean"])) for r in rows)
    assert len(list((tmp_path / "runs").glob("*.json"))) == 8
    assert (tmp_path / "regret_vs_degree.png").read_bytes()[:4] == b"\x89PNG"

    def must_not_train(*args, **kwargs):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(compare_synthetic_module, "train_synthetic", must_not_train)
    again = compare_synthetic("shortest_path_graph", methods, degrees, [0, 1], tmp_path, base)
    assert again["table"] == result["table"]
    assert again["paired"] is None

    paired = compare_synthetic(
        "shortest_path_graph", methods, degrees, [0, 1], tmp_path, base, reference="two_stage"
    )
    text = capsys.readouterr().out
    assert "Paired by seed against two_stage" in text and "[" in paired["paired_table"]
    for deg in degrees:
        runs = {
            m: [
                json.loads(
                    (
                        tmp_path / "runs" / f"shortest_path_graph_{m}_deg{deg}_seed{s}.json"
                    ).read_text()
                )["final_regret"]
                for s in (0, 1)
            ]
            for m in methods
        }
        difference = paired["paired"][deg]["fenchel_young"]
        expected = np.subtract(runs["fenchel_young"], runs["two_stage"])
        np.testing.assert_allclose(difference["differences"], expected)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["paired"]["reference"] == "two_stage"
    assert summary["paired_table"] == paired["paired_table"]
    with pytest.raises(ValueError, match="reference method 'spo_plus' is not among"):
        compare_synthetic(
            "shortest_path_graph", methods, degrees, [0], tmp_path, base, reference="spo_plus"
        )


def test_cli_threads_option_on_every_training_command_and_defaults_in_help(tmp_path, capsys):
    import numba
    import torch

    from diffsolvers.experiments.cli import build_parser
    from solvers import runtime

    commands = [
        ["train", "warcraft"],
        ["compare", "warcraft"],
        ["compare", "synthetic"],
        ["evaluate", "warcraft", "runs/x"],
        ["demo"],
    ]
    for command in commands:
        assert build_parser().parse_args([*command, "--threads", "1"]).threads == 1
        with pytest.raises(SystemExit):
            build_parser().parse_args([*command, "--threads", "0"])
        assert "must be a whole number of at least 1, got '0'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        build_parser().parse_args(["compare", "synthetic", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert "default: 1,2,4,6" in shown and "default: fenchel_young,spo_plus" in shown
    assert "default: the usable cores divided by the processes of the job" in shown
    assert "C/N each for torchrun --nproc_per_node N on C cores" in shown

    before = torch.get_num_threads(), numba.get_num_threads()
    try:
        argv = ["compare", "synthetic", "--problem", "ranking", "--deg", "1"]
        argv += ["--methods", "two_stage", "--seeds", "1", "--n-train", "20", "--n-test", "10"]
        argv += ["--epochs", "1", "--threads", "1", "--out", str(tmp_path / "cmp")]
        assert cli_main(argv) == 0
        assert torch.get_num_threads() == 1 and numba.get_num_threads() == 1
    finally:
        torch.set_num_threads(before[0])
        runtime.set_threads(None)  # back to the budget for the tests that follow
    assert "two_stage" in capsys.readouterr().out


def test_objectives_give_the_ranking_losses_the_true_solutions():
    objective = make_objective(
        "top_k", "pointwise_ltr", solver_params={"k": 1}, method_options={"solve_ratio": 0.0}
    )
    y_true = torch.eye(3)[[2]]
    objective(torch.tensor([[3.0, 2.0, 1.0]]), costs_true=torch.ones(1, 3), y_true=y_true)
    torch.testing.assert_close(objective.module.pool.solutions, y_true.double())


def test_train_synthetic_starts_a_pool_from_the_training_solutions(monkeypatch):
    from diffsolvers.losses.pool import SolutionPool

    added = []
    original = SolutionPool.add

    def spy(self, solutions):
        added.append(len(solutions))
        return original(self, solutions)

    monkeypatch.setattr(SolutionPool, "add", spy)
    config = SyntheticConfig(
        method="listwise_ltr",
        method_options={"solve_ratio": 0.05, "seed": 0},
        deg=2,
        n_train=300,
        n_test=300,
        epochs=3,
        seed=1,
    )
    res = train_synthetic(config)
    assert added == [300]
    assert res["final_regret"] < 0.8 * res["initial_regret"], res
