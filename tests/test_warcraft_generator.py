"""The Warcraft generator's formats: format 2 byte for byte, format 3's fingerprint against
the real maps, the folders each format lives in, and temporary folders of killed runs."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from test_warcraft_data import assert_valid_labels

from diffsolvers.datasets import WarcraftDataError, fingerprint_arrays, goals
from diffsolvers.datasets.generator import (
    FORMAT_VERSION,
    FORMATS,
    default_data_root,
    default_format,
    ensure_warcraft_data,
    existing_warcraft_data,
    generate_maps,
    generate_warcraft,
    remove_stale_temporaries,
    tiles,
)

ROOT = Path(__file__).resolve().parents[1]
SIZES = dict(n_train=3, n_val=1, n_test=1, progress=False)


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


# --------------------------------------------------------------------------- format 2
def test_format_2_is_byte_identical_to_the_maps_of_the_earlier_results(tmp_path):
    """Hashes of files written by the generator before format 3 existed (same seeds): the
    train split crosses a chunk boundary, and k = 18 writes part files."""
    a = generate_warcraft(tmp_path / "a", 12, 300, 7, 5, seed=0, progress=False, format=2)
    assert _digest(a) == "5d3d7ded5292173353183cd319a3911aabc1ff8bfc85357bc3a328110dc0f72f"
    b = generate_warcraft(tmp_path / "b", 18, 5, 2, 1, seed=3, progress=False, format=2)
    assert _digest(b) == "5ba96f241e08d5e7f9c9fef28ceccd5a42ec320f793078785a0cff2fe69394b2"
    h = hashlib.sha256()
    for array in generate_maps(40, 24, seed=11, stream=(2,), format=2):
        h.update(array.tobytes())
    assert h.hexdigest() == "f62a026c5e65dd1a814c1f9a3c39b6647ebd730a83b69a37c8fb9e350543a7e5"
    assert json.loads((a / "info.json").read_text())["dataset_params"]["format_version"] == 2


def test_format_is_checked():
    assert FORMATS == (2, 3) and FORMAT_VERSION == 3
    for bad in (1, 4, "3", 3.0, True, None):
        with pytest.raises(ValueError, match="format"):
            generate_maps(2, 12, format=bad)


# --------------------------------------------------------------------------- format 3
@pytest.mark.parametrize("seed", [0, 1])
def test_format_3_meets_every_goal_on_a_few_hundred_maps(seed):
    """The fingerprint of 300 maps (about a second) against the real maps, within the
    stated tolerances (diffsolvers.datasets.warcraft_goals)."""
    maps, weights, paths = generate_maps(300, 12, seed=seed)
    fp = fingerprint_arrays(maps, weights, paths)
    failed = [(r["goal"], r["measured"], r["real"]) for r in goals(fp) if not r["pass"]]
    assert not failed, failed
    assert fp["pixel_max"] <= tiles.PIXEL_MAX
    # the layout: large regions, few and large water bodies, compact outcrops, clumps
    assert fp["region_mean_size"]["dirt"] >= 12 and fp["region_mean_size"]["grass"] >= 10
    assert 1.0 <= fp["water_bodies_per_map"] <= 2.0
    assert fp["region_mean_size"]["water"] >= 15
    assert 4 <= fp["region_mean_size"]["rock"] <= 13
    assert fp["region_mean_size"]["forest"] >= 4
    # ties are common, as on the real maps; path lengths vary
    assert 0.05 < fp["optimal_paths"]["unique_share"] < 0.5
    assert fp["path_length"]["max"] - fp["path_length"]["min"] >= 8


def test_format_3_has_no_speckle_and_dark_shores():
    """Within a tile, neighbouring pixels differ much less than the tile's spread (smooth
    textures), unlike format 2's pixel noise; and the pixels of a water cell along its
    border with a land cell are darker than open water."""
    maps, weights, _ = generate_maps(100, 12, seed=2)
    fp3 = fingerprint_arrays(maps, weights)
    fp2 = fingerprint_arrays(*generate_maps(100, 12, seed=2, format=2)[:2])
    for name in ("grass", "dirt", "water"):
        smooth = np.mean(np.divide(fp3["pixel_step"][name], fp3["tile_std"][name]))
        assert smooth < 0.7, (name, smooth)
    for name in ("grass", "dirt"):
        speckled = np.mean(np.divide(fp2["pixel_step"][name], fp2["tile_std"][name]))
        assert speckled > 0.85, (name, speckled)
    luminance = maps.astype(np.float64).mean(axis=-1).reshape(100, 12, 8, 12, 8)
    water = weights.astype(np.float64) == np.float16(7.7).astype(np.float64)
    land_left = np.zeros_like(water)
    land_left[:, :, 1:] = ~water[:, :, :-1]
    padded = np.pad(water, 1, constant_values=True)[1:-1]  # water-ness of the 4 neighbours
    open_water = water & padded[:, :-2, 1:-1] & padded[:, 2:, 1:-1]
    open_water &= padded[:, 1:-1, :-2] & padded[:, 1:-1, 2:]
    shore = luminance[:, :, :, :, 0].transpose(0, 1, 3, 2)[water & land_left]  # left column
    assert shore.size and open_water.any()
    assert shore.mean() < luminance.transpose(0, 1, 3, 2, 4)[open_water].mean() - 5


def test_format_3_labels_and_determinism(tmp_path):
    maps, weights, paths = generate_maps(40, 18, seed=4)
    assert maps.shape == (40, 144, 144, 3) and weights.dtype == np.float16
    assert_valid_labels(weights, paths)
    again = generate_maps(40, 18, seed=4)
    for x, y in zip((maps, weights, paths), again):
        np.testing.assert_array_equal(x, y)
    other = generate_maps(40, 18, seed=5)[0]
    assert not np.array_equal(maps, other)
    folder = generate_warcraft(tmp_path, 12, 5, 2, 2, seed=4, progress=False)
    np.testing.assert_array_equal(np.load(folder / "train_maps.npy"), generate_maps(5, 12, 4)[0])
    assert json.loads((folder / "info.json").read_text())["dataset_params"]["format_version"] == 3


# --------------------------------------------------------------------------- folders
def test_each_format_has_its_own_default_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("DIFFSOLVERS_DATA", str(tmp_path))
    assert default_data_root(2) == tmp_path / "warcraft_shortest_path_oneskin"
    assert default_data_root() == tmp_path / "format3" / "warcraft_shortest_path_oneskin"
    made = ensure_warcraft_data(12, **SIZES)
    assert made == default_data_root(3) / "12x12"
    assert existing_warcraft_data(12, format=2) is None
    old = ensure_warcraft_data(12, format=2, **SIZES)
    assert old == default_data_root(2) / "12x12" and old != made
    assert existing_warcraft_data(12) == made and existing_warcraft_data(12, format=2) == old
    # a run that recorded only the path of its (deleted) default data makes the right format
    assert default_format(old) == 2 and default_format(made) == 3
    assert default_format(default_data_root(2)) == 2 and default_format(tmp_path) is None
    assert default_format(None) is None


def test_data_of_one_format_is_never_taken_for_the_other(tmp_path):
    old = generate_warcraft(tmp_path, 12, format=2, **SIZES)
    stamp = (old / "train_maps.npy").stat().st_mtime_ns
    assert existing_warcraft_data(12, tmp_path) is None  # asks for format 3
    assert existing_warcraft_data(12, tmp_path, format=2) == old
    with pytest.raises(WarcraftDataError, match="format 2 maps, but format 3"):
        ensure_warcraft_data(12, tmp_path, **SIZES)
    assert (old / "train_maps.npy").stat().st_mtime_ns == stamp  # not overwritten
    assert ensure_warcraft_data(12, tmp_path, format=2, **SIZES) == old


# --------------------------------------------------------------------------- killed runs
def _temporaries(root: Path) -> list[Path]:
    return sorted(root.glob(".12x12.tmp-*"))


@pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL and flock")
def test_a_killed_generate_leaves_no_temporary_folder_behind(tmp_path):
    """``kill -9`` during ``diffsolvers generate`` left ``.12x12.tmp-*`` (with its partly
    written files) for good; the next run now removes it, and never a live run's."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "diffsolvers", "generate", "warcraft", "--out"]
    command += [str(tmp_path), "--n-train", "200000", "--n-val", "1", "--n-test", "1"]
    proc = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 120
        while not any((t / "train_maps.npy").exists() for t in _temporaries(tmp_path)):
            assert proc.poll() is None, "the generate command ended early"
            assert time.monotonic() < deadline, "the generate command did not start writing"
            time.sleep(0.1)
        live = _temporaries(tmp_path)
        assert remove_stale_temporaries(tmp_path, 12) == []  # a live run's folder stays
        assert _temporaries(tmp_path) == live
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    assert _temporaries(tmp_path) == live  # killed: the folder is left behind
    folder = generate_warcraft(tmp_path, 12, **SIZES)
    assert _temporaries(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["12x12"]
    assert not (folder / ".lock").exists()


def test_unlocked_temporaries_are_removed_only_once_old(tmp_path):
    """A temporary folder without a lock file (written by a version that took none) is
    removed once it is ten minutes old; a fresh one may belong to a run just starting."""
    old, fresh = tmp_path / ".12x12.tmp-old", tmp_path / ".12x12.tmp-new"
    for folder in (old, fresh):
        folder.mkdir()
        (folder / "train_maps.npy").write_bytes(b"partial")
    hour_ago = time.time() - 3600
    os.utime(old, (hour_ago, hour_ago))
    (tmp_path / ".18x18.tmp-old").mkdir()  # another size: not this run's business
    os.utime(tmp_path / ".18x18.tmp-old", (hour_ago, hour_ago))
    assert remove_stale_temporaries(tmp_path, 12) == [old]
    assert fresh.exists() and (tmp_path / ".18x18.tmp-old").exists()
