r"""Adaptive I-MLE: I-MLE whose target strength λ adapts to the density of the gradient.

Reference: Minervini, Franceschi, Niepert, "Adaptive Perturbation-Based Gradient Estimation
for Discrete Latent Variable Models", AAAI 2023 (their ``torch-imle`` code, and PyEPO's
``adaptiveImplicitMLE``).

**Forward**: as I-MLE (:mod:`.imle`), ``(1/M) Σ_m y*(θ + ε_m)`` with Sum-of-Gamma noise, one
batched solver call (the noise-free ``y*(θ)`` in eval mode with ``map_in_eval``).

**Backward**, with ``g = ∂L/∂y`` and the same noise samples, per instance ``i``::

    λ_i = β · ‖θ_i‖₂ / ‖g_i‖₂                                        (the paper's Eq. 8)
    forward difference:  ∇_θ L ≈ (1/M) Σ_m [y*(θ + ε_m) - y*(θ - λ g + ε_m)] / λ
    central difference:  ∇_θ L ≈ (1/M) Σ_m [y*(θ + λ g + ε_m) - y*(θ - λ g + ε_m)] / (2λ)

(``symmetric=True``: both targets in one solver call). λ scales with θ, so the target
distribution moves by a fixed share of θ's norm whatever the scale of the loss; an
instance whose ``g`` is zero gets a zero gradient.

**Adaptation of β** (the paper's Algorithm 1). Each backward pass counts the entries where
the two solutions of a sample differ, ``c = nnz(Δ) / (M·N)`` per sample (over the ``N``
instances with ``g ≠ 0``), keeps the running average ``c̄ ← δ·c̄ + (1 - δ)·c``
(``norm_decay`` δ, starting at the target) and moves β by ``beta_step`` towards the target
density (``target_norm``, one changed entry per sample by default)::

    β ← max(β + beta_step, 0)  if c̄ < target_norm,   β ← max(β - beta_step, 0)  otherwise.

The gradient of a pass uses the β of that pass; the update follows it.

**Where the state changes.** β and c̄ change in the BACKWARD pass, never in forward: the
update runs inside the custom operator ``diffsolvers::aimle_gradient``, which computes the
gradient and reads and writes the state through its handle, under a lock. So:

* threads sharing one layer share its adaptation, and no update is lost (each backward
  pass is one atomic update);
* ``torch.compile`` keeps the operator as one opaque step of the backward graph (its
  output is the gradient, so it is never dropped) and reads β when it runs, so a changing
  β neither recompiles nor is baked in; the compiled and eager passes update β alike;
* under ``torch.func.vmap`` the vmapped axis is one more batch axis: one update per pass,
  the batched call's;
* β, c̄ and the number of updates are saved by ``state_dict()`` and restored by
  ``load_state_dict()`` (``get_extra_state``); a copied module adapts on its own.

Only passes in training mode adapt (the forward records ``module.training``).

**Differences from the reference code.** λ is computed per instance (the reference code
takes the norms over the whole batch, so an instance's gradient depends on its batch
mates and on the batch size); instances with ``g = 0`` are left out of the density (they
say nothing about λ); there is no momentum on β's steps (the reference's default is 0
too). PyEPO's ``adaptiveImplicitMLE`` averages the *share* of non-zero gradient entries,
not their number per sample, against the same target 1, which pushes β up without bound;
we follow the paper. Defaults: β = 1 (the reference code's; the paper's pseudocode
starts at 0), ``beta_step`` = 10⁻³ (PyEPO's, and the reference code's suggestion).

Example::

    >>> import torch, solvers
    >>> layer = AdaptiveIMLELayer(solvers.get("top_k", k=2), kappa=2.0, seed=0)
    >>> theta = torch.tensor([[1.0, 0.9, 0.1, -1.0]], requires_grad=True)
    >>> layer(theta).backward(torch.tensor([[0.0, 1.0, -1.0, 0.0]]))
    >>> layer.beta, layer.n_updates   # two entries changed in the sample: β went down
    (0.999, 1)
"""

