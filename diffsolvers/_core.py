r"""Shared plumbing of every method: the sign convention, the module that owns a solver,
the working precision, perturbation samples and reductions.

Each method module of :mod:`diffsolvers.layers` and :mod:`diffsolvers.losses` builds on
these pieces, on the solver crossing of :mod:`diffsolvers._bridge` and on the noise
operators of :mod:`diffsolvers._random`; none of them holds method-specific maths.

* :func:`costs_to_theta`: ``θ = -ĉ`` for predicted costs, the one sign flip of the library.
* :class:`SolverModule`: the base of every layer and loss that calls a solver; it accepts
  any solver-like object (:func:`diffsolvers.oracle.as_solver`) and holds the integer
  handles the custom operators take. :class:`NoisySolverModule` adds a noise distribution
  and the module's own random source (the perturbed optimizer, I-MLE).
* :func:`work_dtype`: float16 and bfloat16 scores are perturbed and solved in float32.
* :class:`PerturbedSamples` / :func:`perturb_and_solve`: ``M`` perturbations of θ and their
  solutions, from one solver call (Berthet et al., NeurIPS 2020).
* :func:`reduce`: the ``reduction`` of every loss.

Example::

    >>> import torch, solvers
    >>> from diffsolvers._core import perturb_and_solve
    >>> from diffsolvers.noise import Normal
    >>> s = perturb_and_solve(solvers.get("argmax"), torch.tensor([[0.1, 2.0, 0.3]]),
    ...                       noise=Normal(), sigma=1e-6, n_samples=2)
    >>> s.y
    tensor([[[0., 1., 0.]],
    <BLANKLINE>
            [[0., 1., 0.]]])
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from . import _bridge, _handles, _random
from ._checks import (
    INPUTS,
    REDUCTIONS,
    check_choice,
    check_float,
    checked_prediction,
    problem_name,
)
from ._options import OPTIONS
from .noise import Noise
from .oracle import as_solver

__all__ = [
    "costs_to_theta",
    "reduce",
    "SolverModule",
    "NoisySolverModule",
    "work_dtype",
    "PerturbedSamples",
    "perturb_and_solve",
]

#: Dtypes the perturbation methods compute in; narrower floats are widened to float32.
_WORK_DTYPES = (torch.float32, torch.float64)


def costs_to_theta(x: torch.Tensor, inputs: str = "costs") -> torch.Tensor:
    """``θ`` from a model output: ``θ = -x`` for ``inputs="costs"``, ``θ = x`` for ``"scores"``.

    The one place in :mod:`diffsolvers` where predicted costs change sign.

    >>> costs_to_theta(torch.tensor([1.0, 2.0]))
    tensor([-1., -2.])
    """
    if inputs == "costs":
        return -x
    check_choice("inputs", inputs, INPUTS)
    return x


def reduce(values: torch.Tensor, reduction: str, problem: str = "loss") -> torch.Tensor:
    """Apply ``reduction`` (``"mean"``, ``"sum"`` or ``"none"``) to per-instance values.

    The mean of an empty batch is refused (``ValueError``) rather than returned as NaN; its
    sum is 0 and ``"none"`` returns the empty values.

    >>> reduce(torch.tensor([1.0, 3.0]), "mean")
    tensor(2.)
    """
    check_choice("reduction", reduction, REDUCTIONS)
    if reduction == "mean":
        if values.numel() == 0:
            raise ValueError(f"{problem}: reduction='mean' over an empty batch (no instances)")
        return values.mean()
    if reduction == "sum":
        return values.sum()
    return values


def work_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype a method perturbs and solves in: float32 for float16 / bfloat16 (their
    rounding of ``θ + εZ`` would create ties, broken by index), ``dtype`` otherwise.

    >>> work_dtype(torch.bfloat16)
    torch.float32
    """
    return dtype if dtype in _WORK_DTYPES else torch.float32


class SolverModule(nn.Module):
    """The base of every layer and loss that calls a solver.

    ``solver`` may be anything :func:`~diffsolvers.oracle.as_solver` accepts (a
    :class:`solvers.Solver`, a Solver subclass, a torch or NumPy function). The module owns
    it and holds its integer handle (``_solver_key``) for the custom operators; setting
    ``module.solver`` updates the handle, and a copied or unpickled module gets the
    handles of its own copies.
    """

    def __init__(self, solver: Any) -> None:
        super().__init__()
        self.solver = solver

    @property
    def solver(self) -> Any:
        return self._solver

    @solver.setter
    def solver(self, solver: Any) -> None:
        self._solver = as_solver(solver)
        self._solver_key = _handles.key(self._solver)

    @property
    def problem(self) -> str:
        """The solver's problem name."""
        return problem_name(self._solver)

    def _rekey(self) -> None:
        """Refresh the handles of the objects the module owns (after a copy)."""
        self._solver_key = _handles.key(self._solver)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._rekey()

    def _prediction(self, x: torch.Tensor, inputs: str) -> tuple[torch.Tensor, torch.Size]:
        """θ from the prediction ``x`` (``inputs``), checked in full (shapes, finite values,
        the sign warning); returns θ and its batch shape."""
        check_float(x, self._solver)  # before the sign flip (a bool tensor has no negation)
        theta, batch_shape, _ = checked_prediction(costs_to_theta(x, inputs), self._solver)
        return theta, batch_shape


