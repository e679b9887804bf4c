"""Data-parallel training on ``torch.distributed``: one process per rank, launched by torchrun.

``torchrun --nproc_per_node N -m diffsolvers train warcraft ...`` starts N processes and
gives each ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``LOCAL_WORLD_SIZE`` and the rendezvous
address. :func:`launched` reads them (a plain ``python`` run is the one-process
:data:`SINGLE` world) and :func:`setup` joins the process group: ``gloo`` when the CNN runs
on the CPU, ``nccl`` for CUDA tensors (with ``gloo`` beside it for the small CPU-side
reductions) when it runs on a GPU, each process on ``cuda:LOCAL_RANK``. Every collective
gives up after ``timeout`` seconds, so a process that stops answering ends the job with
:class:`CollectiveFailure` instead of a hang.

How the work is shared::

    a split of n maps      rank r evaluates maps shard(n)[r], contiguous, sizes ⌊n/N⌋ or ⌈n/N⌉
    a global batch of G    rank r trains on part shard(G)[r] of it; the sum over ranks of
                           (loss of the part × part size / G) is the global batch's mean loss

Rank 0 alone decides what happens to the run folder (:func:`on_main`: it checks, locks and
reads, and every rank gets its answer or its error) and writes files; the others wait for
it in the next collective.

Example::

    world = setup(torch.device("cpu"), timeout=600)   # under torchrun --nproc_per_node 2
    part = shard(10, world)                            # rank 0: slice(0, 5), rank 1: slice(5, 10)
    total = all_reduce_sum(torch.tensor([3.0]), world) # the sum over ranks

Reference: PyTorch, "Distributed communication package - torch.distributed" and
"torchrun (Elastic Launch)".
"""

from __future__ import annotations

import datetime
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as dist

__all__ = [
    "World",
    "SINGLE",
    "CollectiveFailure",
    "FailedOnMain",
    "DEFAULT_TIMEOUT",
    "launched",
    "setup",
    "current",
    "rank_device",
    "shard",
    "all_reduce_sum",
    "all_gather",
    "on_main",
    "wait_for",
    "describe_failure",
]

T = TypeVar("T")

#: Seconds a collective waits for the other processes before the job fails (``--dist-timeout``).
DEFAULT_TIMEOUT = 600.0


@dataclass(frozen=True)
class World:
    """This process's place in the job: its rank among ``size``, and on its machine."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    local_size: int = 1

    @property
    def main(self) -> bool:
        """Rank 0: the process that writes the run's files."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        """More than one process: collectives are needed."""
        return self.size > 1

    def __str__(self) -> str:
        return f"rank {self.rank} of {self.size}"


#: The world of a process that was not launched by torchrun.
SINGLE = World()


class CollectiveFailure(RuntimeError):
    """A collective operation failed: another process of the job died, hung or left."""


