"""A Warcraft run's identity and folder: its configuration, and whether a folder holds it.

A run is defined by its :class:`WarcraftConfig` (less the fields that do not change its
results, such as the device or the thread count) and by the data it trained on, identified
by :func:`data_signature`. Resuming a run, or reusing a finished one in a comparison, is
allowed only on the same configuration and the same data (:func:`require_same_config`,
:func:`require_same_data`); anything else raises :class:`RunAlreadyExists`, so results of
different runs are never mixed.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .. import registry
from ..datasets.warcraft import find_size_folder, read_info

__all__ = [
    "DEFAULT_METHOD_OPTIONS",
    "TIE_CHOICES",
    "RunAlreadyExists",
    "WarcraftConfig",
    "config_mismatch",
    "require_same_config",
    "check_same_run",
    "resolve_device",
    "data_signature",
    "require_same_data",
    "load_results",
]

#: How a training label is chosen among a map's optimal paths (:attr:`WarcraftConfig.ties`).
TIE_CHOICES = ("reference", "random")

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
    #: (:func:`~diffsolvers.datasets.warcraft.random_symmetry`), paths re-solved.
    augment: bool = False
    #: Which optimal path a training label is when a map has several: ``"reference"`` (the
    #: stored labels, the reference Dijkstra's tie-breaking) or ``"random"`` (re-solved with
    #: ties broken at random, :func:`random_tie_paths`; validation and test labels unchanged).
    ties: str = "reference"
    #: Where the CNN runs: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ... or ``"auto"`` (CUDA when
    #: available). Data stay on the CPU (batches are moved); solvers always run on the CPU.
    device: str = "cpu"

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["milestones"] = list(self.milestones)
        return d


#: Config fields that do not change a run's results (may differ when resuming).
_RUNTIME_FIELDS = ("progress", "threads", "device")
#: Saved beside a run's configuration, not part of it.
_RECORD_FIELDS = ("data_root", "data_signature")


def _defining(config: dict[str, Any]) -> dict[str, Any]:
    """The fields that change a run's results (a field missing from a run saved before it
    existed takes its default); of ``method_options``, only the options the method declares
    (the others are dropped by :func:`.objectives.make_objective`)."""
    defaults = {
        f.name: f.default
        for f in dataclasses.fields(WarcraftConfig)
        if f.default is not dataclasses.MISSING
    }
    skipped = _RUNTIME_FIELDS + _RECORD_FIELDS
    out = {k: v for k, v in {**defaults, **config}.items() if k not in skipped}
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
