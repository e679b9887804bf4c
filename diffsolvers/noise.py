"""Noise distributions for perturbed optimizers.

A noise ``Z`` has a density ``μ(z) ∝ exp(-ν(z))`` (independent coordinates). The
perturbed optimizer's Jacobian is estimated with the score ``∇ν(Z)``
(Berthet et al., "Learning with Differentiable Perturbed Optimizers", NeurIPS 2020, Prop. 3.1):

    J_θ y_ε(θ) = E[ y*(θ + εZ) ∇ν(Z)ᵀ ] / ε.

* :class:`Normal`: ``ν(z) = z²/2``, score ``z``, mean 0.
* :class:`Gumbel` (standard, not centred): ``ν(z) = z + exp(-z)``, score ``1 - exp(-z)``,
  mean the Euler-Mascheroni constant γ. With Gumbel noise the perturbed argmax is exactly
  ``softmax(θ/ε)`` and the perturbed max is ``ε logsumexp(θ/ε) + εγ``.

Both scores have mean zero, which is what makes the control variate of
:class:`~diffsolvers.layers.perturbed.PerturbedOptimizer` unbiased. ``log_mgf(ε) = log E[exp(εZ)]``
is the correction that gives the multiplicative perturbation ``θ ⊙ exp(εZ - log_mgf(ε))``
mean ``θ`` (``ε²/2`` for the Normal, ``log Γ(1 - ε)`` for the Gumbel, which needs ``ε < 1``).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import torch

__all__ = ["Noise", "Normal", "Gumbel", "get_noise", "NOISES"]

_EULER_GAMMA = 0.5772156649015329


class Noise(ABC):
    """A noise distribution: ``sample`` draws it, ``score`` is ``∇ν`` (ν = -log density).

    Examples:
        >>> import torch
        >>> z = Normal().sample((10000,), generator=torch.Generator().manual_seed(0))
        >>> abs(float(z.mean())) < 0.05, bool(torch.equal(Normal().score(z), z))
        (True, True)
    """

    name: str = "noise"
    mean: float = 0.0

    def sample(
        self,
        shape: tuple[int, ...] | torch.Size,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> torch.Tensor:
        """Draw a tensor of ``shape`` on ``device`` with ``dtype`` from ``generator``.

        The draw happens on the generator's device (a generator belongs to one device) and
        is then moved; with no generator, torch's default generator of ``device`` is used.
        """
        dtype = dtype or torch.get_default_dtype()
        if not dtype.is_floating_point:
            raise TypeError(f"{self.name} noise: dtype must be floating point, got {dtype}")
        draw_device = generator.device if generator is not None else device
        draw_dtype = dtype if dtype in (torch.float32, torch.float64) else torch.float32
        z = self._draw(tuple(shape), generator, draw_device, draw_dtype)
        return z.to(device=device, dtype=dtype)

    @abstractmethod
    def _draw(self, shape, generator, device, dtype) -> torch.Tensor: ...

    @abstractmethod
    def score(self, z: torch.Tensor) -> torch.Tensor:
        """``∇ν(z)``, the score used by the Jacobian estimator (mean zero under the noise)."""

    @abstractmethod
    def log_mgf(self, sigma: float) -> float:
        """``log E[exp(σ Z)]`` for one coordinate."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Normal(Noise):
    """Standard normal noise: ``ν(z) = z²/2``, ``∇ν(z) = z``.

    Examples:
        >>> Normal().log_mgf(0.5)  # ε²/2
        0.125
    """

    name = "normal"
    mean = 0.0

    def _draw(self, shape, generator, device, dtype) -> torch.Tensor:
        return torch.randn(shape, generator=generator, device=device, dtype=dtype)

    def score(self, z: torch.Tensor) -> torch.Tensor:
        return z

    def log_mgf(self, sigma: float) -> float:
        return 0.5 * sigma * sigma


class Gumbel(Noise):
    """Standard Gumbel noise: ``ν(z) = z + exp(-z)``, ``∇ν(z) = 1 - exp(-z)``; mean γ.

    Examples:
        >>> import torch
        >>> z = Gumbel().sample((100000,), generator=torch.Generator().manual_seed(0))
        >>> round(float(z.mean()), 1)  # the Euler-Mascheroni constant
        0.6
    """

    name = "gumbel"
    mean = _EULER_GAMMA

    def _draw(self, shape, generator, device, dtype) -> torch.Tensor:
        e = torch.empty(shape, device=device, dtype=dtype).exponential_(generator=generator)
        return -torch.log(e.clamp_min(torch.finfo(dtype).tiny))

    def score(self, z: torch.Tensor) -> torch.Tensor:
        return 1.0 - torch.exp(-z)

    def log_mgf(self, sigma: float) -> float:
        if sigma >= 1.0:
            raise ValueError(
                f"gumbel noise: E[exp(σZ)] is infinite for σ >= 1 (got σ={sigma}); the "
                "multiplicative mode needs σ < 1 with Gumbel noise, or use normal noise"
            )
        return math.lgamma(1.0 - sigma)


NOISES: dict[str, type[Noise]] = {"normal": Normal, "gumbel": Gumbel}
"""Noise distributions by name, as ``noise=`` takes them."""


def get_noise(noise: str | Noise) -> Noise:
    """A :class:`Noise` from its name (``"normal"``, ``"gumbel"``) or an instance.

    Examples:
        >>> get_noise("gumbel").name
        'gumbel'
        >>> get_noise(Normal()).name
        'normal'
    """
    if isinstance(noise, Noise):
        return noise
    if isinstance(noise, str) and noise.lower() in NOISES:
        return NOISES[noise.lower()]()
    raise ValueError(f"unknown noise {noise!r}; available noises: {', '.join(sorted(NOISES))}")
