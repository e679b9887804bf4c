"""The Warcraft loader (real on-disk format), the committed sample and the map generator."""

from __future__ import annotations

import heapq
import itertools
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import solvers
from diffsolvers.datasets import (
    PUBLISHED_MEAN,
    PUBLISHED_STD,
    WarcraftDataError,
    WarcraftShortestPath,
    read_info,
    warcraft_generator,
)
from diffsolvers.datasets.warcraft_generator import (
    CLASS_COSTS,
    CLASS_MEAN_RGB,
    ensure_warcraft_data,
    generate_maps,
    generate_warcraft,
)

SAMPLE = Path(__file__).resolve().parents[1] / "datasets" / "warcraft_sample"
SAMPLE_SIZES = {"train": 40, "val": 10, "test": 10}
STORED_COSTS = CLASS_COSTS.astype(np.float16).astype(np.float32)  # 0.7998, 1.2002, ...


def reference_path(costs: np.ndarray) -> np.ndarray:
    """The labelling rule of the published data, written out plainly (independent check).

    Heap of ``(cost, (row, col))``, neighbours in ``itertools.product`` order, predecessor
    updated on strictly smaller cost only, path cost including both ends.
    """
    h, w = costs.shape
    dist = np.full((h, w), np.inf)
    prev: dict[tuple[int, int], tuple[int, int]] = {}
    dist[0, 0] = costs[0, 0]
    heap = [(costs[0, 0], (0, 0))]
    done = set()
    while heap:
        d, (r, c) = heapq.heappop(heap)
        if (r, c) in done:
            continue
        done.add((r, c))
        for dr, dc in itertools.product((-1, 0, 1), (-1, 0, 1)):
            rr, cc = r + dr, c + dc
            if (dr, dc) == (0, 0) or not (0 <= rr < h and 0 <= cc < w):
                continue
            nd = d + costs[rr, cc]
            if nd < dist[rr, cc]:
                dist[rr, cc] = nd
                prev[(rr, cc)] = (r, c)
                heapq.heappush(heap, (nd, (rr, cc)))
    y = np.zeros((h, w))
    node = (h - 1, w - 1)
    y[node] = 1
    while node != (0, 0):
        node = prev[node]
        y[node] = 1
    return y


def assert_valid_labels(weights16: np.ndarray, paths: np.ndarray) -> None:
    """Costs are the five class values; paths are the solver's output on the stored costs."""
    assert weights16.dtype == np.float16
    assert np.isin(weights16.astype(np.float32), STORED_COSTS).all()
    costs = weights16.astype(np.float64)
    solved = solvers.get("shortest_path").solve(solvers.costs_to_theta(costs))
    np.testing.assert_array_equal(np.asarray(paths, np.float64), solved)
    assert (paths[:, 0, 0] == 1).all() and (paths[:, -1, -1] == 1).all()
    for i in range(min(len(costs), 8)):  # the plain labelling rule agrees too
        np.testing.assert_array_equal(paths[i], reference_path(costs[i]))


# --------------------------------------------------------------------------- sample
@pytest.mark.parametrize("split", ["train", "val", "test"])
def test_committed_sample_loads_with_valid_items(split):
    ds = WarcraftShortestPath(SAMPLE, k=12, split=split)
    assert len(ds) == SAMPLE_SIZES[split]
    image, costs, path = ds[len(ds) - 1]
    assert image.shape == (3, 96, 96) and image.dtype == torch.float32
    assert costs.shape == (12, 12) and costs.dtype == torch.float32
    assert path.shape == (12, 12) and path.dtype == torch.float32
    assert torch.isin(ds.costs, torch.from_numpy(STORED_COSTS)).all()
    assert ((ds.paths == 0) | (ds.paths == 1)).all()


def test_committed_sample_labels_are_the_solver_output():
    folder = SAMPLE / "12x12"
    for split in ("train", "val", "test"):
        weights = np.load(folder / f"{split}_vertex_weights.npy")
        paths = np.load(folder / f"{split}_shortest_paths.npy")
        assert paths.dtype == np.uint8
        assert_valid_labels(weights, paths)


