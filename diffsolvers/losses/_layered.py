"""The one path by which a loss on solutions gets its layer.

A loss is built from a layer (``FenchelYoungLoss(PerturbedOptimizer(solver, sigma=0.5))``)
or from a solver and the layer's options (``FenchelYoungLoss(solver, sigma=0.5)``, which
builds that layer first): :func:`layer_of` turns both into the layer.

Example::

    >>> import solvers
    >>> from diffsolvers.layers import PerturbedOptimizer
    >>> layer_of("FenchelYoungLoss", solvers.get("argmax"), {"sigma": 0.5},
    ...          default=PerturbedOptimizer, accepted=(PerturbedOptimizer,)).sigma
    0.5
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import nn

__all__ = ["layer_of"]


def layer_of(
    owner: str,
    layer: Any,
    options: Mapping[str, Any],
    *,
    default: type[nn.Module],
    accepted: tuple[type[nn.Module], ...],
) -> nn.Module:
    """``layer`` itself if it is a module of one of the ``accepted`` classes (then no
    ``options`` may be given), else ``default(layer, **options)`` with ``layer`` taken as
    the solver. ``owner`` (the loss's name) appears in the errors."""
    if isinstance(layer, nn.Module):
        if not isinstance(layer, accepted):
            names = ", ".join(c.__name__ for c in accepted)
            raise TypeError(f"{owner} takes a layer of type {names}, got {type(layer).__name__}")
        if options:
            raise TypeError(
                f"{owner}: options {sorted(options)} belong to the layer; give them to the "
                f"layer, or give the solver with the options instead of the layer"
            )
        return layer
    return default(layer, **options)
