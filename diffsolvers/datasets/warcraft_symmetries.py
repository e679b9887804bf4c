"""Symmetries of the Warcraft grid that keep the path's ends: training-time augmentation.

Four of the eight symmetries of the square send the start cell ``(0, 0)`` and the end cell
``(k-1, k-1)`` to themselves or to each other, so an optimal path of a map is an optimal path
of the transformed map, with the same cost. :func:`random_symmetry` applies one at random per
sample; :func:`draw_symmetries` and :func:`apply_symmetries` split that in two, so that a
batch's draws can be applied to its parts (one part per process in distributed training).

Reference: Vlastelica et al., "Differentiation of Blackbox Combinatorial Solvers", ICLR 2020
(the data set); the augmentation is this library's.

Example::

    >>> import torch
    >>> costs = torch.arange(9.0).reshape(1, 3, 3)
    >>> moved, = apply_symmetries(torch.tensor([2]), costs)  # rotation by 180°
    >>> float(moved[0, 0, 0]), float(moved[0, -1, -1])
    (8.0, 0.0)
"""

from __future__ import annotations

import torch

__all__ = ["SYMMETRIES", "random_symmetry", "draw_symmetries", "apply_symmetries"]

SYMMETRIES: tuple[str, ...] = ("identity", "transpose", "rot180", "antitranspose")
"""The symmetries of the square grid that keep the pair of path ends {(0, 0), (k-1, k-1)}:
identity, transpose, rotation by 180°, anti-transpose (transpose then rotation by 180°).
"""


def random_symmetry(
    *grids: torch.Tensor, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, ...]:
    """Apply one random symmetry of :data:`SYMMETRIES` per sample to every tensor.

    Each tensor has the batch as its first axis and the grid as its last two axes (images
    ``(B, 3, 8k, 8k)``, costs or paths ``(B, k, k)``); sample ``b`` gets the same
    symmetry in every tensor. These four maps send the start and end cells to the start
    and end cells (the other four symmetries of the square swap an end with another
    corner), so a map's optimal path maps to an optimal path of the transformed map, with
    the same cost. Used as training-time data augmentation; since ties may be broken
    differently on the transformed map, re-solve the paths from the transformed costs when
    labels must follow the solver's tie-breaking. The same as
    ``apply_symmetries(draw_symmetries(B, generator), *grids)``.

    Examples:
        >>> import torch
        >>> costs = torch.arange(9.0).reshape(1, 3, 3)
        >>> moved, = random_symmetry(costs, generator=torch.Generator().manual_seed(0))
        >>> float(moved[0, 0, 0]), float(moved[0, -1, -1])  # the path's ends stay in place
        (0.0, 8.0)
    """
    if not grids:
        return ()
    return apply_symmetries(draw_symmetries(grids[0].shape[0], generator), *grids)


def draw_symmetries(n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """``n`` random indices into :data:`SYMMETRIES` (int64), as :func:`random_symmetry`
    draws them: draw them for a whole batch and apply slices of them to its parts.

    Examples:
        >>> import torch
        >>> choices = draw_symmetries(6, torch.Generator().manual_seed(0))
        >>> choices.shape, bool(((0 <= choices) & (choices < len(SYMMETRIES))).all())
        (torch.Size([6]), True)
    """
    return torch.randint(0, len(SYMMETRIES), (n,), generator=generator)


def apply_symmetries(choices: torch.Tensor, *grids: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Apply symmetry ``SYMMETRIES[choices[b]]`` to sample ``b`` of every tensor (shapes as
    in :func:`random_symmetry`; ``choices`` has one integer entry per sample, from 0 to
    ``len(SYMMETRIES) - 1``).

    Examples:
        >>> import torch
        >>> costs = torch.arange(18.0).reshape(2, 3, 3)
        >>> moved, = apply_symmetries(torch.tensor([0, 1]), costs)  # identity, transpose
        >>> torch.equal(moved[0], costs[0]), torch.equal(moved[1], costs[1].T)
        (True, True)
    """
    if choices.ndim != 1 or choices.dtype.is_floating_point or choices.dtype.is_complex:
        raise ValueError(
            f"apply_symmetries: choices must be a 1-D integer tensor, got shape "
            f"{tuple(choices.shape)} and dtype {choices.dtype}"
        )
    if choices.numel() and not bool(((choices >= 0) & (choices < len(SYMMETRIES))).all()):
        raise ValueError(
            f"apply_symmetries: choices must lie in 0..{len(SYMMETRIES) - 1} (SYMMETRIES), "
            f"got {choices.min().item()}..{choices.max().item()}"
        )
    n = choices.shape[0]
    transpose = (choices == 1) | (choices == 3)
    rotate = choices >= 2
    out = []
    for x in grids:
        if x.shape[0] != n or x.ndim < 3:
            raise ValueError(
                f"apply_symmetries: every tensor needs the batch first and a grid last, got "
                f"shapes {[tuple(t.shape) for t in grids]} for {n} symmetries"
            )
        if x.shape[-1] != x.shape[-2]:
            raise ValueError(f"apply_symmetries: grids must be square, got {tuple(x.shape)}")
        x = torch.where(_expand(transpose, x), x.transpose(-1, -2), x)
        x = torch.where(_expand(rotate, x), x.flip(-1, -2), x)
        out.append(x)
    return tuple(out)


def _expand(mask: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return mask.to(like.device).view(-1, *([1] * (like.ndim - 1)))
