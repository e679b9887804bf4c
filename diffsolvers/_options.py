r"""Every method option in one table: its name, default, check and help text.

The layer and loss classes take their defaults from here and check their arguments with
:meth:`Option.check`; the registry lists each method's options with these defaults
(:func:`diffsolvers.available`, :func:`diffsolvers.method_info`), and the documentation
reads the help texts. A method may override a default (I-MLE draws one sample by
default, the perturbed methods three); that override is stated once, where the method
registers itself, and its class uses the same value.

======================= ============ ===================================================
option                  default      meaning
======================= ============ ===================================================
``sigma``               1.0          noise scale ε > 0 of the perturbation
``n_samples``           3            number M of perturbations per forward pass
``noise``               ``"normal"`` noise distribution
``mode``                additive     ``θ + εZ`` or ``θ ⊙ exp(εZ - log E[e^{εZ}])``
``control_variate``     False        subtract ``y*(θ)`` in the Jacobian estimate
``seed``, ``generator`` None         the module's own random numbers
``inputs``              ``"scores"`` the input is θ, or costs ĉ with θ = -ĉ
``reduction``           ``"mean"``   over the batch axes of a loss
``lambda_``             10.0         interpolation strength λ (blackbox, I-MLE)
``projection``          None         identity layer's projection of θ
``kappa``, ``tau``      1.0          Sum-of-Gamma κ and temperature τ (I-MLE)
``n_terms``             10           Sum-of-Gamma number of Gamma terms (I-MLE)
``map_in_eval``         True         I-MLE returns the noise-free ``y*(θ)`` in eval mode
``solve_ratio``         None         share of instances solved exactly (caching; pool losses: 1)
``pool``                None         solutions a solution pool starts from
``max_pool``            20000        the most solutions a pool holds
``temperature``         1.0          listwise LTR: temperature of the softmax
``step``                0.1          perturbation gradient: finite-difference step h
``central_difference``  False        perturbation gradient: central difference
``margin``              1.0          structured SVM: weight α of the Hamming margin
``beta``                1.0          adaptive I-MLE: initial β of ``λ = β‖θ‖/‖∂L/∂y‖``
``beta_step``           0.001        adaptive I-MLE: the step by which β moves per update
``target_norm``         1.0          adaptive I-MLE: target changed entries per sample
``norm_decay``          0.9          adaptive I-MLE: decay of the running average
``symmetric``           False        adaptive I-MLE: central difference ``θ ± λ∂L/∂y``
``strength``            1.0          regularised layers: ε of ``Ω(y) = (ε/2)‖y‖²``
``n_iterations``        100          Frank-Wolfe: at most this many iterations
``tolerance``           0.001        Frank-Wolfe: stop once ``‖y - ŷ‖₂ <= tolerance``
``function``            None         pushforward: the function ``g`` of the solutions
======================= ============ ===================================================

Example::

    >>> from diffsolvers._options import OPTIONS
    >>> OPTIONS["sigma"].default, OPTIONS["sigma"].check(0.5)
    (1.0, 0.5)
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ._checks import (
    INPUTS,
    REDUCTIONS,
    all_finite,
    check_choice,
    check_count,
    check_flag,
    check_generator,
    check_positive,
    check_seed,
)
from .noise import Noise, get_noise

__all__ = ["Option", "OPTIONS", "MODES", "PROJECTIONS", "option"]

#: The perturbation modes.
MODES = ("additive", "multiplicative")
#: The identity layer's projections of θ.
PROJECTIONS = (None, "normalize", "mean", "mean_normalize")


@dataclass(frozen=True)
class Option:
    """One method option: ``name``, ``default``, the ``checker(name, value)`` that returns
    the value to store (or raises naming the option), and a one-line ``help``."""

    name: str
    default: Any
    checker: Callable[[str, Any], Any]
    help: str

    def check(self, value: Any) -> Any:
        """``value`` checked and normalised (a NumPy scalar becomes a Python number...)."""
        return self.checker(self.name, value)


def _choice(choices: tuple) -> Callable[[str, Any], Any]:
    def check(name: str, value: Any) -> Any:
        check_choice(name, value, choices)
        return value

    return check


def _seed(name: str, value: Any) -> int | None:
    return check_seed(value)


def _generator(name: str, value: Any) -> Any:
    return check_generator(value)


def _noise(name: str, value: Any) -> Noise:
    return get_noise(value)


def _non_negative(name: str, value: Any) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a non-negative number, got {value!r}")
    if not (value >= 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a non-negative finite number, got {value!r}")
    return float(value)


def _decay(name: str, value: Any) -> float:
    decay = _non_negative(name, value)
    if decay >= 1:
        raise ValueError(f"{name} must be in [0, 1), got {value!r}")
    return decay


def _function(name: str, value: Any) -> Callable[..., Any] | None:
    if value is not None and not callable(value):
        raise TypeError(f"{name} must be a callable or None, got {value!r}")
    return value


def _ratio(name: str, value: Any) -> float | None:
    """``None`` or a share in [0, 1]; where 0 makes no sense (a solver cache) the user of
    the option says so."""
    if value is None:
        return None
    if (
        isinstance(value, (bool, np.bool_))
        or not isinstance(value, numbers.Real)
        or not 0 <= value <= 1  # NaN fails too
    ):
        raise ValueError(f"{name} must be a number in [0, 1] or None, got {value!r}")
    return float(value)


def _solutions(name: str, value: Any) -> torch.Tensor | None:
    """``None``, or solutions as a float64 CPU tensor (real, finite; shapes are the
    solver's to check)."""
    if value is None:
        return None
    try:
        if isinstance(value, torch.Tensor):
            t = value.detach()
        else:
            t = torch.as_tensor(np.asarray(value))
    except (TypeError, ValueError, RuntimeError) as exc:
        raise TypeError(f"{name} could not be read as an array of solutions: {exc}") from exc
    if t.is_complex():
        raise TypeError(f"{name} must hold real numbers, got {t.dtype}")
    t = t.to("cpu", torch.float64)
    if not all_finite(t):
        raise ValueError(f"{name} contains NaN or inf; solutions must be finite")
    return t


_TABLE = [
    Option("sigma", 1.0, check_positive, "noise scale ε > 0 of the perturbation"),
    Option("n_samples", 3, check_count, "number M of noise samples per forward pass"),
    Option("noise", "normal", _noise, "noise distribution: 'normal', 'gumbel' or a Noise"),
    Option(
        "mode",
        "additive",
        _choice(MODES),
        "'additive' (θ + εZ) or 'multiplicative' (θ ⊙ exp(εZ - ε²/2), keeps the sign of θ)",
    ),
    Option(
        "control_variate",
        False,
        check_flag,
        "subtract y*(θ) in the Jacobian estimate (unbiased, lower variance, one more solve)",
    ),
    Option("seed", None, _seed, "seed of the module's own random generator (None: torch's)"),
    Option("generator", None, _generator, "a torch.Generator to draw the noise from"),
    Option(
        "inputs",
        "scores",
        _choice(INPUTS),
        "'scores' (the input is θ, maximised) or 'costs' (the input is ĉ, θ = -ĉ)",
    ),
    Option("reduction", "mean", _choice(REDUCTIONS), "'mean', 'sum' or 'none' over the batch"),
    Option("lambda_", 10.0, check_positive, "interpolation strength λ > 0 of θ - λ·∂L/∂y"),
    Option(
        "projection",
        None,
        _choice(PROJECTIONS),
        "projection of θ before the solve: None, 'normalize', 'mean' or 'mean_normalize'",
    ),
    Option("kappa", 1.0, check_positive, "Sum-of-Gamma κ > 0 (about the solution's size)"),
    Option("tau", 1.0, check_positive, "Sum-of-Gamma temperature τ > 0 (noise scale)"),
    Option("n_terms", 10, check_count, "Sum-of-Gamma number s >= 1 of Gamma terms"),
    Option("map_in_eval", True, check_flag, "in eval mode return y*(θ) without noise"),
    Option(
        "beta",
        1.0,
        _non_negative,
        "adaptive I-MLE: initial β >= 0 of the target strength λ = β·‖θ‖/‖∂L/∂y‖ per instance",
    ),
    Option("beta_step", 1e-3, check_positive, "adaptive I-MLE: step > 0 of β's updates"),
    Option(
        "target_norm",
        1.0,
        check_positive,
        "adaptive I-MLE: target number of entries per sample where y*(θ+ε) and y*(θ'+ε) differ",
    ),
    Option(
        "norm_decay",
        0.9,
        _decay,
        "adaptive I-MLE: decay in [0, 1) of the running average of that number",
    ),
    Option(
        "symmetric",
        False,
        check_flag,
        "adaptive I-MLE: central difference (y*(θ+λg+ε) - y*(θ-λg+ε))/(2λ)",
    ),
    Option(
        "strength",
        1.0,
        check_positive,
        "regularisation strength ε > 0: ŷ = argmax over conv(Y) of ⟨θ, y⟩ - (ε/2)‖y‖²",
    ),
    Option("n_iterations", 100, check_count, "Frank-Wolfe: the most iterations (solver calls)"),
    Option(
        "tolerance",
        1e-3,
        check_positive,
        "Frank-Wolfe: stop once the duality gap certifies ‖y - ŷ‖₂ <= tolerance",
    ),
    Option(
        "function",
        None,
        _function,
        "pushforward: g(y, *args) of the sampled solutions (None: the identity)",
    ),
    # Solution caching: the registry gives it to every method that calls a solver and
    # wraps the solver with solvers.cached (diffsolvers/_caching.py), except the losses on a
    # solution pool, which take it themselves (diffsolvers/losses/pool.py).
    Option(
        "solve_ratio",
        None,
        _ratio,
        "share in [0, 1] of the instances solved exactly per call, the others answered "
        "from the solutions seen (None: no cache; a loss's own solution pool: 1)",
    ),
    Option(
        "pool",
        None,
        _solutions,
        "solutions (K, *instance) the solution pool starts from, e.g. the training targets",
    ),
    Option("max_pool", 20_000, check_count, "the most solutions a pool holds (oldest replaced)"),
    Option(
        "temperature",
        1.0,
        check_positive,
        "listwise LTR: temperature τ > 0 of the softmax over the pool's objective values",
    ),
    Option(
        "step",
        0.1,
        check_positive,
        "perturbation gradient: finite-difference step h > 0 along the true scores (PyEPO's sigma)",
    ),
    Option(
        "central_difference",
        False,
        check_flag,
        "perturbation gradient: central difference (two solves) instead of the backward one",
    ),
    Option(
        "margin",
        1.0,
        check_positive,
        "structured SVM: weight α > 0 of the Hamming margin α·Δ(y, ȳ)",
    ),
]

#: Every option by name.
OPTIONS: dict[str, Option] = {o.name: o for o in _TABLE}


def option(name: str) -> Option:
    """The :class:`Option` ``name``; ``KeyError`` listing the known names otherwise."""
    if name not in OPTIONS:
        raise KeyError(f"unknown option {name!r}; known options: {', '.join(OPTIONS)}")
    return OPTIONS[name]
