"""A Warcraft run's identity and folder: its configuration, its checkpoint, its results.

A run is defined by its :class:`WarcraftConfig` (less the fields that do not change its
results, such as the device or the thread count) and by the data it trained on, identified
by :func:`data_signature`. Resuming a run, or reusing a finished one in a comparison, is
allowed only on the same configuration and the same data (:func:`require_same_config`,
:func:`require_same_data`); anything else raises :class:`RunAlreadyExists`, so results of
different runs are never mixed. :func:`check_config` refuses a configuration that makes no
sense (zero epochs, a negative batch size, ...), and :func:`read_checkpoint` a checkpoint
that is unreadable or inconsistent (:class:`CorruptCheckpoint`).

Example::

    config = WarcraftConfig(method="blackbox", epochs=10, milestones=(6, 8))
    check_config(config)
    state = read_checkpoint("runs/bb/checkpoint.pt", epochs=config.epochs)
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .. import registry
from ..datasets.warcraft import LABEL_CHECKS, find_size_folder, read_info

__all__ = [
    "DEFAULT_METHOD_OPTIONS",
    "TIE_CHOICES",
    "LABEL_CHOICES",
    "SEED_MAX",
    "RunAlreadyExists",
    "CorruptCheckpoint",
    "WarcraftConfig",
    "check_config",
    "resolve_batch",
    "read_checkpoint",
    "config_mismatch",
    "require_same_config",
    "check_same_run",
    "resolve_device",
    "data_signature",
    "require_same_data",
    "load_results",
    "restart_advice",
]

#: How a training label is chosen among a map's optimal paths (:attr:`WarcraftConfig.ties`).
TIE_CHOICES = ("reference", "random")
#: What loading does with labels that are not optimal paths (:attr:`WarcraftConfig.labels`).
LABEL_CHOICES = tuple(mode for mode in LABEL_CHECKS if mode != "trust")
#: The largest run seed (seeds are 0 to 2**63 - 1: torch's and NumPy's ranges agree there).
SEED_MAX = 2**63 - 1

#: Method options used by default on Warcraft 12×12 (each method takes the ones it
#: declares). I-MLE: κ about the number of cells on a path, τ measured on 2,000 maps × 8
#: epochs: test optimal-cost paths 37% with κ = 1, τ = 1; 64% (κ = 12, τ = 1); 73% (τ = 0.1);
#: 74% (τ = 0.3).
DEFAULT_METHOD_OPTIONS: dict[str, Any] = {
    "sigma": 0.1,
    "n_samples": 3,
    "noise": "normal",
    "lambda_": 20.0,
    "kappa": 12.0,
    "tau": 0.3,
}


class RunAlreadyExists(RuntimeError):
    """The output folder already holds a run and ``resume`` was not asked for."""


class CorruptCheckpoint(ValueError):
    """A run's ``checkpoint.pt`` is unreadable, or inconsistent with its configuration."""


@dataclass
class WarcraftConfig:
    """Everything that defines a Warcraft training run."""

    method: str = "fenchel_young"
    k: int = 12
    epochs: int = 50
    batch_size: int = 70
    lr: float = 5e-4
    milestones: tuple[int, ...] = (30, 40)
    seed: int = 0
    data: str | None = None
    n_train: int | None = None
    n_val: int | None = None
    n_test: int | None = None
    method_options: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_METHOD_OPTIONS))
    threads: int | None = None
    channels_last: bool = True
    progress: bool = True
    #: Train on a random one of the four end-preserving symmetries of each map
    #: (:func:`~diffsolvers.datasets.warcraft_symmetries.random_symmetry`), paths re-solved.
    augment: bool = False
    #: Which optimal path a training label is when a map has several: ``"reference"`` (the
    #: stored labels, the reference Dijkstra's tie-breaking) or ``"random"`` (re-solved with
    #: ties broken at random, :func:`random_tie_paths`; validation and test labels unchanged).
    ties: str = "reference"
    #: Where the CNN runs: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ... or ``"auto"`` (CUDA when
    #: available). Data stay on the CPU (batches are moved); solvers always run on the CPU.
    device: str = "cpu"
    #: Labels that are not optimal paths: refused on load (``"check"``) or reported and kept
    #: (``"report"``); see :mod:`diffsolvers.datasets.warcraft_labels`.
    labels: str = "check"
    #: Maps per optimiser step over all processes of a distributed run (each process takes
    #: an equal part, within one map); ``None``: ``batch_size`` per process, so ``batch_size
    #: × processes`` in all. :func:`resolve_batch` fills it in before a run trains.
    global_batch: int | None = None
    #: Seconds a process of a distributed run waits for the others at a collective
    #: operation before the job fails (a process that died or hangs).
    dist_timeout: float = 600.0

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["milestones"] = list(self.milestones)
        return d