def test_committed_sample_is_what_the_generator_makes_now(tmp_path):
    """The sample (format 2) is what format 2 makes now (see datasets/README.md)."""
    made = generate_warcraft(
        tmp_path, 12, n_train=40, n_val=10, n_test=10, seed=2020, progress=False, format=2
    )
    assert _files(made) == _files(SAMPLE / "12x12")


def test_sample_info_json_and_a_folder_without_one(tmp_path):
    info = read_info(SAMPLE / "12x12")
    assert info["dataset_params"]["pixels_per_cell"] == 8
    assert info["train_set_params"]["num_examples"] == SAMPLE_SIZES["train"]
    assert read_info(tmp_path) == {}
    (tmp_path / "info.json").write_text("{not json")
    with pytest.raises(WarcraftDataError, match="info.json"):
        read_info(tmp_path)


def test_normalisation_options():
    train = WarcraftShortestPath(SAMPLE, 12, "train")  # default: train statistics
    images, _, _ = train.tensors()
    flat = images.permute(1, 0, 2, 3).reshape(3, -1)
    torch.testing.assert_close(flat.mean(1), torch.zeros(3), atol=1e-4, rtol=0)
    torch.testing.assert_close(flat.std(1), torch.ones(3), atol=1e-3, rtol=0)
    raw = torch.from_numpy(np.load(SAMPLE / "12x12" / "val_maps.npy")[0]).permute(2, 0, 1)
    raw = raw.float()
    val = WarcraftShortestPath(SAMPLE, 12, "val")  # val uses the train statistics
    torch.testing.assert_close(val.mean, train.mean)
    expected = {
        "none": raw,
        None: raw,
        "unit": raw / 255,
        "published": (raw / 255 - torch.tensor(PUBLISHED_MEAN).view(3, 1, 1))
        / torch.tensor(PUBLISHED_STD).view(3, 1, 1),
        ((0.5, 0.5, 0.5), (0.25, 0.25, 0.25)): (raw / 255 - 0.5) / 0.25,
    }
    for option, image in expected.items():
        got = WarcraftShortestPath(SAMPLE, 12, "val", normalize=option)[0][0]
        torch.testing.assert_close(got, image, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="normalize"):
        WarcraftShortestPath(SAMPLE, 12, "val", normalize="imagenet")


def test_tensors_match_items_and_raw_batches():
    ds = WarcraftShortestPath(SAMPLE, 12, "test")
    images, costs, paths = ds.tensors()
    assert images.shape == (10, 3, 96, 96)
    assert images.is_contiguous(memory_format=torch.channels_last)
    for i in (0, 7):
        image, c, p = ds[i]
        torch.testing.assert_close(images[i], image)
        assert torch.equal(costs[i], c) and torch.equal(paths[i], p)
    raw, _, _ = ds.tensors(normalized=False)
    assert raw.dtype == torch.uint8
    torch.testing.assert_close(ds.normalize_images(raw[2:5]), images[2:5])
    assert torch.equal(ds.raw_images(3, 5), raw[3:5])


