r"""The crossing of the normal-cone projection: the custom operator
``diffsolvers::cone_projection``.

``project(cones, θ, y, side)`` projects, per instance, the scores ``θ`` (scattered onto
the LP variables) onto the normal cone of the polytope at the solution ``y``
(:class:`solvers.normal_cone.NormalCones`, NumPy and SciPy's NNLS) and returns
``(p[y_index], ‖p‖)``: the projection's entries on ``y`` (θ's shape) and its norm (θ's
batch shape). As :func:`diffsolvers._bridge.solve`, it is a registered torch custom
operator: :func:`torch.compile` (``fullgraph=True`` too) keeps it as one opaque step, and
under :func:`torch.func.vmap` each vmapped slice is projected in turn (the projections are
per instance anyway). No gradient crosses it: the loss around it holds the projection
constant (its derivative then is exact, see :mod:`diffsolvers.losses.cave`).

Example::

    >>> import torch, solvers
    >>> from solvers.normal_cone import NormalCones
    >>> from diffsolvers import _handles
    >>> cones = NormalCones(solvers.get("argmax"))
    >>> p, norm = project(_handles.key(cones), 1, torch.tensor([[1.0, 2.0, -1.0]]),
    ...                   torch.tensor([[1.0, 0.0, 0.0]]))
    >>> p
    tensor([[ 1.5000,  1.5000, -1.0000]])
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from . import _handles
from ._bridge import flat_side, side_tensors, to_numpy
from ._checks import check_finite

__all__ = ["project"]


def _names(names: str) -> list[str]:
    return names.split(",") if names else []


@torch.library.custom_op("diffsolvers::cone_projection", mutates_args=())
def _project(
    theta: torch.Tensor,
    y: torch.Tensor,
    side: list[torch.Tensor],
    side_names: str,
    cones: int,
    event_ndim: int,
    what: str,
) -> tuple[torch.Tensor, torch.Tensor]:
    normal_cones = _handles.get(cones)
    check_finite(theta, what)
    cut = theta.ndim - event_ndim
    batch_shape, event_shape = tuple(theta.shape[:cut]), tuple(theta.shape[cut:])
    n = math.prod(batch_shape)
    named = dict(zip(_names(side_names), side))
    per_instance = flat_side(normal_cones.solver, named, batch_shape, event_shape)
    p_y, norms = normal_cones.project(
        to_numpy(theta).astype(np.float64).reshape((n, *event_shape)),
        to_numpy(y).astype(np.float64).reshape((n, *event_shape)),
        **per_instance,
    )
    p_y = torch.from_numpy(p_y).to(device=theta.device, dtype=theta.dtype)
    norms = torch.from_numpy(np.asarray(norms)).to(device=theta.device, dtype=theta.dtype)
    return p_y.reshape(theta.shape), norms.reshape(batch_shape)


@_project.register_fake
def _(theta, y, side, side_names, cones, event_ndim, what):
    return torch.empty_like(theta), theta.new_empty(theta.shape[: theta.ndim - event_ndim])


def _project_vmap(info, in_dims, theta, y, side, side_names, cones, event_ndim, what):
    """Each vmapped slice projected in turn (shared inputs given to every slice)."""

    def pick(t: torch.Tensor, axis: int | None, v: int) -> torch.Tensor:
        return t if axis is None else t.select(axis, v)

    side_dims = in_dims[2] if in_dims[2] is not None else [None] * len(side)
    slices = [
        _project(
            pick(theta, in_dims[0], v),
            pick(y, in_dims[1], v),
            [pick(s, a, v) for s, a in zip(side, side_dims)],
            side_names,
            cones,
            event_ndim,
            what,
        )
        for v in range(info.batch_size)
    ]
    p_y = torch.stack([s[0] for s in slices])
    norms = torch.stack([s[1] for s in slices])
    return (p_y, norms), (0, 0)


_project.register_vmap(_project_vmap)


def project(
    cones: int,
    event_ndim: int,
    theta: torch.Tensor,
    y: torch.Tensor,
    side: Mapping[str, Any] | None = None,
    *,
    what: str = "θ",
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(p[y_index], ‖p‖)`` of the projections of ``θ`` onto the normal cones at ``y`` (both
    ``(*batch, *instance)``) by the :class:`~solvers.normal_cone.NormalCones` of handle
    ``cones`` (instances of ``event_ndim`` axes); ``what`` names θ in the error raised for
    NaN or inf. No gradient."""
    return _project(
        theta.detach(),
        y.detach(),
        side_tensors(side),
        ",".join(side or {}),
        cones,
        event_ndim,
        what,
    )