def _check_whole(value: Any, name: str, low: int, high: int | None = None) -> None:
    """``value`` is an integer (not a bool) in ``[low, high]``, or a ``ValueError``."""
    whole = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if whole and value >= low and (high is None or value <= high):
        return
    bound = f"of at least {low}" if high is None else f"from {low} to {high}"
    raise ValueError(f"{name} must be a whole number {bound}, got {value!r}")


def check_config(config: WarcraftConfig) -> None:
    """Raise ``ValueError`` naming the first field of ``config`` that makes no sense.

    Epochs, batch size, grid size and map counts are whole numbers of at least 1 (a map
    count may be ``None``: the whole split); the seed is in ``[0, SEED_MAX]``; the lr a
    positive finite number; each milestone an epoch from 1 to ``epochs``, once;
    ``threads`` and ``global_batch`` ``None`` or at least 1; ``dist_timeout`` positive;
    ``ties`` and ``labels`` known words. The method and
    its options are checked when its objective is built, the device when it is resolved.
    """
    for name in ("epochs", "batch_size", "k"):
        _check_whole(getattr(config, name), name, 1)
    _check_whole(config.seed, "seed", 0, SEED_MAX)
    for name in ("n_train", "n_val", "n_test", "threads", "global_batch"):
        if getattr(config, name) is not None:
            _check_whole(getattr(config, name), name, 1)
    for name in ("lr", "dist_timeout"):
        value = getattr(config, name)
        if (
            isinstance(value, bool)
            or not isinstance(value, numbers.Real)
            or not (math.isfinite(value) and value > 0)
        ):
            raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    for milestone in config.milestones:
        _check_whole(milestone, "each milestone", 1, config.epochs)
    if len(set(config.milestones)) != len(config.milestones):
        raise ValueError(f"milestones must each be given once, got {list(config.milestones)}")
    if config.ties not in TIE_CHOICES:
        raise ValueError(f"unknown ties {config.ties!r}; use one of {', '.join(TIE_CHOICES)}")
    if config.labels not in LABEL_CHOICES:
        raise ValueError(f"unknown labels {config.labels!r}; use one of {', '.join(LABEL_CHOICES)}")


