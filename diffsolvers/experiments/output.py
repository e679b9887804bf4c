"""Writing the lab's files: atomically, and with one clear error when the disk says no.

Every file (checkpoint, JSON, CSV) is written whole to ``NAME.tmp`` beside its target and
then renamed over it, so an interrupt or a failure never leaves half a file in place of the
last good one. A failed write (disk full, read-only file system, no permission...)
removes the temporary file and raises :class:`OutputError`, an :class:`OSError` that names
the target and says what went wrong in words instead of, for a checkpoint, torch's
``[enforce fail at inline_container.cc] unexpected pos``.

Example::

    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> write_json({"epoch": 1}, folder / "metrics.json")
    >>> sorted(p.name for p in folder.iterdir())
    ['metrics.json']
"""

from __future__ import annotations

import csv
import errno
import io
import json
import os
from pathlib import Path
from typing import Any

import torch

__all__ = [
    "OutputError",
    "atomic_save",
    "write_json",
    "write_csv",
    "output_error",
    "make_folder",
    "folder_problem",
]

#: The reasons of a failed write, in words (others use the system's own text).
_REASONS = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EEXIST: "a file of that name is in the way",
}


class OutputError(OSError):
    """A file or folder of the lab could not be written; the message names it and why.

    ``errno`` and ``filename`` are those of the failure (``filename`` the target, not its
    temporary file, which has been removed); ``str()`` is the whole message.
    """

    def __str__(self) -> str:
        return str(self.strerror)


def output_error(exc: OSError, target: str | os.PathLike) -> OutputError:
    """``exc``, raised while writing ``target``, as an :class:`OutputError` in words."""
    reason = _REASONS.get(exc.errno or 0, (exc.strerror or str(exc)).lower())
    return OutputError(exc.errno, f"cannot write {target}: {reason}", str(target))


def _write_bytes(data: bytes, path: Path) -> None:
    """``data`` into ``path`` atomically (see the module docstring)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
        os.replace(tmp, path)
    except OSError as exc:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise output_error(exc, path) from exc


def atomic_save(obj: Any, path: Path) -> None:
    """``torch.save`` of ``obj`` to ``path``, atomically (serialised in memory first, so
    that a failed write is an :class:`OutputError`, not a torch serialisation error)."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    _write_bytes(buffer.getvalue(), path)


def write_json(obj: Any, path: Path) -> None:
    """``obj`` as indented JSON, atomically."""
    _write_bytes((json.dumps(obj, indent=2, sort_keys=False) + "\n").encode(), path)


def write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    """Rows of dicts to CSV (columns in first-seen order), atomically."""
    columns: list[str] = []
    for row in rows:
        for key in row:
            if key not in columns:
                columns.append(key)
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    _write_bytes(text.getvalue().encode(), path)


def folder_problem(path: str | os.PathLike) -> str | None:
    """Why ``path`` cannot be (or become) a folder to write into, or ``None`` if it can.

    The path must be a folder or not exist yet; its nearest existing ancestor must be a
    writable folder (a read-only file system counts as not writable, for every user).
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        return f"{path} is a file, not a folder"
    existing = path
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        return f"{existing} is a file, not a folder, so {path} cannot be made"
    if existing.exists() and not os.access(existing, os.W_OK | os.X_OK):
        return f"{existing} is not writable (read-only or no permission)"
    return None


def make_folder(path: str | os.PathLike) -> Path:
    """Make the folder ``path`` (and its parents) if missing; an :class:`OutputError`
    naming it if it cannot be made (a file in the way, read-only, no permission)."""
    path = Path(path)
    problem = folder_problem(path)
    if problem is not None:
        raise OutputError(errno.ENOTDIR if "file" in problem else errno.EACCES, problem, str(path))
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise output_error(exc, path) from exc
    return path