from __future__ import annotations

import math
from typing import Any

import torch

from .. import _bridge, _handles
from .._first_order import first_order_only
from .._locked import Locked
from .._options import OPTIONS
from ..registry import builder, clamp_negative_costs, register_method
from .imle import IMLE_SAMPLES, SUM_OF_GAMMA_OPTIONS, SampledSolutionsFn, SumOfGammaModule

__all__ = ["AdaptiveIMLELayer", "AdaptiveLambda"]

_O = OPTIONS


class AdaptiveLambda(Locked):
    """The adapted state of an :class:`AdaptiveIMLELayer`: β, the running density ``c̄``
    and the number of updates; :meth:`update` is atomic (a lock).

    Examples:
        >>> state = AdaptiveLambda(beta=1.0, step=0.5, target=1.0, decay=0.0)
        >>> state.update(changed=0, samples=4)   # no entry changed: β goes up
        >>> state.beta, state.running_norm
        (1.5, 0.0)
    """

    def __init__(self, beta: float, step: float, target: float, decay: float) -> None:
        self.initial_beta, self.step, self.target, self.decay = beta, step, target, decay
        self._new_lock()
        self.reset()

    def reset(self) -> None:
        """Back to the state before any update: the initial β, ``c̄`` at the target."""
        with self._lock:
            self.beta, self.running_norm, self.n_updates = self.initial_beta, self.target, 0

    def current_beta(self) -> float:
        with self._lock:
            return self.beta

    def update(self, changed: float, samples: int) -> None:
        """One step: ``changed`` entries differed over ``samples`` samples."""
        if samples <= 0:
            return
        with self._lock:
            density = changed / samples
            self.running_norm = self.decay * self.running_norm + (1 - self.decay) * density
            up = self.running_norm < self.target
            self.beta = max(self.beta + (self.step if up else -self.step), 0.0)
            self.n_updates += 1

    def state(self) -> dict[str, float | int]:
        with self._lock:
            return {
                "beta": self.beta,
                "running_norm": self.running_norm,
                "n_updates": self.n_updates,
            }

    def load(self, state: dict[str, Any]) -> None:
        with self._lock:
            self.beta = float(state["beta"])
            self.running_norm = float(state["running_norm"])
            self.n_updates = int(state["n_updates"])

    def __repr__(self) -> str:
        return f"AdaptiveLambda(beta={self.beta}, running_norm={self.running_norm})"


# -- the backward operator --------------------------------------------------------------------
@torch.library.custom_op("diffsolvers::aimle_gradient", mutates_args=())
def _aimle_gradient(
    theta: torch.Tensor,
    theta_eps: torch.Tensor,
    ys: torch.Tensor,
    grad_out: torch.Tensor,
    side: list[torch.Tensor],
    side_names: str,
    solver: int,
    state: int,
    event_ndim: int,
    symmetric: bool,
    adapt: bool,
    problem: str,
) -> torch.Tensor:
    adaptation = _handles.get(state)
    beta = adaptation.current_beta()
    cut = theta.ndim - event_ndim
    n = math.prod(theta.shape[:cut])
    samples = theta_eps.shape[0]
    flat_g = grad_out.reshape(n, -1).to(torch.float64)
    g_norm = flat_g.norm(dim=-1)
    live = g_norm > 0
    lam = torch.where(live, beta * theta.reshape(n, -1).to(torch.float64).norm(dim=-1), 0.0)
    lam = lam / torch.where(live, g_norm, 1.0)
    move = (lam[:, None] * flat_g).reshape(theta.shape).expand_as(theta_eps)
    named = dict(zip(_bridge.side_names_of(side_names), side))
    if symmetric:
        both = _bridge.solve_by_key(
            solver,
            problem,
            torch.cat([theta_eps, theta_eps]),
            named,
            direction=torch.cat([move, -move]),
            step=1.0,
            what="θ + ε ± λ·∂L/∂y",
            direction_what="the incoming gradient ∂L/∂y",
        )
        diff, scale = both[:samples] - both[samples:], 2 * lam
    else:
        target = _bridge.solve_by_key(
            solver,
            problem,
            theta_eps,
            named,
            direction=-move,
            step=1.0,
            what="θ + ε - λ·∂L/∂y",
            direction_what="the incoming gradient ∂L/∂y",
        )
        diff, scale = ys - target, lam
    flat_diff = diff.reshape(samples, n, -1).to(torch.float64)
    grad = flat_diff.mean(0) / torch.where(lam > 0, scale, 1.0)[:, None]
    if adapt:
        changed = (flat_diff[:, live] != 0).sum()
        adaptation.update(float(changed), samples * int(live.sum()))
    return grad.reshape(theta.shape).to(theta.dtype)