class NoisySolverModule(SolverModule):
    """A :class:`SolverModule` that perturbs with a noise distribution of its own, drawn
    from its own random source (the perturbed optimizer, the I-MLE layers).

    It holds the handles of both for the custom operators (refreshed on a copy, as the
    solver's), and gives ``seed``, ``generator`` and :meth:`manual_seed` for reproducible
    draws; a subclass checks a new ``noise`` in :meth:`_checked_noise`.

    Examples:
        >>> import solvers
        >>> from diffsolvers.noise import Normal
        >>> module = NoisySolverModule(solvers.get("argmax"), Normal(), seed=3)
        >>> module.seed, module.noise.name
        (3, 'normal')
    """

    def __init__(
        self,
        solver: Any,
        noise: Any,
        seed: int | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(solver)
        seed, generator = OPTIONS["seed"].check(seed), OPTIONS["generator"].check(generator)
        self._source = _random.RandomSource(seed, generator)
        self._source_key = _handles.key(self._source)
        self.noise = noise

    @property
    def noise(self) -> Any:
        """The noise distribution."""
        return self._noise

    @noise.setter
    def noise(self, noise: Any) -> None:
        self._noise = self._checked_noise(noise)
        self._noise_key = _handles.key(self._noise)

    def _checked_noise(self, noise: Any) -> Any:
        """``noise`` as the module keeps it, or an error (any object, here)."""
        return noise

    @property
    def seed(self) -> int | None:
        """The seed the module's random source was built or last restarted with."""
        return self._source.seed

    @property
    def generator(self) -> torch.Generator | None:
        """The user's generator the module draws from, if one was given."""
        return self._source.generator

    def _rekey(self) -> None:
        super()._rekey()
        self._noise_key = _handles.key(self._noise)
        self._source_key = _handles.key(self._source)

    def manual_seed(self, seed: int) -> NoisySolverModule:
        """Restart the module's generators from ``seed`` (an integer in torch's seed range)."""
        self._source.manual_seed(seed)
        return self


@dataclass
class PerturbedSamples:
    """The samples of one forward pass, flattened to ``N`` instances of ``D`` entries.

    ``theta`` (N, D) is the unperturbed input (in the working dtype, :func:`work_dtype`),
    ``z`` (M, N, D) the noise, ``weights`` (M, N, D) the multiplicative factors ``w_m``
    (``None`` in additive mode), ``theta_p`` (M, N, D) the perturbed inputs, ``y`` (M, N, D)
    the solutions ``y*(θ_m)`` and ``y_base`` (N, D) the unperturbed solution ``y*(θ)``
    (``None`` without control variate).
    """

    theta: torch.Tensor
    z: torch.Tensor
    weights: torch.Tensor | None
    theta_p: torch.Tensor
    y: torch.Tensor
    y_base: torch.Tensor | None
    batch_shape: torch.Size
    event_shape: torch.Size

    @property
    def n_samples(self) -> int:
        return self.y.shape[0]


def perturb_and_solve(
    solver: Any,
    theta: torch.Tensor,
    *,
    noise: Noise,
    sigma: float,
    n_samples: int,
    mode: str = "additive",
    source: _random.RandomSource | None = None,
    base: bool = False,
    side: Mapping[str, Any] | None = None,
    keys: tuple[int, int, int] | None = None,
) -> PerturbedSamples:
    """Draw ``M`` perturbations of ``θ`` and solve them all (and ``y*(θ)`` if ``base``) in
    ONE solver call; no gradient. θ is taken as checked (its values are not read here).

    Additive mode: ``θ_m = θ + εZ_m``; multiplicative: ``θ_m = θ ⊙ w_m`` with
    ``w_m = exp(εZ_m - log E[e^{εZ}])`` (Berthet et al., "Learning with Differentiable
    Perturbed Optimizers", NeurIPS 2020). Everything is computed in :func:`work_dtype`.
    ``keys`` holds the handles of (solver, noise, source) where the caller keeps them.
    """
    solver_key, noise_key, source_key = keys or (
        _handles.key(solver),
        _handles.key(noise),
        _handles.key(source),
    )
    cut = theta.ndim - solver.event_ndim
    batch_shape, event_shape = theta.shape[:cut], theta.shape[cut:]
    n, d = math.prod(batch_shape), math.prod(event_shape)
    work = theta.detach().to(work_dtype(theta.dtype))
    multiplicative = mode == "multiplicative"
    z = _random.draw(work, n_samples, noise_key, source_key)
    log_mgf = noise.log_mgf(sigma) if multiplicative else 0.0
    theta_p = _random.perturb(
        work,
        z,
        sigma,
        log_mgf=log_mgf,
        multiplicative=multiplicative,
        problem=problem_name(solver),
    )
    stacked = torch.cat([theta_p, work.unsqueeze(0)]) if base else theta_p
    y = _bridge.solve(solver, stacked, side, key=solver_key, what="the perturbed scores")
    weights = torch.exp(sigma * z - log_mgf).reshape(n_samples, n, d) if multiplicative else None
    return PerturbedSamples(
        theta=work.reshape(n, d),
        z=z.reshape(n_samples, n, d),
        weights=weights,
        theta_p=theta_p.reshape(n_samples, n, d),
        y=y[:n_samples].reshape(n_samples, n, d),
        y_base=y[n_samples].reshape(n, d) if base else None,
        batch_shape=batch_shape,
        event_shape=event_shape,
    )
