"""The fingerprint of a Warcraft folder: each measure on a hand-made folder whose statistics
are known by construction, the goals' tolerances at their edges, and `diffsolvers inspect`."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import solvers
from diffsolvers.datasets import (
    REAL,
    WarcraftDataError,
    fingerprint,
    fingerprint_arrays,
    format_report,
    goals,
)
from diffsolvers.datasets.generator import CLASS_COSTS, CLASS_NAMES
from diffsolvers.experiments.cli import main

ROOT = Path(__file__).resolve().parents[1]
#: Two 5×5 maps (G grass, D dirt, F forest, W water, R rock).
LAYOUT = [
    ["WWWWW", "WWWWW", "WWWWW", "GGDDR", "GFDRR"],
    ["GWGGG", "WGGGG", "GGDDG", "GGDFG", "GGGGW"],
]
#: Each class's tiles are a checkerboard of two colours A and B: tile mean (A + B) / 2,
#: within-tile std |A - B| / 2, and every pair of neighbouring pixels differs by |A - B|.
COLOURS = {
    "G": ((40, 70, 8), (60, 92, 12)),
    "D": ((95, 60, 2), (111, 70, 12)),
    "F": ((5, 60, 5), (29, 100, 13)),
    "W": ((3, 50, 80), (19, 56, 118)),
    "R": ((50, 48, 47), (98, 100, 99)),
}


def _write_known_folder(folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    letters = np.array([[list(row) for row in grid] for grid in LAYOUT])  # (2, 5, 5)
    index = np.vectorize("GDFWR".index)(letters)
    weights = CLASS_COSTS[index].astype(np.float16)
    checker = (np.add.outer(np.arange(8), np.arange(8)) % 2).astype(bool)[..., None]
    maps = np.zeros((2, 40, 40, 3), dtype=np.uint8)
    for m in range(2):
        for i in range(5):
            for j in range(5):
                a, b = COLOURS[letters[m, i, j]]
                maps[m, 8 * i : 8 * i + 8, 8 * j : 8 * j + 8] = np.where(checker, b, a)
    solved = solvers.get("shortest_path").solve(solvers.costs_to_theta(weights.astype(float)))
    paths = np.rint(solved).astype(np.uint8)
    folder.mkdir(parents=True)
    for split in ("train", "val", "test"):
        np.save(folder / f"{split}_maps.npy", maps)
        np.save(folder / f"{split}_vertex_weights.npy", weights)
        np.save(folder / f"{split}_shortest_paths.npy", paths)
    return maps, weights, paths


@pytest.fixture()
def known(tmp_path):
    folder = tmp_path / "5x5"
    return folder, *_write_known_folder(folder)


def test_every_measure_on_a_folder_of_known_statistics(known):
    folder, maps, weights, paths = known
    fp = fingerprint(folder)
    assert fp["source"] == {"folder": str(folder), "split": "train", "k": 5, "maps": 2}
    counts = {"G": 21, "D": 6, "F": 2, "W": 18, "R": 3}  # of 50 cells
    letters = "GDFWR"
    for name, letter in zip(CLASS_NAMES, letters):
        a, b = (np.array(c, float) for c in COLOURS[letter])
        assert fp["class_share"][name] == pytest.approx(100 * counts[letter] / 50)
        np.testing.assert_allclose(fp["tile_mean"][name], (a + b) / 2, atol=0.05)
        np.testing.assert_allclose(fp["tile_std"][name], np.abs(a - b) / 2, atol=0.05)
        np.testing.assert_allclose(fp["pixel_step"][name], np.abs(a - b), atol=0.05)
    means = {c: (np.add(*COLOURS[c]) / 2) for c in letters}
    spreads = {c: np.abs(np.subtract(*COLOURS[c])) / 2 for c in letters}
    mu = sum(counts[c] * means[c] for c in letters) / 50
    var = sum(counts[c] * (spreads[c] ** 2 + (means[c] - mu) ** 2) for c in letters) / 50
    np.testing.assert_allclose(fp["channel_mean"], mu / 255, atol=6e-5)
    np.testing.assert_allclose(fp["channel_std"], np.sqrt(var) / 255, atol=6e-5)
    assert fp["pixel_max"] == 118
    # regions under 4-connectivity: map 1's two diagonal water cells are two regions
    assert fp["region_mean_size"] == {
        "grass": 7.0,
        "dirt": 3.0,
        "forest": 1.0,
        "water": 4.5,
        "rock": 3.0,
    }
    assert fp["water_in_large_bodies"] == pytest.approx(15 / 18, abs=1e-3)
    assert fp["water_bodies_per_map"] == 2.0
    lengths = paths.reshape(2, -1).sum(axis=1)
    assert fp["path_length"]["min"] == lengths.min() and fp["path_length"]["max"] == lengths.max()
    assert sum(fp["path_length"]["histogram"].values()) == 2
    counted = solvers.count_optimal_paths(weights.astype(np.float64))
    assert fp["optimal_paths"]["median"] == np.median(counted)
    assert fp["optimal_paths"]["unique_share"] == pytest.approx(np.mean(counted == 1))
    # the same measures in memory, and on the first map only
    same = fingerprint_arrays(maps, weights, paths)
    assert {k: v for k, v in same.items() if k != "source"} == {
        k: v for k, v in fp.items() if k != "source"
    }
    assert fingerprint(folder, n=1)["class_share"]["water"] == 60.0


def test_cells_of_no_class_are_counted_apart(known):
    _, maps, weights, _ = known
    odd = weights.copy()
    odd[0, 0, 0] = 3.0
    fp = fingerprint_arrays(maps, odd)
    assert fp["unknown_cost_share"] == 2.0
    assert sum(fp["class_share"].values()) == pytest.approx(98.0)
    assert "path_length" not in fp  # no paths given


def test_bad_arguments_are_named(known, tmp_path):
    folder, maps, weights, _ = known
    for n in (0, -3, 1.5, True):
        with pytest.raises(ValueError, match="n must be"):
            fingerprint(folder, n=n)
    with pytest.raises(FileNotFoundError, match="no 12x12 folder"):
        fingerprint(tmp_path)
    with pytest.raises(ValueError, match="uint8"):
        fingerprint_arrays(maps.astype(np.float32), weights)
    with pytest.raises(ValueError, match="do not fit"):
        fingerprint_arrays(maps, weights[:, :4])
    (folder / "train_maps.npy").write_bytes(b"garbage")
    with pytest.raises(WarcraftDataError, match="train_maps.npy"):
        fingerprint(folder)


def _real_fingerprint() -> dict:
    """A fingerprint that measures exactly the real values (water share 17%)."""
    fp = {
        "channel_mean": list(REAL["channel_mean"]),
        "channel_std": list(REAL["channel_std"]),
        "class_share": {k: (17.0 if k == "water" else v) for k, v in REAL["class_share"].items()},
        "tile_mean": {k: list(v) for k, v in REAL["tile_mean"].items()},
        "tile_std": {k: list(v) for k, v in REAL["tile_std"].items()},
        "water_in_large_bodies": 0.9,
        "pixel_max": 146,
    }
    return fp


@pytest.mark.parametrize(
    ("edit", "goal", "passes"),
    [
        (lambda f: f["channel_mean"].__setitem__(0, 0.2411 * 1.049), "channel mean R", True),
        (lambda f: f["channel_mean"].__setitem__(0, 0.2411 * 1.051), "channel mean R", False),
        (lambda f: f["channel_std"].__setitem__(2, 0.1601 * 0.951), "channel std B", True),
        (lambda f: f["channel_std"].__setitem__(2, 0.1601 * 0.949), "channel std B", False),
        (lambda f: f["class_share"].__setitem__("water", 25.0), "water share %", True),
        (lambda f: f["class_share"].__setitem__("water", 25.1), "water share %", False),
        (lambda f: f["class_share"].__setitem__("water", 9.0), "water share %", True),
        (lambda f: f["class_share"].__setitem__("water", 8.9), "water share %", False),
        (lambda f: f["class_share"].__setitem__("dirt", 30.1), "dirt share %", True),
        (lambda f: f["class_share"].__setitem__("dirt", 29.9), "dirt share %", False),
        (lambda f: f["tile_mean"]["rock"].__setitem__(1, 80.0), "rock tile mean RGB", True),
        (lambda f: f["tile_mean"]["rock"].__setitem__(1, 80.1), "rock tile mean RGB", False),
        (lambda f: f["tile_std"]["grass"].__setitem__(2, 3.75), "grass within-tile std", True),
        (lambda f: f["tile_std"]["grass"].__setitem__(2, 3.8), "grass within-tile std", False),
        (lambda f: f.__setitem__("water_in_large_bodies", 0.5), "water in bodies", False),
        (lambda f: f.__setitem__("water_in_large_bodies", None), "water in bodies", False),
        (lambda f: f.__setitem__("pixel_max", 156), "pixel maximum", True),
        (lambda f: f.__setitem__("pixel_max", 181), "pixel maximum", False),
        (lambda f: f["tile_mean"].__setitem__("forest", None), "forest tile mean RGB", False),
    ],
)
def test_goals_at_the_edges_of_their_tolerances(edit, goal, passes):
    fp = _real_fingerprint()
    assert all(row["pass"] for row in goals(fp))
    changed = copy.deepcopy(fp)
    edit(changed)
    rows = goals(changed)
    assert len(rows) == 23
    verdicts = {row["goal"]: row["pass"] for row in rows}
    hit = [name for name in verdicts if name.startswith(goal)]
    assert len(hit) == 1 and verdicts[hit[0]] is passes
    assert all(ok for name, ok in verdicts.items() if name != hit[0])


def test_report_is_a_readable_table(known):
    folder = known[0]
    text = format_report(fingerprint(folder))
    assert str(folder) in text and "goals met" in text
    assert "FAIL" in text  # five cells of rock per 50 are no real map
    for name in CLASS_NAMES:
        assert f"{name} mean region size" in text


def test_inspect_command_prints_the_table_and_writes_json_and_png(known, tmp_path, capsys):
    folder = known[0]
    out = tmp_path / "report"
    assert main(["inspect", "warcraft", str(folder.parent), "--k", "5", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "goals met" in printed and "fingerprint.json" in printed
    saved = json.loads((out / "fingerprint.json").read_text())
    assert saved["class_share"] == fingerprint(folder)["class_share"]
    assert len(saved["goals"]) == 23 and {"goal", "measured", "real", "pass"} <= set(
        saved["goals"][0]
    )
    pytest.importorskip("matplotlib")
    assert (out / "samples.png").stat().st_size > 1000


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--n", "0"], "argument --n: must be a whole number of at least 1"),
        (["--split", "dev"], "argument --split: invalid choice: 'dev'"),
        (["--k", "1"], "argument --k: must be a grid size of at least 2"),
        (["--k", "12"], "says 5x5 maps but k=12"),
        (["--out", "FILE"], "argument --out: "),
    ],
)
def test_inspect_command_refuses_nonsense_in_one_line(known, tmp_path, capsys, args, message):
    """Argument refusals (argparse: usage, then one error line) and refusals while running
    (one ``diffsolvers: error:`` line) both exit 2 and name the problem; no traceback."""
    folder = known[0]
    (tmp_path / "FILE").write_text("")
    args = [str(tmp_path / "FILE") if a == "FILE" else a for a in args]
    try:
        code = main(["inspect", "warcraft", str(folder), *args])
    except SystemExit as exc:
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in err if "error:" in line]
    assert len(errors) == 1 and message in errors[0], err
    assert not any("Traceback" in line for line in err)


def test_inspect_command_refuses_a_folder_that_is_not_warcraft_data(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("no maps here")
    assert main(["inspect", "warcraft", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no 12x12 folder and no *_maps.npy files" in err[0]


def test_data_package_works_without_matplotlib_and_tqdm(tmp_path):
    """tqdm and matplotlib come with the 'lab' extra: without them the data package
    imports, generates (no progress bar) and fingerprints; only the figure needs them."""
    code = f"""
import sys
sys.modules["matplotlib"] = None
sys.modules["tqdm"] = None
from diffsolvers.datasets import fingerprint, generate_warcraft, save_sample_figure
folder = generate_warcraft({str(tmp_path)!r}, 12, 3, 1, 1, progress=True)
assert fingerprint(folder)["source"]["maps"] == 3
try:
    save_sample_figure(folder, {str(tmp_path / "x.png")!r})
except ImportError:
    print("no figure")
"""
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "no figure" and done.stderr == ""
