"""Shared machinery of the fuzz suite (tests/test_fuzz.py): values, exact objectives, checks.

* :func:`values` draws θ entries of one magnitude *profile*: ``ties`` (small integers: exact
  sums, many ties), ``float`` (uniform floats), ``float32`` (uniform floats rounded to
  float32, solved as float32), ``wide`` (integer mantissas times ``2^e``, ``e`` over 80
  binary orders, some zeros: near-ties decided by small entries), ``extreme`` (``e`` from
  the subnormals to about ``1e296``).
* :func:`exact_value` is ``⟨θ, y⟩`` in rational arithmetic; :func:`best_of` the exact
  optimum over an enumerated candidate set (brute force), evaluating exactly only the
  candidates that floating point cannot rule out.
* :class:`Reference` holds an optimum; :func:`small_size`, :func:`is_binary`,
  :func:`all_subsets` and :func:`is_tree` serve several cases.
* :func:`tolerance` is the float resolution a correct floating-point solver may lose:
  ``2^-48 · d · Σ|θ_i| · max|y|`` for ``d`` entries. For ``ties`` it is below 1, so those
  answers must be exactly optimal.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

PROFILES = ("ties", "float", "float32", "wide", "extreme")
Draw = Callable[[Any], Any]  # hypothesis' draw


def values(rng: np.random.Generator, shape: tuple, profile: str, sign: str = "any") -> np.ndarray:
    """θ entries of ``profile`` (float64; ``float32`` values are exactly float32).

    ``sign``: ``"any"``, ``"nonpositive"`` (costs ``θ = -c <= 0``) or ``"positive"``.
    """
    if profile == "ties":
        out = rng.integers(-3, 4, size=shape).astype(np.float64)
    elif profile in ("float", "float32"):
        out = rng.uniform(-2.0, 2.0, size=shape)
        if profile == "float32":
            out = out.astype(np.float32).astype(np.float64)
    elif profile in ("wide", "extreme"):
        low, high = (-40, 40) if profile == "wide" else (-1074, 980)
        exponents = rng.integers(low, high + 1, size=shape)
        out = np.ldexp(rng.integers(1, 16, size=shape).astype(np.float64), exponents)
        out *= rng.choice([-1.0, 1.0], size=shape)
        out[rng.random(shape) < 0.1] = 0.0
    else:
        raise ValueError(f"unknown profile {profile!r}")
    if sign == "nonpositive":
        out = -np.abs(out)
    elif sign == "positive":
        out = np.abs(out) + (out == 0)
    return out


def as_dtype(theta: np.ndarray, profile: str) -> np.ndarray:
    """θ as the solvers receive it: float32 for the ``float32`` profile."""
    return theta.astype(np.float32) if profile == "float32" else theta


def exact_value(theta: np.ndarray, y: np.ndarray) -> Fraction:
    """``⟨θ, y⟩`` exactly (every float is a rational)."""
    t, w = np.ravel(theta), np.ravel(y)
    nz = np.flatnonzero(w)
    return sum((Fraction(float(t[i])) * Fraction(float(w[i])) for i in nz), Fraction(0))


def best_of(theta: np.ndarray, candidates: np.ndarray) -> Fraction:
    """The exact maximum of ``⟨θ, y⟩`` over the rows ``y`` of ``candidates`` (K, d)."""
    t = np.ravel(theta).astype(np.float64)
    if candidates.shape[0] == 0:
        raise ValueError("no feasible candidate")
    approx = candidates @ t
    bound = (np.abs(candidates) @ np.abs(t)) * (t.size + 2) * 2.0**-52 + 1e-300
    near = np.flatnonzero(approx >= approx.max() - 2.0 * bound.max())
    return max(exact_value(t, candidates[k]) for k in near)


def tolerance(theta: np.ndarray, y_max: float = 1.0) -> Fraction:
    """What a correct floating-point solver may lose on one instance (module docstring)."""
    t = np.abs(np.ravel(theta).astype(np.float64))
    return Fraction(float(np.sum(t))) * Fraction(t.size * y_max) * Fraction(2) ** -48


@dataclass
class Instance:
    """A batch of instances of one problem: solver parameters shared by the batch, θ of
    shape ``(B, *shape)`` (float64, or float32 for that profile), per-instance side data,
    and per-instance reference data (candidates, graphs) for the case's checks."""

    params: dict[str, Any]
    theta: np.ndarray
    profile: str
    side: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def batch(self) -> int:
        return self.theta.shape[0]

    def scores(self, b: int) -> np.ndarray:
        """The θ an answer is scored on: ``info["scores"]`` where the solver transforms its
        input (clamped costs), else θ."""
        return self.info.get("scores", self.theta)[b]

    def side_of(self, b: int) -> dict[str, Any]:
        return {k: np.asarray(v)[b] for k, v in self.side.items()}

    def describe(self, b: int) -> str:
        np.set_printoptions(precision=17, threshold=200)
        return (
            f"params={self.params!r} profile={self.profile} side={self.side_of(b)!r}\n"
            f"θ={self.theta[b]!r}"
        )


@dataclass(frozen=True)
class Reference:
    """The optimum of one instance: ``proven`` (brute force, exact: an answer may not
    exceed it) or an independent library's answer (compared both ways); ``tol`` replaces
    the float tolerance of :func:`fuzz_support.tolerance` where the reference itself is
    only as precise as a floating-point LP solver."""

    value: Fraction
    proven: bool = True
    tol: Fraction | None = None


def small_size(draw: Draw, st_module: Any, low: int, tiny: int, medium: int) -> tuple[int, bool]:
    """A size, tiny (brute force) four times in five, else medium (library reference)."""
    st = st_module
    if draw(st.integers(0, 4)) or medium <= tiny:
        return draw(st.integers(low, tiny)), True
    return draw(st.integers(tiny + 1, medium)), False


def is_binary(y: np.ndarray) -> bool:
    return bool(np.all((y == 0) | (y == 1)))


@functools.lru_cache(maxsize=32)
def all_subsets(n: int) -> np.ndarray:
    return np.array(list(itertools.product((0.0, 1.0), repeat=n))).reshape(-1, n)


def is_tree(n: int, edges: np.ndarray) -> bool:
    if edges.shape[0] != n - 1:
        return False
    parent = list(range(n))

    def root(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for u, v in edges:
        ru, rv = root(int(u)), root(int(v))
        if ru == rv:
            return False
        parent[ru] = rv
    return True
