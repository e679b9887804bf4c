r"""Noise for the perturbation methods, drawn inside custom operators.

Two operators, each an opaque step of a traced program:

* ``diffsolvers::draw(like, n_samples, noise, source)``: ``M`` draws of the noise
  (a :class:`~diffsolvers.noise.Noise` or a :class:`~diffsolvers.layers.imle.SumOfGamma`)
  of ``like``'s shape, ``(M, *like.shape)``, from a :class:`RandomSource`;
* ``diffsolvers::perturb(theta, z, sigma, log_mgf, multiplicative, problem)``: the
  perturbed scores ``θ + σZ`` or ``θ ⊙ exp(σZ - log E[e^{σZ}])``, refused with a clear
  message when they overflow θ's dtype.

Both reach their Python objects through integer handles (:mod:`diffsolvers._handles`).

**Why inside operators.** The random numbers come from the module's own generator when
the operator runs, so a program compiled by :func:`torch.compile` draws exactly what eager
execution draws (a traced ``torch.randn`` would be replaced by the compiler's own random
numbers), and no generator is created in the traced program. The perturbed scores are
formed eagerly too, so the compiled program hands the solver bit for bit the scores of
eager execution (a fused multiply-add could otherwise move a near-tie).

**vmap.** ``draw`` follows :func:`torch.func.vmap`'s ``randomness`` argument:

* ``"different"``: the vmapped axis is one more batch axis, and the noise is exactly that
  of the batched call on the stacked input (the vmapped axis first);
* ``"same"``: one draw shared by every slice of the vmapped axis;
* ``"error"`` (vmap's default): a ``RuntimeError`` that says which to pass.

Example::

    >>> import torch
    >>> from diffsolvers import _handles
    >>> from diffsolvers._random import RandomSource, draw
    >>> from diffsolvers.noise import Normal
    >>> noise, source = Normal(), RandomSource(seed=0)
    >>> draw(torch.zeros(2, 3), 4, _handles.key(noise), _handles.key(source)).shape
    torch.Size([4, 2, 3])
"""

from __future__ import annotations

import torch

from . import _handles
from ._checks import all_finite, check_seed
from ._locked import Locked

__all__ = ["RandomSource", "draw", "perturb"]


class RandomSource(Locked):
    """Where a module's noise comes from: an explicit ``generator``, or generators seeded
    with ``seed`` (one per device, created when first needed), or torch's default
    generator of the device when both are ``None``.

    Draws happen on the generator's device and are moved to the input's device.
    """

    def __init__(self, seed: int | None = None, generator: torch.Generator | None = None):
        if seed is not None and generator is not None:
            raise ValueError("give either seed or generator, not both")
        self.seed = seed
        self.generator = generator
        self._generators: dict[str, torch.Generator] = {}
        self._new_lock()

    def manual_seed(self, seed: int) -> None:
        """Restart from ``seed`` (any explicit generator is dropped)."""
        seed = check_seed(seed, optional=False)
        with self._lock:
            self.seed, self.generator = seed, None
            self._generators = {}

    def generator_for(self, device: torch.device) -> torch.Generator | None:
        """The generator to draw with for a tensor on ``device`` (``None``: torch's)."""
        if self.generator is not None or self.seed is None:
            return self.generator
        name = str(device)
        with self._lock:
            if name not in self._generators:
                self._generators[name] = torch.Generator(device=device).manual_seed(self.seed)
            return self._generators[name]

    def __repr__(self) -> str:
        if self.generator is not None:
            return f"RandomSource(generator={self.generator!r})"
        return f"RandomSource(seed={self.seed})"


# -- draw -------------------------------------------------------------------------------------
@torch.library.custom_op("diffsolvers::draw", mutates_args=())
def _draw(like: torch.Tensor, n_samples: int, noise: int, source: int) -> torch.Tensor:
    dist = _handles.get(noise)
    src = _handles.get(source)
    generator = None if src is None else src.generator_for(like.device)
    shape = (n_samples, *like.shape)
    return dist.sample(shape, generator=generator, device=like.device, dtype=like.dtype)


@_draw.register_fake
def _(like, n_samples, noise, source):
    return like.new_empty((n_samples, *like.shape))


def _draw_vmap(info, in_dims, like, n_samples, noise, source):
    axis = in_dims[0]
    if axis is None:
        return _draw(like, n_samples, noise, source), None
    if info.randomness == "error":
        raise RuntimeError(
            "diffsolvers: this layer draws random noise; call torch.func.vmap with "
            "randomness='different' (each slice gets its own noise, exactly the noise of the"
            " batched call) or randomness='same' (one draw shared by every slice)"
        )
    if info.randomness == "same":
        return _draw(like.select(axis, 0), n_samples, noise, source), None
    return _draw(like.movedim(axis, 0), n_samples, noise, source), 1


_draw.register_vmap(_draw_vmap)


def draw(like: torch.Tensor, n_samples: int, noise: int, source: int) -> torch.Tensor:
    """``n_samples`` draws of the noise with handle ``noise`` (:func:`_handles.key`) from
    the :class:`RandomSource` with handle ``source`` (``_handles.NONE``: torch's default
    generator), of ``like``'s shape, device and dtype: ``(n_samples, *like.shape)``."""
    return _draw(like.detach(), n_samples, noise, source)


# -- perturb ----------------------------------------------------------------------------------
@torch.library.custom_op("diffsolvers::perturb", mutates_args=())
def _perturb(
    theta: torch.Tensor,
    z: torch.Tensor,
    sigma: float,
    log_mgf: float,
    multiplicative: bool,
    problem: str,
) -> torch.Tensor:
    if multiplicative:
        theta_p = theta * torch.exp(sigma * z - log_mgf)
    else:
        theta_p = theta + sigma * z
    if not all_finite(theta_p):
        how = "θ ⊙ exp(σZ - log E[e^{σZ}])" if multiplicative else "θ + σZ"
        largest = theta.abs().max().item() if theta.numel() else 0.0
        raise ValueError(
            f"{problem}: the perturbed scores overflow {theta.dtype} (θ is finite, but {how}"
            f" with its largest entry {largest:.3g} and sigma={sigma} is not); scale θ down "
            "or use a wider dtype"
        )
    return theta_p


@_perturb.register_fake
def _(theta, z, sigma, log_mgf, multiplicative, problem):
    return torch.empty_like(z)


def _perturb_vmap(info, in_dims, theta, z, sigma, log_mgf, multiplicative, problem):
    t_axis, z_axis = in_dims[0], in_dims[1]
    size = info.batch_size
    theta = theta.movedim(t_axis, 0) if t_axis is not None else theta.expand(size, *theta.shape)
    z = (
        z.movedim(z_axis, 1)
        if z_axis is not None
        else z.unsqueeze(1).expand(-1, size, *z.shape[1:])
    )
    return _perturb(theta, z, sigma, log_mgf, multiplicative, problem), 1


_perturb.register_vmap(_perturb_vmap)


def perturb(
    theta: torch.Tensor,
    z: torch.Tensor,
    sigma: float,
    *,
    log_mgf: float = 0.0,
    multiplicative: bool = False,
    problem: str = "solver",
) -> torch.Tensor:
    """The perturbed scores ``θ_m`` of shape ``z.shape = (M, *θ.shape)`` (no gradient)."""
    return _perturb(theta.detach(), z, float(sigma), float(log_mgf), multiplicative, problem)