def resolve_batch(config: WarcraftConfig, processes: int) -> WarcraftConfig:
    """``config`` with its global batch for a job of ``processes`` processes filled in:
    ``global_batch`` as given, else ``batch_size × processes``; ``batch_size`` becomes the
    largest part a process takes, ``⌈global_batch / processes⌉``. ``ValueError`` when the
    global batch has fewer maps than there are processes."""
    total = config.batch_size * processes if config.global_batch is None else config.global_batch
    if total < processes:
        raise ValueError(
            f"a global batch of {total} maps cannot be shared by {processes} processes (each "
            f"needs at least one map per step): use --global-batch {processes} or more"
        )
    return dataclasses.replace(config, global_batch=total, batch_size=-(-total // processes))


#: Config fields that do not change a run's results (may differ when resuming).
_RUNTIME_FIELDS = ("progress", "threads", "device", "labels", "dist_timeout")
#: Saved beside a run's configuration, not part of it.
_RECORD_FIELDS = ("data_root", "data_signature")


def _defining(config: dict[str, Any]) -> dict[str, Any]:
    """The fields that change a run's results (a field missing from a run saved before it
    existed takes its default); the maps per optimiser step as ``global_batch`` (a run
    that recorded none: its ``batch_size``), however many processes shared them; of
    ``method_options``, only the options the method declares (the others are dropped by
    :func:`.objectives.make_objective`)."""
    defaults = {
        f.name: f.default
        for f in dataclasses.fields(WarcraftConfig)
        if f.default is not dataclasses.MISSING
    }
    skipped = _RUNTIME_FIELDS + _RECORD_FIELDS
    out = {k: v for k, v in {**defaults, **config}.items() if k not in skipped}
    # the maps of one optimiser step define the run, not how processes share them
    per_process = out.pop("batch_size", None)
    if out.get("global_batch") is None:
        out["global_batch"] = per_process
    try:
        declared = registry.method_info(out["method"]).options
    except (KeyError, ValueError):
        return out
    options = out.get("method_options") or {}
    out["method_options"] = {k: v for k, v in options.items() if k in declared}
    return out


def config_mismatch(saved: dict[str, Any], wanted: dict[str, Any]) -> str | None:
    """``None`` if two configurations define the same run, else the differing fields.

    A run saved with its data's signature (``saved["data_signature"]``) is identified by
    that content, which :func:`require_same_data` compares, not by the ``data`` path: the
    same maps reached through another path (``--data`` to the generated folder, or none)
    make the same run. A run saved without one is compared by path.
    """
    by_content = saved.get("data_signature") is not None
    saved, wanted = _defining(saved), _defining(wanted)
    if by_content:
        saved.pop("data", None)
        wanted.pop("data", None)
    diff = sorted(k for k in set(saved) | set(wanted) if saved.get(k) != wanted.get(k))
    if not diff:
        return None
    return ", ".join(f"{k}: {saved.get(k)!r} → {wanted.get(k)!r}" for k in diff)


def require_same_config(saved: dict[str, Any], wanted: dict[str, Any], where: Any) -> None:
    """Raise :class:`RunAlreadyExists` if ``saved`` (a run found at ``where``) and
    ``wanted`` are not the same run."""
    details = config_mismatch(saved, wanted)
    if details:
        raise RunAlreadyExists(
            f"{where} holds a run with a different configuration ({details}); "
            "use another output folder"
        )


def check_same_run(out: str | Path, config: WarcraftConfig) -> None:
    """Raise :class:`RunAlreadyExists` if ``out`` holds a run of another configuration."""
    path = Path(out) / "config.json"
    if path.exists():
        require_same_config(json.loads(path.read_text()), config.to_dict(), out)


def resolve_device(name: str) -> torch.device:
    """``name`` as a :class:`torch.device` (``"auto"``: CUDA when available, else the CPU);
    a clear error for an unknown name or a CUDA device this machine does not have."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ValueError(f"unknown device {name!r}: use cpu, cuda, cuda:N or auto") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} asked for, but torch sees no CUDA device here")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise ValueError(
            f"device {name!r}: this machine has {torch.cuda.device_count()} CUDA device(s), "
            f"numbered from 0"
        )
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"device {name!r}: only cpu and cuda are supported")
    return device


def data_signature(root: str | Path, k: int) -> dict[str, Any]:
    """What identifies a Warcraft data folder: the ``dataset_params`` of its ``info.json``
    (for generated data: generator, format version, seed) and the byte size of every
    ``.npy`` file. Saved with each run, so that resuming a run, or reusing a finished one in
    a comparison, on data that changed since (another generator version, another download)
    is refused instead of silently mixing results."""
    folder = find_size_folder(root, k)
    return {
        "dataset_params": read_info(folder).get("dataset_params", {}),
        "files": {f.name: f.stat().st_size for f in sorted(folder.glob("*.npy"))},
    }


def require_same_data(saved: dict[str, Any], current: dict[str, Any], where: Any) -> None:
    """Raise :class:`RunAlreadyExists` if the run at ``where`` was trained on other data
    (``saved`` is its saved configuration or results; runs saved without a signature pass)."""
    before = saved.get("data_signature")
    if before is None or before == current:
        return
    changes = []
    for part in ("dataset_params", "files"):
        old, new = before.get(part, {}), current.get(part, {})
        changes += [
            f"{part}.{key}: {old.get(key, 'absent')} → {new.get(key, 'absent')}"
            for key in sorted(set(old) | set(new))
            if old.get(key) != new.get(key)
        ]
    raise RunAlreadyExists(
        f"{where} was trained on other data than is found now ({'; '.join(changes)}); "
        "use another output folder"
    )


def load_results(out: str | Path) -> dict[str, Any] | None:
    """The finished run's ``metrics.json`` in ``out``, or ``None`` if it has not finished."""
    path = Path(out) / "metrics.json"
    if not path.exists():
        return None
    return json.loads(path.read_text())


#: What a checkpoint holds (:func:`.warcraft.TrainingState.checkpoint`).
CHECKPOINT_KEYS = ("model", "optimizer", "scheduler", "history", "epoch", "config")


def restart_advice(path: str | Path) -> str:
    """How to start over from a checkpoint that cannot be used."""
    return (
        f"delete {path} (or its whole run folder) to train the run again from the start, "
        "or use another output folder"
    )


def read_checkpoint(path: str | Path, *, epochs: int | None = None) -> dict[str, Any]:
    """A run's checkpoint, checked: :class:`CorruptCheckpoint` (naming the file, what is
    wrong, and how to start over) if it is not a readable torch file holding a checkpoint
    dictionary, or if its epoch disagrees with its history or is beyond its run's number
    of epochs (or beyond ``epochs``, the number wanted now)."""
    path = Path(path)
    if path.is_dir():
        raise CorruptCheckpoint(f"{path} is a folder, not a checkpoint; {restart_advice(path)}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001 - any failure here means an unreadable file
        detail = (str(exc).strip().splitlines() or [""])[0][:200]
        raise CorruptCheckpoint(
            f"{path} is not a readable checkpoint ({type(exc).__name__}: {detail}); it may "
            f"be truncated or corrupt: {restart_advice(path)}"
        ) from exc
    problem = _checkpoint_problem(state, epochs)
    if problem is not None:
        raise CorruptCheckpoint(f"{path} is inconsistent: {problem}; {restart_advice(path)}")
    return state


def _checkpoint_problem(state: Any, epochs: int | None) -> str | None:
    """What is wrong with a loaded checkpoint, or ``None``."""
    if not isinstance(state, dict):
        return f"it holds a {type(state).__name__}, not a checkpoint"
    missing = [key for key in CHECKPOINT_KEYS if key not in state]
    if missing:
        return f"it lacks {', '.join(missing)}"
    config, epoch, history = state["config"], state["epoch"], state["history"]
    if not isinstance(config, dict) or not isinstance(config.get("epochs"), int):
        return "its configuration is not a run's configuration"
    if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0:
        return f"its epoch is {epoch!r}, not a number of epochs"
    if not isinstance(history, list) or not all(isinstance(h, dict) for h in history):
        return "its history is not a list of epoch records"
    recorded = [h.get("epoch") for h in history]
    if recorded != list(range(1, epoch + 1)):
        return f"it claims epoch {epoch} but its history records epochs {recorded}"
    for total in (config["epochs"], epochs):
        if total is not None and epoch > total:
            return f"it claims {epoch} finished epochs of a run of {total}"
    if not isinstance(state["model"], dict):
        return "its model state is not a state dictionary"
    return None
