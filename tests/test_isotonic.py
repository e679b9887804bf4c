"""The decreasing isotonic regression (pool adjacent violators) against two independent
references: scikit-learn's ``IsotonicRegression`` and the min-max formula, on many random
rows with ties."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.isotonic import IsotonicRegression

from solvers.base import SolverInputError
from solvers.isotonic import isotonic_decreasing


def min_max_formula(u: np.ndarray) -> np.ndarray:
    """``v_i = min_{k <= i} max_{l >= i} mean(u_k..u_l)``, the closed form of the decreasing
    isotonic regression (Robertson, Wright, Dykstra, "Order Restricted Statistical
    Inference", 1988, Thm 1.4.4, mirrored for a decreasing order); O(n³)."""
    n = len(u)
    prefix = np.concatenate([[0.0], np.cumsum(u)])
    v = np.empty(n)
    for i in range(n):
        v[i] = min(
            max((prefix[h + 1] - prefix[k]) / (h + 1 - k) for h in range(i, n))
            for k in range(i + 1)
        )
    return v


def _rows(seed: int) -> np.ndarray:
    """Rows of random lengths: continuous values, small integers (ties), constant and
    sorted rows."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 12))
    kind = seed % 4
    if kind == 0:
        return rng.normal(size=(5, n))
    if kind == 1:
        return rng.integers(-2, 3, size=(5, n)).astype(np.float64)
    if kind == 2:
        return np.sort(rng.integers(0, 3, size=(5, n)), axis=-1)[:, ::-1].astype(np.float64)
    return np.sort(rng.normal(size=(5, n)), axis=-1)


@pytest.mark.parametrize("seed", range(60))
def test_agrees_with_sklearn_and_the_min_max_formula(seed):
    u = _rows(seed)
    v, block = isotonic_decreasing(u)
    positions = np.arange(u.shape[-1])
    for row, out, blocks in zip(u, v, block):
        sk = IsotonicRegression(increasing=False).fit_transform(positions, row)
        np.testing.assert_allclose(out, sk, rtol=0, atol=1e-12)
        np.testing.assert_allclose(out, min_max_formula(row), rtol=0, atol=1e-12)
        # blocks: consecutive, numbered 0, 1, ... from the left; each holds the mean of u
        assert blocks[0] == 0 and set(np.diff(blocks)) <= {0, 1}
        for b in np.unique(blocks):
            np.testing.assert_allclose(out[blocks == b], row[blocks == b].mean(), atol=1e-12)
        assert (np.diff(out) <= 1e-12).all()


def test_batch_axes_dtypes_and_the_example_of_the_docs():
    u = np.random.default_rng(0).normal(size=(2, 3, 7))
    v, block = isotonic_decreasing(u)
    assert v.shape == block.shape == u.shape and block.dtype == np.int64
    np.testing.assert_array_equal(v[1, 2], isotonic_decreasing(u[1, 2])[0])
    assert isotonic_decreasing(u.astype(np.float32))[0].dtype == np.float32
    assert isotonic_decreasing(np.array([3, 1, 2]))[0].dtype == np.float64
    np.testing.assert_array_equal(
        isotonic_decreasing(np.array([3.0, 1.0, 2.0, 0.0]))[0], [3, 1.5, 1.5, 0]
    )


def test_a_long_batch_runs_in_parallel_and_agrees_row_by_row():
    u = np.random.default_rng(1).integers(0, 4, size=(3000, 9)).astype(np.float64)
    v, _ = isotonic_decreasing(u)
    for i in range(0, 3000, 250):
        np.testing.assert_allclose(v[i], min_max_formula(u[i]), atol=1e-12)


@pytest.mark.parametrize(
    ("u", "message"),
    [
        (np.array([1.0, np.nan]), "NaN or inf"),
        (np.array([1.0, np.inf]), "NaN or inf"),
        (np.array([True, False]), "real numbers"),
        (np.array(["a", "b"]), "real numbers"),
        (np.float64(1.0), "at least one axis"),
        (np.zeros((3, 0)), "no values"),
    ],
)
def test_bad_input_is_named(u, message):
    with pytest.raises(SolverInputError, match=message):
        isotonic_decreasing(u)
