"""One training objective per registered method, with a single calling convention.

Training code predicts non-negative costs ``ĉ`` and calls

    objective(costs_pred, costs_true=c, y_true=y, **side) -> scalar loss

whatever the method is. :func:`make_objective` reads the method's registry entry:

* a **loss** whose target is a solution (``fenchel_young``, ``squared``, ``hamming``...) is
  called as ``loss(ĉ, y)``;
* a **loss** whose target is the true costs (``spo_plus``, ``two_stage``) as ``loss(ĉ, c)``,
  with ``y_true=y`` where the loss takes it (SPO+: the data's optimal solution, as PyEPO
  passes it, instead of a solve of ``c`` that may break a tie the other way);
* a **layer** (``blackbox``, ``identity``, ``imle``, ``perturbed``...) is trained, as in
  the papers that introduced these layers, with the Hamming loss between its output
  ``ŷ = layer(ĉ)`` and the true solution, summed over the entries of a solution and
  averaged over the batch, ``mean_b Σ_j y_bj (1 − ŷ_bj) + (1 − y_bj) ŷ_bj`` (as in
  Vlastelica et al.'s code). The sum matters: blackbox and I-MLE move the costs by
  ``λ·∂L/∂ŷ``, so with a mean over the 144 cells of a 12×12 path the step would be 144
  times smaller than the λ of the papers and the solver's output would almost never
  change.

  With ``layer_loss="regret"`` a layer is trained instead, as in PyEPO's experiments for its
  DBB and DPO layers (Tang & Khalil, PyEPO, Math. Prog. Comp. 2024), on the L1 distance
  between the true objective of ``ŷ`` and the optimum,
  ``mean_b |⟨c_b, ŷ_b⟩ − ⟨c_b, y_b⟩|``, the regret of ``ŷ`` when ``ŷ`` is a solution.

Every module is built with ``inputs="costs"`` so that the sign flip ``θ = −ĉ`` happens
inside the library, never in training code.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from .. import registry
from .._checks import check_choice

__all__ = ["Objective", "make_objective", "hamming_loss", "regret_loss", "LAYER_LOSSES"]

#: What a layer method is trained on: see the module docstring.
LAYER_LOSSES = ("hamming", "regret")


def hamming_loss(y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
    """Hamming distance between (relaxed) 0/1 solutions ``(B, ...)`` and 0/1 targets,
    summed over each solution's entries and averaged over the batch."""
    errors = y_true * (1.0 - y_pred) + (1.0 - y_true) * y_pred
    return errors.flatten(1).sum(1).mean()


def regret_loss(y_pred: torch.Tensor, y_true: torch.Tensor, costs: torch.Tensor) -> torch.Tensor:
    """``mean_b |⟨c_b, ŷ_b⟩ − ⟨c_b, y_b⟩|`` for solutions ``(B, ...)`` and true costs ``c``."""
    gap = ((y_pred - y_true) * costs).flatten(1).sum(1)
    return gap.abs().mean()


class Objective(nn.Module):
    """``objective(costs_pred, costs_true=..., y_true=..., **side)`` for one method."""

    def __init__(self, method: str, module: nn.Module, call: Callable[..., torch.Tensor]):
        super().__init__()
        self.method = method
        self.module = module
        self._call = call

    def forward(
        self,
        costs_pred: torch.Tensor,
        *,
        costs_true: torch.Tensor,
        y_true: torch.Tensor,
        **side: Any,
    ) -> torch.Tensor:
        return self._call(self.module, costs_pred, costs_true, y_true, side)

    def manual_seed(self, seed: int) -> None:
        """Restart the method's noise generator (if it has one) for reproducible epochs."""
        for m in self.module.modules():
            if m is not self.module and hasattr(m, "manual_seed"):
                m.manual_seed(seed)
                return
        if hasattr(self.module, "manual_seed"):
            self.module.manual_seed(seed)


def make_objective(
    problem: str,
    method: str,
    *,
    solver_params: dict[str, Any] | None = None,
    method_options: dict[str, Any] | None = None,
    layer_loss: str = "hamming",
) -> Objective:
    """The training objective of ``method`` for ``problem`` (see the module docstring).

    ``solver_params`` go to :func:`solvers.get`; ``method_options`` (``sigma``, ``n_samples``,
    ``lambda_``...) to the method. Options the method does not declare are dropped, so one
    option set can serve several methods in a comparison. ``layer_loss`` (one of
    :data:`LAYER_LOSSES`) is what a layer method is trained on; losses ignore it.
    """
    check_choice("layer_loss", layer_loss, LAYER_LOSSES)
    info = registry.method_info(method)
    if "inputs" not in info.options:
        raise ValueError(f"method {method!r} does not accept predicted costs (no 'inputs' option)")
    opts = {k: v for k, v in (method_options or {}).items() if k in info.options}
    build = registry.loss if info.kind == "loss" else registry.layer
    module = build(problem, method, **opts, inputs="costs", **(solver_params or {}))
    if info.kind == "loss" and info.target == "costs" and _takes_solution(module):

        def call(mod, c_hat, c, y, side):
            return mod(c_hat, c, y_true=y, **side)  # the data's optimum: one solve less

    elif info.kind == "loss" and info.target == "costs":

        def call(mod, c_hat, c, y, side):
            return mod(c_hat, c, **side)

    elif info.kind == "loss":

        def call(mod, c_hat, c, y, side):
            return mod(c_hat, y, **side)

    elif info.output == "solution":
        if layer_loss == "regret":

            def call(mod, c_hat, c, y, side):
                return regret_loss(mod(c_hat, **side), y, c)

        else:

            def call(mod, c_hat, c, y, side):
                return hamming_loss(mod(c_hat, **side), y)

    else:
        raise ValueError(f"method {method!r} outputs a {info.output}, not a solution to train on")
    return Objective(method, module, call)


def _takes_solution(module: nn.Module) -> bool:
    """Whether the loss's ``forward`` accepts the true solution as ``y_true``."""
    return "y_true" in inspect.signature(module.forward).parameters