@_aimle_gradient.register_fake
def _(theta, theta_eps, ys, grad_out, side, side_names, solver, state, *rest):
    return torch.empty_like(theta)


def _aimle_gradient_vmap(
    info,
    in_dims,
    theta,
    theta_eps,
    ys,
    grad_out,
    side,
    side_names,
    solver,
    state,
    event_ndim,
    *rest,
):
    """The vmapped axis becomes the first batch axis (one solver call, one update)."""
    size = info.batch_size
    theta_b, side_b = _bridge.vmapped_operands(
        theta, in_dims[0], side, side_names, in_dims[4], solver, event_ndim, size
    )
    grad = _aimle_gradient(
        theta_b,
        _bridge.vmapped_at(theta_eps, in_dims[1], size, 1),
        _bridge.vmapped_at(ys, in_dims[2], size, 1),
        _bridge.vmapped_at(grad_out, in_dims[3], size),
        side_b,
        side_names,
        solver,
        state,
        event_ndim,
        *rest,
    )
    return grad, 0


_aimle_gradient.register_vmap(_aimle_gradient_vmap)


class _AdaptiveIMLEFn(SampledSolutionsFn):
    """Forward the mean of ``y*(θ + ε_m)``; backward the adaptive I-MLE estimate (which
    also updates the adaptation, see the module docstring). Options: the adaptation's
    handle, the number of instance axes, ``symmetric`` and ``adapt``."""

    @staticmethod
    def setup_context(ctx, inputs, output):
        SampledSolutionsFn.setup_context(ctx, inputs, output)
        _handles.hold(ctx, ctx.key, ctx.options[0])  # the backward updates the adaptation

    @staticmethod
    @first_order_only("the adaptive I-MLE gradient")
    def backward(ctx, grad_out, _grad_ys):
        theta, theta_eps, ys, *side = ctx.saved_tensors
        state, event_ndim, symmetric, adapt = ctx.options
        grad = _aimle_gradient(
            theta,
            theta_eps,
            ys,
            grad_out,
            side,
            ",".join(ctx.names),
            ctx.key,
            state,
            event_ndim,
            symmetric,
            adapt,
            ctx.problem,
        )
        return SampledSolutionsFn.gradient(grad)