# --------------------------------------------------------------------------- hand-written folders
def write_folder(
    size_folder: Path,
    k: int,
    counts: dict[str, int],
    *,
    parts: bool,
    path_dtype=np.uint8,
    seed: int = 0,
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Write arrays in the real layout (train in two parts if ``parts``); return them."""
    rng = np.random.default_rng(seed)
    size_folder.mkdir(parents=True)
    written = {}
    for split, n in counts.items():
        maps = rng.integers(0, 256, size=(n, 8 * k, 8 * k, 3), dtype=np.uint8)
        weights = rng.choice(CLASS_COSTS, size=(n, k, k)).astype(np.float16)
        theta = solvers.costs_to_theta(weights.astype(np.float64))
        paths = solvers.get("shortest_path").solve(theta).astype(path_dtype)  # optimal labels
        written[split] = (maps, weights, paths)
        arrays = dict(zip(("maps", "vertex_weights", "shortest_paths"), written[split]))
        for kind, arr in arrays.items():
            if parts and split == "train":
                half = (n + 1) // 2
                np.save(size_folder / f"train_{kind}_part0.npy", arr[:half])
                np.save(size_folder / f"train_{kind}_part1.npy", arr[half:])
            else:
                np.save(size_folder / f"{split}_{kind}.npy", arr)
    return written


@pytest.mark.parametrize(
    ("k", "parts", "top", "path_dtype"),
    [
        (12, False, "warcraft_shortest_path_oneskin", np.uint8),
        (12, True, "warcraft_shortest_path", np.float32),
        (18, True, "warcraft_shortest_path_oneskin", np.int64),
        (18, False, "warcraft_shortest_path_oneskin", bool),
    ],
)
def test_handwritten_real_layout(tmp_path, k, parts, top, path_dtype):
    counts = {"train": 5, "val": 2, "test": 3}
    size_folder = tmp_path / top / f"{k}x{k}"
    written = write_folder(size_folder, k, counts, parts=parts, path_dtype=path_dtype)
    for root in (tmp_path / top, size_folder, tmp_path):
        for split, n in counts.items():
            ds = WarcraftShortestPath(root, k=k, split=split, normalize="none")
            assert len(ds) == n
            maps, weights, paths = written[split]
            images, costs, ys = ds.tensors()
            # parts are concatenated in order; float16 weights are cast up exactly
            assert torch.equal(images, torch.from_numpy(maps).permute(0, 3, 1, 2).float())
            assert torch.equal(costs, torch.from_numpy(weights.astype(np.float32)))
            assert torch.equal(ys, torch.from_numpy(paths.astype(np.float32)))
            assert torch.equal(ds[n - 1][0], images[n - 1])


# --------------------------------------------------------------------------- broken folders
@pytest.fixture
def good_folder(tmp_path) -> Path:
    folder = tmp_path / "warcraft_shortest_path_oneskin" / "12x12"
    write_folder(folder, 12, {"train": 4, "val": 3, "test": 2}, parts=False)
    return folder


def _expect_error(folder: Path, split: str, exc, fragment: str, k: int = 12):
    with pytest.raises(exc) as info:
        WarcraftShortestPath(folder, k=k, split=split, normalize="unit")
    assert fragment in str(info.value), str(info.value)
    return str(info.value)


def test_error_missing_file(good_folder):
    (good_folder / "val_shortest_paths.npy").unlink()
    _expect_error(good_folder, "val", FileNotFoundError, "val_shortest_paths.npy")
    WarcraftShortestPath(good_folder, 12, "test", normalize="unit")  # other splits still load


def test_error_missing_folder_and_size(tmp_path, good_folder):
    _expect_error(tmp_path / "nowhere", "val", FileNotFoundError, "nowhere")
    message = _expect_error(good_folder.parent, "val", FileNotFoundError, "18x18", k=18)
    assert "12x12" in message  # lists the sizes that exist
    _expect_error(good_folder, "val", WarcraftDataError, "12x12", k=18)


@pytest.mark.parametrize("keep_bytes", [60, -100])
def test_error_truncated_file(good_folder, keep_bytes):
    path = good_folder / "test_maps.npy"
    data = path.read_bytes()
    path.write_bytes(data[:keep_bytes])
    message = _expect_error(good_folder, "test", WarcraftDataError, str(path))
    assert "truncated" in message


def test_error_length_mismatch(good_folder):
    np.save(good_folder / "val_vertex_weights.npy", np.full((2, 12, 12), 0.8, np.float16))
    message = _expect_error(good_folder, "val", WarcraftDataError, "val_vertex_weights.npy")
    assert "different numbers of examples" in message


@pytest.mark.parametrize(
    ("file", "array", "fragment"),
    [
        ("val_maps.npy", np.zeros((3, 96, 96, 3), np.float32), "uint8"),
        ("val_maps.npy", np.zeros((3, 3, 96, 96), np.uint8), "channels last"),
        ("val_maps.npy", np.zeros((3, 80, 80, 3), np.uint8), "(N, 96, 96, 3)"),
        ("val_vertex_weights.npy", np.ones((3, 12, 12), np.int64), "floating point"),
        ("val_vertex_weights.npy", np.ones((3, 11, 12), np.float16), "(N, 12, 12)"),
        ("val_vertex_weights.npy", -np.ones((3, 12, 12), np.float16), "positive"),
        ("val_vertex_weights.npy", np.zeros((3, 12, 12), np.float16), "zero-cost cells"),
        ("val_shortest_paths.npy", np.full((3, 12, 12), 2, np.uint8), "only 0 and 1"),
        ("val_shortest_paths.npy", np.ones((3, 12), np.uint8), "(N, 12, 12)"),
        ("val_shortest_paths.npy", np.array(["x"] * 432).reshape(3, 12, 12), "numeric"),
    ],
)
def test_error_wrong_dtype_or_shape(good_folder, file, array, fragment):
    np.save(good_folder / file, array)
    message = _expect_error(good_folder, "val", WarcraftDataError, file)
    assert fragment in message


def test_error_path_without_end(good_folder):
    paths = np.load(good_folder / "val_shortest_paths.npy")
    paths[1, -1, -1] = 0
    np.save(good_folder / "val_shortest_paths.npy", paths)
    message = _expect_error(good_folder, "val", WarcraftDataError, "val_shortest_paths.npy")
    assert "example 1" in message


def test_error_parts_disagree(tmp_path):
    folder = tmp_path / "18x18"
    write_folder(folder, 18, {"train": 4}, parts=True)
    np.save(folder / "train_maps_part2.npy", np.zeros((1, 144, 144, 3), np.uint8))
    _expect_error(folder, "train", WarcraftDataError, "different numbers of files", k=18)


# --------------------------------------------------------------------------- generator
def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_generator_is_deterministic_by_seed(tmp_path):
    sizes = dict(n_train=5, n_val=2, n_test=2, progress=False)
    a = _files(generate_warcraft(tmp_path / "a", 12, seed=7, **sizes))
    b = _files(generate_warcraft(tmp_path / "b", 12, seed=7, **sizes))
    c = _files(generate_warcraft(tmp_path / "c", 12, seed=8, **sizes))
    assert set(a) == {
        f"{s}_{kind}.npy"
        for s in ("train", "val", "test")
        for kind in ("maps", "vertex_weights", "shortest_paths")
    } | {"info.json"}
    assert a == b
    for name in ("train_maps.npy", "val_maps.npy", "test_vertex_weights.npy"):
        assert a[name] != c[name]
    assert a["val_maps.npy"] != a["test_maps.npy"]  # splits draw from different streams
    # the files hold what the in-memory generator draws for the same seed
    maps, weights, paths = generate_maps(5, 12, seed=7)
    np.testing.assert_array_equal(np.load(tmp_path / "a" / "12x12" / "train_maps.npy"), maps)
    np.testing.assert_array_equal(
        np.load(tmp_path / "a" / "12x12" / "train_vertex_weights.npy"), weights
    )


@pytest.mark.parametrize("fmt", [2, 3])
def test_generator_labels_costs_and_colours(fmt):
    maps, weights, paths = generate_maps(60, 12, seed=3, format=fmt)
    assert maps.dtype == np.uint8 and maps.shape == (60, 96, 96, 3)
    assert paths.dtype == np.uint8
    assert_valid_labels(weights, paths)
    # all five classes occur, and every class's cells look most like that class's colour
    cls = np.searchsorted(STORED_COSTS, weights.astype(np.float32))
    assert set(np.unique(cls)) == {0, 1, 2, 3, 4}
    cell_rgb = maps.reshape(60, 12, 8, 12, 8, 3).mean(axis=(2, 4))
    for c in range(5):
        mean = cell_rgb[cls == c].mean(axis=0)
        assert np.argmin(np.linalg.norm(CLASS_MEAN_RGB - mean, axis=1)) == c, (c, mean)
    # the path lengths vary (the costs, not the geometry, decide the path)
    assert len(np.unique(paths.sum(axis=(1, 2)))) >= 4


def test_generator_k18_writes_part_files(tmp_path):
    folder = generate_warcraft(tmp_path, 18, n_train=5, n_val=2, n_test=1, progress=False)
    assert folder == tmp_path / "18x18"
    names = {p.name for p in folder.iterdir()}
    for kind in ("maps", "vertex_weights", "shortest_paths"):
        assert {f"train_{kind}_part0.npy", f"train_{kind}_part1.npy"} <= names
        assert f"train_{kind}.npy" not in names
    assert len(np.load(folder / "train_maps_part0.npy")) == 3
    assert np.load(folder / "train_vertex_weights_part1.npy").dtype == np.float16
    ds = WarcraftShortestPath(tmp_path, k=18, split="train")
    assert len(ds) == 5 and ds[4][0].shape == (3, 144, 144)
    assert_valid_labels(ds.costs.numpy().astype(np.float16), ds.paths.numpy().astype(np.uint8))
    assert read_info(folder)["train_set_params"]["num_examples"] == 5
    assert [p.name for p in tmp_path.iterdir()] == ["18x18"]  # no temporary folder left


def test_ensure_generates_once_and_refuses_silent_overwrite(tmp_path):
    sizes = dict(n_train=3, n_val=1, n_test=1, progress=False)
    folder = ensure_warcraft_data(12, root=tmp_path, **sizes)
    assert folder == tmp_path / "12x12"
    stamp = (folder / "train_maps.npy").stat().st_mtime_ns
    assert ensure_warcraft_data(12, root=tmp_path, **sizes) == folder
    assert (folder / "train_maps.npy").stat().st_mtime_ns == stamp
    with pytest.raises(FileExistsError, match="12x12"):
        generate_warcraft(tmp_path, 12, **sizes)
    info = json.loads((folder / "info.json").read_text())
    assert info["dataset_params"]["seed"] == 0
    assert info["dataset_params"]["format_version"] == warcraft_generator.FORMAT_VERSION


def test_ensure_regenerates_data_of_a_retired_generator_only(tmp_path):
    sizes = dict(n_train=3, n_val=1, n_test=1, progress=False)
    folder = ensure_warcraft_data(12, root=tmp_path, **sizes)
    info_path = folder / "info.json"
    info = json.loads(info_path.read_text())
    info["dataset_params"]["format_version"] = 1  # retired: can no longer be made
    info_path.write_text(json.dumps(info))
    fresh = np.load(folder / "train_maps.npy")
    np.save(folder / "train_maps.npy", np.zeros_like(fresh))
    ensure_warcraft_data(12, root=tmp_path, **sizes)
    np.testing.assert_array_equal(np.load(folder / "train_maps.npy"), fresh)  # made again
    assert json.loads(info_path.read_text())["dataset_params"]["format_version"] == (
        warcraft_generator.FORMAT_VERSION
    )
    # a folder that this generator did not write (e.g. the real data) is never replaced
    info["dataset_params"]["generator"] = "someone else"
    info_path.write_text(json.dumps(info))
    np.save(folder / "train_maps.npy", np.zeros_like(fresh))
    ensure_warcraft_data(12, root=tmp_path, **sizes)
    assert not np.load(folder / "train_maps.npy").any()


@pytest.mark.parametrize("fmt", [2, 3])
def test_generator_draws_every_map_with_one_tileset(fmt):
    """One skin: a cell inside a region of its own class (no border, no shore) is a copy
    of one of the tileset's tiles, with no per-map or per-cell colour change, so the same
    tiles recur across maps (format 2: a texture as placed by a displacement pattern;
    format 3: the texture itself)."""
    from diffsolvers.datasets.generator import format2, tiles

    maps, weights, _ = generate_maps(300, 12, seed=5, format=fmt)
    cls = np.searchsorted(STORED_COSTS, weights.astype(np.float32))
    tiles_ = maps.reshape(300, 12, 8, 12, 8, 3).transpose(0, 1, 3, 2, 4, 5)
    padded = np.pad(cls, [(0, 0), (1, 1), (1, 1)], constant_values=-1)
    inner = np.ones_like(cls, dtype=bool)  # all 8 neighbours of the cell's class
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            inner &= padded[:, 1 + dr : 13 + dr, 1 + dc : 13 + dc] == cls
    if fmt == 2:
        limit = format2.N_VARIANTS * format2.N_DISPLACEMENTS
    else:
        limit = tiles.N_VARIANTS
    checked = 0
    for c in range(len(CLASS_COSTS)):
        patches = tiles_[inner & (cls == c)]
        if len(patches) < 2 * limit or (fmt == 3 and c == 3):
            continue  # too few such cells to tell; format 3 shades water next to a shore
        checked += 1
        distinct = np.unique(patches.reshape(len(patches), -1), axis=0)
        assert len(distinct) <= limit, (c, len(distinct), limit)
    assert checked >= 2  # grass and dirt at least
