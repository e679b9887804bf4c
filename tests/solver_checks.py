"""Reusable checks for solver tests (plain functions; import them in any test module).

    from solver_checks import (assert_same_objective, assert_batched_equals_single,
                               assert_integral, assert_dtype_rules, assert_empty_batch,
                               check_bad_inputs)

Each function takes a :class:`solvers.Solver`, a batch ``theta`` of shape ``(B, *shape)``
and the solver's per-instance side data as keyword arrays with the same leading axis
``B``, and fails with an ``AssertionError`` (or the solver's own exception) when the
solver breaks the contract of :mod:`solvers.base`:

* ``assert_same_objective(a, b, theta)``: ``⟨θ, y_a⟩ == ⟨θ, y_b⟩`` per instance (exact by
  default: draw small integer ``θ`` so that sums are exact and ties are frequent);
* ``assert_batched_equals_single(s, theta)``: solving the batch gives the per-instance
  answers, also with 0 batch axes (one instance) and 2 batch axes ``(1, B, *shape)``;
* ``assert_integral(y)``: finite and exactly integral entries;
* ``assert_dtype_rules(s, theta)``: float32 stays float32, float64 stays float64, integer
  input comes back float64;
* ``assert_empty_batch(s, shape)``: a ``(0, *shape)`` batch gives an empty ``(0, *shape)``;
* ``check_bad_inputs(s, good_theta)``: NaN, inf, object, complex and string dtypes and
  too few axes raise ``ValueError``/``TypeError`` whose message names ``s.problem``, and
  ``check_array_like_inputs`` passes;
* ``check_array_like_inputs(s, good_theta)``: NumPy subclasses are solved as plain arrays
  (``np.matrix``, a masked array without masked entries) or refused (a masked array with a
  masked entry, NaN or not), and a torch tensor that requires grad is a ``TypeError``
  saying to detach it.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

try:
    import torch
except ImportError:  # the tensor checks are skipped without torch
    torch = None

__all__ = [
    "assert_batched_equals_single",
    "check_array_like_inputs",
    "assert_dtype_rules",
    "assert_empty_batch",
    "assert_integral",
    "assert_same_objective",
    "check_bad_inputs",
]


def assert_integral(y: Any) -> None:
    """Every entry of ``y`` is finite and exactly an integer."""
    y = np.asarray(y)
    assert y.dtype.kind == "f", f"expected a float result, got dtype {y.dtype}"
    assert np.isfinite(y).all(), "result has NaN or inf entries"
    assert np.array_equal(y, np.round(y)), f"result is not exactly integral: {y}"


def assert_same_objective(
    solver_a: Any,
    solver_b: Any,
    theta: np.ndarray,
    *,
    exact: bool = True,
    rtol: float = 1e-9,
    atol: float = 1e-9,
    **side: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """Both solvers reach the same objective ``⟨θ, y⟩`` on every instance; returns both ``y``.

    ``exact=True`` compares with ``==`` (use integer-valued ``θ``); otherwise within
    ``rtol``/``atol`` (float ``θ``: two optimal ``y`` can sum in different orders).
    """
    ya = solver_a.solve(theta, **side)
    yb = solver_b.solve(theta, **side)
    assert ya.shape == yb.shape == np.shape(theta), (ya.shape, yb.shape, np.shape(theta))
    oa = solver_a.objective(theta, ya)
    ob = solver_b.objective(theta, yb)
    if exact:
        bad = np.flatnonzero(np.asarray(oa != ob).ravel())
        assert bad.size == 0, (
            f"{solver_a!r} and {solver_b!r} disagree on {bad.size} instance(s); first at flat "
            f"index {bad[:1]}: objectives {np.ravel(oa)[bad[:1]]} vs {np.ravel(ob)[bad[:1]]}"
        )
    else:
        np.testing.assert_allclose(oa, ob, rtol=rtol, atol=atol)
    return ya, yb


def assert_batched_equals_single(solver: Any, theta: np.ndarray, **side: Any) -> np.ndarray:
    """The batched answer equals the per-instance answers (0, 1 and 2 batch axes)."""
    theta = np.asarray(theta)
    y = solver.solve(theta, **side)
    assert y.shape == theta.shape
    for b in range(theta.shape[0]):
        yb = solver.solve(theta[b], **{k: np.asarray(v)[b] for k, v in side.items()})
        assert yb.shape == theta.shape[1:], (yb.shape, theta.shape[1:])
        np.testing.assert_array_equal(y[b], yb, err_msg=f"instance {b} differs when batched")
    y2 = solver.solve(theta[None], **{k: np.asarray(v)[None] for k, v in side.items()})
    np.testing.assert_array_equal(y2[0], y, err_msg="(1, B, ...) batch differs from (B, ...)")
    return y


def assert_dtype_rules(solver: Any, theta: np.ndarray, **side: Any) -> None:
    """float32 -> float32, float64 -> float64, integer (of ``round(θ)``) -> float64."""
    theta = np.asarray(theta)
    for dtype, expected in ((np.float32, np.float32), (np.float64, np.float64)):
        y = solver.solve(theta.astype(dtype), **side)
        assert y.dtype == expected, f"{dtype.__name__} input gave {y.dtype}"
    y = solver.solve(np.round(theta).astype(np.int64), **side)
    assert y.dtype == np.float64, f"int64 input gave {y.dtype}"


def assert_empty_batch(solver: Any, instance_shape: tuple[int, ...], **side: Any) -> None:
    """A batch of zero instances returns an empty result of the same shape."""
    theta = np.zeros((0, *instance_shape))
    y = solver.solve(theta, **side)
    assert y.shape == theta.shape, (y.shape, theta.shape)


def _raises_naming(solver: Any, theta: Any, what: str, side: dict) -> None:
    with pytest.raises((ValueError, TypeError)) as info:
        solver.solve(theta, **side)
    assert solver.problem in str(info.value), (
        f"{what}: the error message does not name the problem {solver.problem!r}: {info.value}"
    )


def check_bad_inputs(solver: Any, good_theta: np.ndarray, **side: Any) -> None:
    """NaN, inf, object/complex/string dtype and too few axes raise clear errors.

    ``good_theta`` is a valid batch ``(B, *shape)`` with ``side`` its valid side data; the
    check first solves it, then spoils one thing at a time.
    """
    good = np.asarray(good_theta, dtype=np.float64)
    solver.solve(good, **side)
    for value, what in ((np.nan, "NaN"), (np.inf, "inf"), (-np.inf, "-inf")):
        bad = good.copy()
        bad.flat[bad.size // 2] = value
        _raises_naming(solver, bad, what, side)
    _raises_naming(solver, good.astype(object), "object dtype", side)
    _raises_naming(solver, good.astype(np.complex128), "complex dtype", side)
    _raises_naming(solver, good.astype(str), "string dtype", side)
    if solver.event_ndim >= 1:
        # one instance with its first instance axis dropped: too few axes
        too_few = good[(0,) * (good.ndim - solver.event_ndim + 1)]
        _raises_naming(solver, too_few, "too few axes", {})
    check_array_like_inputs(solver, good, **side)


def check_array_like_inputs(solver: Any, good_theta: np.ndarray, **side: Any) -> None:
    """Array-likes that are not plain arrays: solved as their plain values, or refused.

    A masked array's ``min``/``max`` skip masked entries, so a NaN behind a mask must
    still raise, and so must a masked finite entry (the solvers have no missing values);
    ``np.matrix`` must not reach a kernel as a matrix; a tensor that requires grad gives
    a ``TypeError`` that names the problem and says to detach it.
    """
    good = np.asarray(good_theta, dtype=np.float64)
    want = solver.solve(good, **side)
    for what, theta, theta_side in _plain_equivalents(solver, good, side):
        y = solver.solve(theta, **theta_side)
        assert type(y) is np.ndarray, f"{what}: result is a {type(y).__name__}"
        expected = solver.solve(np.asarray(theta), **theta_side)
        np.testing.assert_array_equal(y, expected, err_msg=f"{what} solved differently")
    nan = good.copy()
    nan.flat[nan.size // 2] = np.nan
    _raises_naming(solver, np.ma.masked_invalid(nan), "NaN behind a mask", side)
    mask = np.zeros(good.shape, dtype=bool)
    mask.flat[0] = True
    _raises_naming(solver, np.ma.masked_array(good, mask=mask), "masked entry", side)
    if torch is not None:
        y = solver.solve(torch.from_numpy(good), **side)
        np.testing.assert_array_equal(y, want, err_msg="a tensor solved differently")
        with pytest.raises(TypeError, match=f"{solver.problem}: θ .*requires grad.*detach"):
            solver.solve(torch.tensor(good, requires_grad=True), **side)


def _plain_equivalents(solver: Any, good: np.ndarray, side: dict) -> list:
    """``(what, θ, side)`` for subclass inputs that must solve as their plain arrays."""
    cases = [("unmasked masked array", np.ma.masked_array(good), side)]
    with warnings.catch_warnings():  # np.matrix is pending deprecation, but still met
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        if good.ndim == 2:  # a batch of vectors (or one 2-D instance) as an np.matrix
            cases.append(("np.matrix", np.asmatrix(good), side))
        elif solver.event_ndim == 2:  # one 2-D instance of the batch, without side data
            one = good.reshape(-1, *good.shape[-2:])[0]
            cases.append(("np.matrix instance", np.asmatrix(one), {}))
    return cases