class AdaptiveIMLELayer(SumOfGammaModule):
    """``θ ↦ (1/M) Σ_m y*(θ + ε_m)`` with the adaptive I-MLE backward (module docstring).

    Args:
        solver: a :class:`solvers.Solver`, or any solver or function
            :func:`~diffsolvers.oracle.as_solver` accepts.
        beta: the initial β >= 0 of ``λ_i = β‖θ_i‖/‖g_i‖``.
        beta_step: the step > 0 by which β moves at each update.
        target_norm: the target number of changed entries per sample.
        norm_decay: the decay δ in [0, 1) of the running average of that number.
        symmetric: the central difference (two targets ``θ ± λg``) instead of the forward one.
        kappa, tau, n_terms, n_samples, seed, generator, map_in_eval, inputs: as
            :class:`~diffsolvers.layers.imle.IMLELayer`.

    The adapted state: :attr:`beta`, :attr:`running_norm`, :attr:`n_updates` (saved in
    ``state_dict()``).

    Examples:
        >>> import torch, solvers
        >>> layer = AdaptiveIMLELayer(solvers.get("argmax"), beta=0.5, symmetric=True, seed=0)
        >>> y = layer(torch.randn(4, 5, requires_grad=True))
        >>> layer.state_dict()["_extra_state"]
        {'beta': 0.5, 'running_norm': 1.0, 'n_updates': 0}
    """

    def __init__(
        self,
        solver: Any,
        beta: float = _O["beta"].default,
        beta_step: float = _O["beta_step"].default,
        target_norm: float = _O["target_norm"].default,
        norm_decay: float = _O["norm_decay"].default,
        symmetric: bool = _O["symmetric"].default,
        kappa: float = _O["kappa"].default,
        tau: float = _O["tau"].default,
        n_terms: int = _O["n_terms"].default,
        n_samples: int = IMLE_SAMPLES,
        seed: int | None = _O["seed"].default,
        generator: torch.Generator | None = _O["generator"].default,
        map_in_eval: bool = _O["map_in_eval"].default,
        inputs: str = _O["inputs"].default,
    ) -> None:
        super().__init__(
            solver, kappa, tau, n_terms, n_samples, seed, generator, map_in_eval, inputs
        )
        self.symmetric = _O["symmetric"].check(symmetric)
        self._adaptation = AdaptiveLambda(
            _O["beta"].check(beta),
            _O["beta_step"].check(beta_step),
            _O["target_norm"].check(target_norm),
            _O["norm_decay"].check(norm_decay),
        )
        self._rekey()

    def _rekey(self) -> None:
        super()._rekey()
        self._state_key = _handles.key(getattr(self, "_adaptation", None))

    @property
    def beta(self) -> float:
        """The current β."""
        return self._adaptation.current_beta()

    @property
    def running_norm(self) -> float:
        """The running average ``c̄`` of the changed entries per sample."""
        return self._adaptation.state()["running_norm"]

    @property
    def n_updates(self) -> int:
        """The number of adaptation steps so far (one per backward pass in training mode)."""
        return self._adaptation.state()["n_updates"]

    def reset_adaptation(self) -> AdaptiveIMLELayer:
        """Restart the adaptation: β back to its initial value, no update made."""
        self._adaptation.reset()
        return self

    def get_extra_state(self) -> dict[str, float | int]:
        return self._adaptation.state()

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self._adaptation.load(state)

    def extra_repr(self) -> str:
        a = self._adaptation
        return (
            f"solver={self.solver!r}, beta={a.beta}, beta_step={a.step}, target_norm="
            f"{a.target}, norm_decay={a.decay}, symmetric={self.symmetric}, noise="
            f"{self.noise!r}, n_samples={self.n_samples}, inputs={self.inputs!r}"
        )

    def forward(self, x: torch.Tensor, **side: Any) -> torch.Tensor:
        return self.sampled(
            _AdaptiveIMLEFn,
            x,
            side,
            self._state_key,
            self.solver.event_ndim,
            self.symmetric,
            self.training,
        )


# -- registration -----------------------------------------------------------------------------
_MINERVINI = (
    'Minervini, Franceschi, Niepert, "Adaptive Perturbation-Based Gradient Estimation for '
    'Discrete Latent Variable Models", AAAI 2023'
)


register_method(
    "adaptive_imle",
    "layer",
    builder(AdaptiveIMLELayer),
    description="adaptive I-MLE: I-MLE with λ = β‖θ‖/‖∂L/∂y‖, β adapted to the gradient density",
    options=("beta", "beta_step", "target_norm", "norm_decay", "symmetric", *SUM_OF_GAMMA_OPTIONS),
    option_defaults={"n_samples": IMLE_SAMPLES},
    solver_defaults=clamp_negative_costs,
    reference=_MINERVINI,
)
