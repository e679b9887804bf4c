r"""The shared frame of the regularized layers with a closed form: a projection onto one
problem's polytope, ``ŷ(θ) = argmax_{y ∈ conv(Y)} ⟨θ, y⟩ − (ε/2)‖y‖² = P(θ/ε)``, computed
without calling the solver (the sparse argmax onto the simplex, the soft ranks onto the
permutahedron); other polytopes go through Frank-Wolfe (``frank_wolfe``).

Reference: Blondel, Martins, Niculae, "Learning with Fenchel-Young Losses", JMLR 2020.

Example::

    >>> from diffsolvers.layers.sparse_argmax import SparseArgmax
    >>> isinstance(SparseArgmax(), ClosedFormProjection)
    True
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

import solvers

from .._core import SolverModule, work_dtype
from .._options import OPTIONS
from ..registry import register_method

__all__ = ["ClosedFormProjection", "register_projection", "require_problem", "refuse_side"]

_O = OPTIONS


def require_problem(module: SolverModule, problem: str, owner: str, polytope: str) -> None:
    """``ValueError`` unless the module's solver solves ``problem`` (a closed-form layer
    projects onto that problem's ``polytope`` and never calls the solver)."""
    if module.problem != problem:
        raise ValueError(
            f"{owner} is the projection onto {polytope}, the polytope of {problem!r}; the "
            f"given solver solves {module.problem!r} (use RegularizedFrankWolfe, registry "
            f"name 'frank_wolfe', for other polytopes)"
        )


def refuse_side(side: dict[str, Any], problem: str) -> None:
    """``TypeError`` if side data is given to a problem that takes none."""
    if side:
        raise TypeError(f"{problem}: takes no side data, got {sorted(side)}")


class ClosedFormProjection(SolverModule):
    """``ŷ = P(θ/ε)`` for the projection ``P`` onto :attr:`PROBLEM`'s :attr:`POLYTOPE`
    (subclasses set both and :meth:`project`); ``strength`` is ε, ``inputs`` says whether
    ``x`` is θ or costs ĉ (θ = −ĉ). Half-precision inputs are projected in float32."""

    PROBLEM: ClassVar[str]
    POLYTOPE: ClassVar[str]

    def __init__(
        self,
        solver: Any = None,
        strength: float = _O["strength"].default,
        inputs: str = _O["inputs"].default,
    ) -> None:
        super().__init__(solvers.get(self.PROBLEM) if solver is None else solver)
        require_problem(self, self.PROBLEM, type(self).__name__, self.POLYTOPE)
        self.strength = _O["strength"].check(strength)
        self.inputs = _O["inputs"].check(inputs)

    @staticmethod
    def project(z: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"strength={self.strength}, inputs={self.inputs!r}"

    def forward(self, x: torch.Tensor, **side: Any) -> torch.Tensor:
        refuse_side(side, self.problem)
        theta, _ = self._prediction(x, self.inputs)
        work = theta.to(work_dtype(theta.dtype))
        return self.project(work / self.strength).to(theta.dtype)


def register_projection(
    name: str, cls: type[ClosedFormProjection], description: str, reference: str
) -> None:
    """Register ``cls`` under ``name``, meaningful for its own problem only."""

    def only_own(problem: str) -> str | None:
        if problem == cls.PROBLEM:
            return None
        return (
            f"{name} is the projection onto {cls.POLYTOPE}, the polytope of "
            f"{cls.PROBLEM!r} only; 'frank_wolfe' regularises any other problem's polytope"
        )

    def build(solver: Any, problem: str, **options: Any) -> ClosedFormProjection:
        return cls(solver, **options)

    register_method(
        name,
        "layer",
        build,
        description=description,
        options=("strength", "inputs"),
        not_meaningful=only_own,
        reference=reference,
    )
