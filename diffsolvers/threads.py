"""One thread budget for torch and the solvers of a process (and of each rank of a job).

A training step runs the CNN (torch's thread pool) and the batched solver (Numba's, through
:mod:`solvers.runtime`) one after the other, so both may use the same cores; the budget is
what a process may use when N processes of one job share the machine::

    threads = n                                    when given (``--threads n``)
            = max(1, usable cores // LOCAL_WORLD_SIZE)  otherwise (torchrun sets the variable)

Example::

    >>> from diffsolvers.threads import apply_thread_budget
    >>> apply_thread_budget(1)       # one thread for torch and for the solvers
    1
    >>> apply_thread_budget() >= 1   # the budget: 1 per rank on 2 cores with 2 ranks
    True

Reference: :func:`solvers.runtime.budget`; PyTorch's ``torch.set_num_threads``.
"""

from __future__ import annotations

import torch

from solvers import runtime

__all__ = ["apply_thread_budget"]


def apply_thread_budget(threads: int | None = None) -> int:
    """Give torch and the solvers ``threads`` threads each (``None``: the per-process budget
    of :func:`solvers.runtime.budget`); returns the number applied.

    The solvers may still use fewer when other processes keep the cores busy, and run in
    one thread in fork children and DataLoader workers (see :mod:`solvers.runtime`).

    Examples:
        >>> import torch
        >>> apply_thread_budget(1), torch.get_num_threads()
        (1, 1)
        >>> apply_thread_budget() == torch.get_num_threads()
        True
    """
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)):
        raise TypeError(f"threads must be a positive int or None, got {threads!r}")
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    n = runtime.set_threads(threads)
    torch.set_num_threads(threads if threads is not None else n)
    return torch.get_num_threads()
