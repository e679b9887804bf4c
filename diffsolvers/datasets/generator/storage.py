r"""Where generated Warcraft data lives, and when a folder found there may be reused.

Each generator format has its own default folder, so data of one format is never taken
for another and older data stays where results measured on it point:

* format 2: ``{base}/warcraft_shortest_path_oneskin/{k}x{k}`` (its place since it was made);
* format ``f >= 3``: ``{base}/format{f}/warcraft_shortest_path_oneskin/{k}x{k}``;

with ``{base}`` = ``$DIFFSOLVERS_DATA`` if set, else ``datasets/generated`` in a source
checkout, else ``~/.cache/diffsolvers``. A folder's format is the ``format_version`` of
the ``info.json`` the generator writes. A complete folder is reused when its format is the
one asked for, or when this generator did not write it (the real data, say); a folder of an
older, retired format (1) is made again; a folder of another available format is refused
with an error rather than reused or overwritten.

Example::

    >>> default_data_root(2).name, default_data_root(3).parent.name
    ('warcraft_shortest_path_oneskin', 'format3')

Reference: the real data's folder layout, Vlastelica et al., ICLR 2020
(data DOI 10.17617/3.YJCQ5S).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..warcraft import WarcraftDataError
from .writing import FORMAT_VERSION, FORMATS, GENERATOR_NAME, check_format, generate_warcraft

__all__ = [
    "default_data_root",
    "default_format",
    "ensure_warcraft_data",
    "existing_warcraft_data",
    "folder_format",
]

_TOP = "warcraft_shortest_path_oneskin"


def default_data_root(format: int = FORMAT_VERSION) -> Path:
    """Where generated Warcraft data of ``format`` goes by default (module doc).

    Examples:
        >>> default_data_root(3).parts[-2:]
        ('format3', 'warcraft_shortest_path_oneskin')
        >>> default_data_root(2).parent == default_data_root(3).parent.parent
        True
    """
    format = check_format(format)
    env = os.environ.get("DIFFSOLVERS_DATA")
    if env:
        base = Path(env)
    else:
        repo = Path(__file__).resolve().parents[3]
        if (repo / "pyproject.toml").is_file() and (repo / "datasets").is_dir():
            base = repo / "datasets" / "generated"
        else:
            base = Path.home() / ".cache" / "diffsolvers"
    return base / _TOP if format == 2 else base / f"format{format}" / _TOP


def default_format(folder: str | os.PathLike | None) -> int | None:
    """The format whose default folder ``folder`` is (a ``{k}x{k}`` folder or its root),
    else ``None``: how a run that recorded only the path of its generated data (since
    deleted) tells which format to make again.

    Examples:
        >>> default_format(default_data_root(2) / "12x12")
        2
        >>> print(default_format("somewhere/else/12x12"))
        None
    """
    if folder is None:
        return None
    path = Path(folder).expanduser().resolve()
    for format in FORMATS:
        root = default_data_root(format).resolve()
        if path == root or path.parent == root:
            return format
    return None


def folder_format(folder: str | os.PathLike) -> int | None:
    """The generator format of the data in ``folder`` (its ``info.json``), or ``None`` when
    this generator did not write it (no or foreign ``info.json``: e.g. the real data).

    Examples:
        >>> folder_format("datasets/warcraft_sample/12x12")  # the committed sample
        2
    """
    try:
        params = json.loads((Path(folder) / "info.json").read_text())["dataset_params"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(params, dict) or params.get("generator") != GENERATOR_NAME:
        return None
    version = params.get("format_version")
    return version if isinstance(version, int) and not isinstance(version, bool) else 1


def _target(k: int, root: str | os.PathLike | None, format: int) -> Path:
    return (default_data_root(format) if root is None else Path(root)) / f"{int(k)}x{int(k)}"


def existing_warcraft_data(
    k: int = 12, root: str | os.PathLike | None = None, *, format: int = FORMAT_VERSION
) -> Path | None:
    """The folder ``{root}/{k}x{k}`` that :func:`ensure_warcraft_data` would reuse as it is
    (complete, and of ``format`` or not written by this generator), or ``None``.

    Examples:
        >>> existing_warcraft_data(12, "datasets/warcraft_sample", format=2).name
        '12x12'
        >>> print(existing_warcraft_data(12, "datasets/warcraft_sample", format=3))
        None
    """
    format = check_format(format)
    target = _target(k, root, format)
    if not (target / "test_maps.npy").exists():
        return None
    found = folder_format(target)
    return target if found is None or found == format else None


def ensure_warcraft_data(
    k: int = 12,
    root: str | os.PathLike | None = None,
    *,
    seed: int = 0,
    n_train: int = 10_000,
    n_val: int = 1_000,
    n_test: int = 1_000,
    progress: bool = True,
    format: int = FORMAT_VERSION,
) -> Path:
    """Return the folder ``{root}/{k}x{k}`` of a generated data set, generating it if absent.

    ``root`` defaults to :func:`default_data_root` of ``format``. An existing folder is
    reused as it is (whatever seed or size it was made with; its ``info.json`` says which)
    when it holds maps of ``format`` or maps this generator did not write; a folder of a
    retired format is made again; a folder of another available format raises
    :class:`~diffsolvers.datasets.WarcraftDataError` (never reused as ``format``, never
    overwritten).

    Examples:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as root:
        ...     made = ensure_warcraft_data(12, root, n_train=4, n_val=2, n_test=2, progress=False)
        ...     again = ensure_warcraft_data(12, root, progress=False)  # reused, not remade
        ...     print(made.name, again == made, folder_format(made))
        12x12 True 3
    """
    format = check_format(format)
    target = _target(k, root, format)
    found = existing_warcraft_data(k, root, format=format)
    if found is not None:
        return found
    held = folder_format(target) if (target / "test_maps.npy").exists() else None
    if held is not None and held >= min(FORMATS):
        raise WarcraftDataError(
            f"{target} holds generator format {held} maps, but format {format} was asked "
            f"for: pass format={held} to use them, or another root for format {format}"
        )
    try:
        return generate_warcraft(
            target.parent,
            k,
            n_train,
            n_val,
            n_test,
            seed=seed,
            progress=progress,
            overwrite=True,
            format=format,
        )
    except FileExistsError:  # pragma: no cover - raced with another process
        return target
