r"""Decreasing isotonic regression by pool adjacent violators (PAV), batched.

For each row ``u`` of length ``n``::

    v = argmin_{v_1 >= v_2 >= ... >= v_n} ½ ‖v - u‖²

The solution is piecewise constant: the entries fall into consecutive *blocks*, and each
block takes the mean of ``u`` over it. PAV finds the blocks in O(n) (Best & Chakravarti,
"Active set algorithms for isotonic regression", Math. Programming 1990). It is the core
of the projection onto the permutahedron, hence of the soft ranks and sorts of Blondel,
Teboul, Berthet, Djolonga, "Fast Differentiable Sorting and Ranking", ICML 2020
(:mod:`diffsolvers.layers.soft_rank`).

**Jacobian.** Where the blocks do not change under a small move of ``u`` (everywhere but on
a set of measure zero), ``∂v/∂u`` is block diagonal with the block ``(1/|B|) 1 1ᵀ`` for each
block ``B``: a block's value is the mean of its entries.

Example::

    >>> import numpy as np
    >>> v, block = isotonic_decreasing(np.array([3.0, 1.0, 2.0, 0.0]))
    >>> v
    array([3. , 1.5, 1.5, 0. ])
    >>> block
    array([0, 1, 1, 2])
"""

from __future__ import annotations

import numpy as np

from ._isotonic_kernels import pav_decreasing_batch
from .base import SolverInputError

__all__ = ["isotonic_decreasing"]


def isotonic_decreasing(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The decreasing isotonic regression of every row of ``u`` (last axis), and its blocks.

    Args:
        u: real values of shape ``(*batch, n)``, finite.

    Returns:
        ``(v, block)``: ``v`` the regression (``u``'s float dtype; float64 for integer
        input) and ``block`` (int64) the index of each entry's block, counted from 0 on
        the left of each row; both of ``u``'s shape.

    Examples:
        >>> v, block = isotonic_decreasing(np.array([[0.0, 1.0], [2.0, 1.0]]))
        >>> v
        array([[0.5, 0.5],
               [2. , 1. ]])
        >>> block
        array([[0, 0],
               [0, 1]])
    """
    arr = np.asarray(u)
    if arr.dtype == np.bool_ or not (
        np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
    ):
        raise SolverInputError(f"isotonic regression: u must hold real numbers, got {arr.dtype}")
    if arr.ndim == 0:
        raise SolverInputError("isotonic regression: u must have at least one axis (n values)")
    if not np.isfinite(arr).all():
        raise SolverInputError("isotonic regression: u contains NaN or inf")
    dtype = arr.dtype if arr.dtype in (np.float32, np.float64) else np.float64
    if arr.shape[-1] == 0:
        raise SolverInputError("isotonic regression: u has no values (its last axis is empty)")
    flat = np.ascontiguousarray(arr.reshape(-1, arr.shape[-1]), dtype=np.float64)
    v, block = pav_decreasing_batch(flat)
    return v.astype(dtype, copy=False).reshape(arr.shape), block.reshape(arr.shape)
