r"""The rows of a solution pool: distinct solutions, grouped by feasible set, bounded.

A pool solution may stand in for another instance's decision only if it is feasible for
that instance. Structure fixed when the solver is built (a grid, a graph, knapsack weights
given to ``solvers.get``) is shared by every instance; per-call side data (knapsack
``weights`` and ``capacity`` given at each call) may change the feasible set. So every
solution belongs to a **group**: the per-call side data of the instance it came from
(the empty group without side data), and an instance sees only the solutions of its own
group.

Solutions are deduplicated within a group (exact equality of the float64 entries, with
-0.0 and 0.0 one value) and held in float64 on one device, at most ``max_size`` of them;
once full, the oldest is replaced first, never one that the current call touched (added
or found again), so a call always sees its own targets and solutions.

Example::

    >>> import torch
    >>> rows = PoolRows(max_size=10)
    >>> rows.add(torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]), [0, 0, 0], set(), "demo")
    >>> len(rows)
    2
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from .._locked import Locked

__all__ = ["PoolRows", "side_key"]

_FIRST_CAPACITY = 64


def side_key(side: Mapping[str, Any], i: int) -> bytes:
    """The group key of instance ``i``: the bytes of its per-instance side data (arrays of
    shape ``(N, ...)``, NumPy or tensors), names, dtypes and shapes included."""
    parts = []
    for name in sorted(side):
        value = side[name]
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().numpy()
        row = np.ascontiguousarray(np.asarray(value)[i], dtype=np.float64) + 0.0
        parts.append(f"{name}{row.shape}".encode() + row.tobytes())
    return b"|".join(parts)


class PoolRows(Locked):
    """Distinct solutions of one instance shape, each with its group, at most ``max_size``.

    ``rows`` (capacity, D) float64 and ``row_group`` (capacity,) int64 live on one device
    (the device of the last call); ``index`` maps (group, solution bytes) to a slot. All
    changes go through :meth:`add` under ``lock``.
    """

    _lock_name = "lock"  # the losses hold it across their reads
    _lock_factory = staticmethod(threading.RLock)

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self.event_shape: tuple[int, ...] | None = None
        self.rows: torch.Tensor | None = None
        self.row_group: torch.Tensor | None = None
        self.count = 0
        self.next = 0  # the slot the next new solution takes once full
        self.index: dict[tuple[int, bytes], int] = {}
        self.slot_keys: list[tuple[int, bytes]] = []
        self.groups: dict[bytes, int] = {b"": 0}
        self.group_sizes: dict[int, int] = {}  # group -> solutions held
        self.casts: dict[torch.dtype, torch.Tensor] = {}  # the storage in other dtypes
        self.shared = False  # whether a view of the storage was handed out
        self._new_lock()

    def __len__(self) -> int:
        return self.count

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        if "group_sizes" not in state:  # a pool pickled before these were kept
            held = self.row_group[: self.count].tolist() if self.count else []
            self.group_sizes = {g: held.count(g) for g in set(held)}
            self.casts, self.shared = {}, False

    def group(self, key: bytes) -> int:
        """The group number of a side-data key (a new number for a new key)."""
        if key not in self.groups:
            self.groups[key] = len(self.groups)
        return self.groups[key]

    def check_shape(self, event_shape: Sequence[int], problem: str) -> None:
        """Fix the instance shape on first use; ``ValueError`` on another one later."""
        shape = tuple(int(s) for s in event_shape)
        if self.event_shape is None:
            self.event_shape = shape
        elif shape != self.event_shape:
            raise ValueError(
                f"{problem}: the solution pool holds solutions of shape {self.event_shape}; "
                f"this call's instances have shape {shape} (one pool serves one instance shape)"
            )

    def _storage(self, device: torch.device, needed: int, d: int) -> None:
        """Storage of rows of ``d`` entries on ``device`` with room for ``needed`` rows
        (doubling, up to max_size)."""
        if self.rows is None:
            capacity = min(max(_FIRST_CAPACITY, needed), self.max_size)
            self.rows = torch.zeros((capacity, d), dtype=torch.float64, device=device)
            self.row_group = torch.zeros(capacity, dtype=torch.int64, device=device)
            return
        if self.rows.device != device:
            self.rows, self.row_group = self.rows.to(device), self.row_group.to(device)
            self.casts, self.shared = {}, False
        capacity = self.rows.shape[0]
        if needed > capacity and capacity < self.max_size:
            grown = min(max(2 * capacity, needed), self.max_size)
            rows = torch.zeros((grown, d), dtype=torch.float64, device=device)
            group = torch.zeros(grown, dtype=torch.int64, device=device)
            rows[:capacity], group[:capacity] = self.rows, self.row_group
            self.rows, self.row_group = rows, group
            self.casts, self.shared = {}, False

    def _free_slot(self, touched: set[int], problem: str) -> int:
        """The slot of the oldest solution not touched by this call (the pool is full)."""
        for _ in range(self.max_size):
            slot = self.next
            self.next = (self.next + 1) % self.max_size
            if slot not in touched:
                del self.index[self.slot_keys[slot]]
                return slot
        raise ValueError(
            f"{problem}: max_pool={self.max_size} cannot hold the targets and solutions of "
            f"one call ({len(touched)} already, and more); raise max_pool"
        )

    def add(
        self, solutions: torch.Tensor, groups: Sequence[int], touched: set[int], problem: str
    ) -> None:
        """Add the rows of ``solutions`` (m, D), row ``i`` to group ``groups[i]``; the slots
        of the rows added or found are recorded in ``touched``."""
        m = solutions.shape[0]
        if m == 0:
            return
        host = solutions.detach().to("cpu", torch.float64).reshape(m, -1)
        raw = (host.numpy() + 0.0).tobytes()  # -0.0 and 0.0 are one value
        width = len(raw) // m
        keys = [(int(g), raw[i * width : (i + 1) * width]) for i, g in enumerate(groups)]
        known = [self.index.get(key) for key in keys]
        if None not in known:  # the common case in training: the targets are in the pool
            touched.update(known)
            return
        new_slots, new_index, new_groups = [], [], []
        for i, key in enumerate(keys):
            slot = self.index.get(key)  # looked up again: an earlier row may have evicted it
            if slot is not None:
                touched.add(slot)
                continue
            if self.count < self.max_size:
                slot = self.count
                self.count += 1
                self.slot_keys.append(key)
            else:
                slot = self._free_slot(touched, problem)
                self._release(slot)
                self.slot_keys[slot] = key
            self.index[key] = slot
            touched.add(slot)
            new_slots.append(slot)
            new_index.append(i)
            new_groups.append(key[0])
            self.group_sizes[key[0]] = self.group_sizes.get(key[0], 0) + 1
        if not new_slots:
            return
        self._storage(solutions.device, self.count, host.shape[1])
        slots = torch.tensor(new_slots, device=self.rows.device)
        picked = host[torch.tensor(new_index)] if len(new_index) < m else host
        self.rows[slots] = picked.to(self.rows.device)
        self.row_group[slots] = torch.tensor(new_groups, device=self.rows.device)
        for dtype, cast in self.casts.items():
            cast[slots] = self.rows[slots].to(dtype)

    def _release(self, slot: int) -> None:
        """Before ``slot`` (a solution of an earlier call) is overwritten: the views of the
        storage returned by :meth:`snapshot` must keep their values, so the storage is
        copied once per call that replaces (copy on write), and the group loses a member."""
        group = self.slot_keys[slot][0]
        self.group_sizes[group] -= 1
        if not self.group_sizes[group]:
            del self.group_sizes[group]
        if self.shared:
            self.rows, self.row_group = self.rows.clone(), self.row_group.clone()
            self.casts = {dtype: cast.clone() for dtype, cast in self.casts.items()}
            self.shared = False

    def filled_groups(self) -> set[int]:
        """The groups that hold at least one solution."""
        return set(self.group_sizes)

    def snapshot(
        self, device: torch.device, dtype: torch.dtype, copy: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The solutions (K, D) in ``dtype`` and their groups (K,), on ``device`` (the
        storage moves there): views of the storage that later calls do not change (new
        solutions go to new slots, and a replacement copies the storage first), or copies
        with ``copy=True``."""
        if self.rows is None:
            d = math.prod(self.event_shape) if self.event_shape else 0
            empty = torch.zeros((0, d), dtype=dtype, device=device)
            return empty, torch.zeros(0, dtype=torch.int64, device=device)
        if self.rows.device != device:
            self._storage(device, 0, self.rows.shape[1])
        if copy:
            rows = self.rows[: self.count].to(dtype=dtype, copy=True)
            return rows, self.row_group[: self.count].clone()
        if dtype == torch.float64:
            cast = self.rows
        else:
            if dtype not in self.casts:
                self.casts[dtype] = self.rows.to(dtype)
            cast = self.casts[dtype]
        self.shared = True
        return cast[: self.count], self.row_group[: self.count]