class FailedOnMain(RuntimeError):
    """Rank 0 raised ``error`` while deciding for every rank (:func:`on_main`); rank 0
    reports it, the other ranks stop with the same exit code and say nothing."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def _env_int(name: str, default: int | None = None) -> int | None:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {text!r}") from None


def launched() -> World:
    """The world torchrun's environment describes (``SINGLE`` without ``WORLD_SIZE``).

    ``ValueError`` for an inconsistent environment (a rank outside the world, a world of
    several processes without the rendezvous address)."""
    size = _env_int("WORLD_SIZE", 1)
    if size < 1:
        raise ValueError(f"WORLD_SIZE must be at least 1, got {size}")
    if size == 1:
        return SINGLE
    rank = _env_int("RANK")
    local_rank = _env_int("LOCAL_RANK", rank)
    local_size = _env_int("LOCAL_WORLD_SIZE", size)
    if rank is None or not 0 <= rank < size:
        raise ValueError(f"WORLD_SIZE={size} needs RANK from 0 to {size - 1}, got {rank}")
    if not (1 <= local_size <= size and 0 <= local_rank < local_size):
        raise ValueError(
            f"LOCAL_RANK={local_rank} and LOCAL_WORLD_SIZE={local_size} do not fit "
            f"WORLD_SIZE={size}"
        )
    missing = [n for n in ("MASTER_ADDR", "MASTER_PORT") if not os.environ.get(n)]
    if missing:
        raise ValueError(
            f"WORLD_SIZE={size} but {' and '.join(missing)} unset: launch the command with "
            "torchrun (docs/distributed.md)"
        )
    return World(rank=rank, size=size, local_rank=local_rank, local_size=local_size)


def current() -> World:
    """The world of the process group this process has joined (``SINGLE`` if none)."""
    if not (dist.is_available() and dist.is_initialized()):
        return SINGLE
    return launched()


def rank_device(name: str, world: World) -> torch.device:
    """The device this rank trains on: ``name`` as :func:`.warcraft_run.resolve_device`
    reads it, and for CUDA in a job of several processes ``cuda:LOCAL_RANK`` (made the
    current device); ``ValueError`` for ``cuda:N`` there, or fewer GPUs than processes."""
    from .warcraft_run import resolve_device

    device = resolve_device(name)
    if not world.active or device.type != "cuda":
        return device
    if device.index is not None:
        raise ValueError(
            f"device {name!r}: under torchrun each process uses cuda:LOCAL_RANK; pass "
            "--device cuda (or auto)"
        )
    if world.local_size > torch.cuda.device_count():
        raise ValueError(
            f"{world.local_size} processes on this machine but torch sees "
            f"{torch.cuda.device_count()} CUDA device(s): start at most one process per GPU"
        )
    device = torch.device("cuda", world.local_rank)
    torch.cuda.set_device(device)
    return device


def setup(device: torch.device, timeout: float = DEFAULT_TIMEOUT) -> World:
    """Join the job's process group if torchrun launched this process (once; later calls
    return the world); ``SINGLE`` otherwise.

    The backend follows the device: ``gloo`` for the CPU; ``cpu:gloo,cuda:nccl`` for CUDA
    (gradients through NCCL, the CPU-side reductions of metrics and records through gloo).
    Collectives fail after ``timeout`` seconds (NCCL's watchdog then tears the process
    down, torch's default ``TORCH_NCCL_ASYNC_ERROR_HANDLING``)."""
    world = launched()
    if not world.active:
        return world
    if dist.is_initialized():
        return world
    backend = "cpu:gloo,cuda:nccl" if device.type == "cuda" else "gloo"
    try:
        dist.init_process_group(backend, timeout=datetime.timedelta(seconds=float(timeout)))
    except RuntimeError as exc:
        raise CollectiveFailure(
            f"{world}: could not join the job's process group ({_first_line(exc)}); check "
            "that every process was started with the same --rdzv-endpoint and can reach it"
        ) from exc
    return world


def shard(n: int, world: World) -> slice:
    """This rank's contiguous part of ``n`` items: the parts of all ranks are disjoint,
    cover every item once and differ in size by at most one (the first ``n % size`` ranks
    take one more)."""
    base, extra = divmod(int(n), world.size)
    start = world.rank * base + min(world.rank, extra)
    return slice(start, start + base + (1 if world.rank < extra else 0))


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def _collective(what: str, world: World, call: Callable[[], T]) -> T:
    try:
        return call()
    except RuntimeError as exc:
        raise CollectiveFailure(
            f"{world}: {what} failed ({_first_line(exc)}): another process of the job "
            "died, hung or was stopped; torchrun's report names the first failure"
        ) from exc


def all_reduce_sum(tensor: torch.Tensor, world: World) -> torch.Tensor:
    """The sum of ``tensor`` over all ranks (a CPU tensor; returned, ``tensor`` untouched)."""
    if not world.active:
        return tensor.clone()
    out = tensor.detach().cpu().clone()
    _collective("a sum over processes", world, lambda: dist.all_reduce(out))
    return out


def all_gather(obj: Any, world: World) -> list[Any]:
    """``obj`` of every rank, in rank order (picklable objects)."""
    if not world.active:
        return [obj]
    out: list[Any] = [None] * world.size
    _collective("gathering records", world, lambda: dist.all_gather_object(out, obj))
    return out


def on_main(decide: Callable[[], T], world: World) -> T:
    """Rank 0 calls ``decide()``; every rank gets its result, or rank 0's exception (rank 0
    raises it, the others :class:`FailedOnMain`). Rank 0's view of the file system rules
    (the run folder may exist on its machine only)."""
    if not world.active:
        return decide()
    box: list[Any] = [None]
    if world.main:
        try:
            box[0] = ("ok", decide())
        except Exception as exc:  # noqa: BLE001 - handed to every rank, then raised
            box[0] = ("error", exc)
    _collective("waiting for rank 0", world, lambda: dist.broadcast_object_list(box, src=0))
    status, value = box[0]
    if status == "ok":
        return value
    if world.main:
        raise value
    raise FailedOnMain(value)


def wait_for(ready: Callable[[], T | None], what: str, interval: float = 1.0) -> T:
    """Poll ``ready()`` until it returns something (another process of this machine is
    making it: generated data), without the collectives' timeout; torchrun ends this
    process if the maker dies."""
    notice = time.monotonic() + 30.0
    while (value := ready()) is None:
        if time.monotonic() > notice:
            print(f"waiting for {what}", flush=True)
            notice = time.monotonic() + 300.0
        time.sleep(interval)
    return value


#: Words of the errors gloo and NCCL raise when a peer is gone or silent.
_COLLECTIVE_WORDS = ("gloo", "nccl", "timed out", "connection closed", "connection reset", "peer")


def describe_failure(exc: BaseException, world: World) -> str:
    """One line for an error that escaped a distributed run (the CLI prints it): a failed
    collective (ours, or DistributedDataParallel's in ``backward``) says that another
    process is the likely cause."""
    if isinstance(exc, CollectiveFailure):
        return str(exc)
    text = _first_line(exc)
    if isinstance(exc, RuntimeError) and any(w in text.lower() for w in _COLLECTIVE_WORDS):
        return (
            f"{world}: a collective operation failed ({text}): another process of the job "
            "died, hung or was stopped; torchrun's report names the first failure"
        )
    return f"{world}: {type(exc).__name__}: {text}"
