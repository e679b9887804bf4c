"""The command line's argument types and checks: nonsense gets one line and exit code 2.

Each ``type=`` function turns one option's text into its value or raises
:class:`argparse.ArgumentTypeError`, which argparse prints as
``diffsolvers: error: argument --epochs: must be a whole number of at least 1, got '0'``.
:func:`check_arguments` checks what depends on several options or on the installed
methods (milestones beyond ``--epochs``, unknown methods, an ``--out`` that is a file or not
writable, an unknown device) and returns the first problem as such a line.
:func:`missing_lab_modules` names the optional ``lab`` dependencies that are absent.

Example::

    >>> positive_int("3")
    3
    >>> positive_int("0")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must be a whole number of at least 1, got '0'
"""

from __future__ import annotations

import argparse
import importlib
import math
import re
from collections.abc import Callable
from pathlib import Path

from .warcraft_run import SEED_MAX

_NEGATIVE_NUMBER = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


class CommandParser(argparse.ArgumentParser):
    """An :class:`argparse.ArgumentParser` whose errors are one line and exit code 2.

    argparse prints the whole usage block before the error; here the error line alone is
    printed, with a pointer to ``--help``. Negative numbers in any notation (``--lr -1e-3``)
    are read as values, so that the option's own check names the problem (argparse reads
    ``-1e-3`` as an unknown option and says only "expected one argument").

    Example::

        >>> CommandParser(prog="demo").parse_args(["--x", "1"])
        Traceback (most recent call last):
        ...
        SystemExit: 2
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = _NEGATIVE_NUMBER

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


__all__ = [
    "CommandParser",
    "positive_int",
    "positive_float",
    "non_negative_float",
    "seed",
    "milestone_list",
    "degree_list",
    "name_list",
    "check_arguments",
    "missing_lab_modules",
    "LAB_MODULES",
    "SEED_MAX",
]

#: The modules of the optional ``lab`` extra that the commands need.
LAB_MODULES = ("matplotlib", "tqdm")


def _whole(text: str, low: int, high: int | None = None) -> int:
    top = "2**63 - 1" if high == SEED_MAX else str(high)
    bound = f"of at least {low}" if high is None else f"from {low} to {top}"
    try:
        value = int(text.strip())
    except ValueError:
        value = None
    if value is None or value < low or (high is not None and value > high):
        raise argparse.ArgumentTypeError(f"must be a whole number {bound}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """A whole number of at least 1."""
    return _whole(text, 1)


def seed(text: str) -> int:
    """A seed: a whole number from 0 to ``2**63 - 1``."""
    return _whole(text, 0, SEED_MAX)


def _real(text: str, positive: bool) -> float:
    what = "a positive" if positive else "a non-negative"
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise argparse.ArgumentTypeError(f"must be {what} finite number, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """A finite number above 0."""
    return _real(text, positive=True)


def non_negative_float(text: str) -> float:
    """A finite number of at least 0."""
    return _real(text, positive=False)


def _int_list(text: str, low: int, allow_empty: bool) -> list[int]:
    items = [t for t in text.split(",") if t.strip()]
    if not items and not allow_empty:
        raise argparse.ArgumentTypeError("give at least one value, comma-separated")
    try:
        values = [_whole(t, low) for t in items]
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"must be whole numbers of at least {low}, comma-separated, got {text!r}"
        ) from None
    if len(set(values)) != len(values):
        raise argparse.ArgumentTypeError(f"each value must be given once, got {text!r}")
    return values


def milestone_list(text: str) -> list[int]:
    """Epochs after which the lr drops: whole numbers of at least 1, comma-separated, each
    once (an empty text: no drop)."""
    return sorted(_int_list(text, 1, allow_empty=True))


def degree_list(text: str) -> list[int]:
    """Polynomial degrees: at least one whole number of at least 1, comma-separated."""
    return _int_list(text, 1, allow_empty=False)


def name_list(text: str) -> list[str]:
    """At least one name, comma-separated, each once."""
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise argparse.ArgumentTypeError("give at least one method name, comma-separated")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise argparse.ArgumentTypeError(
            f"each name must be given once; repeated: {', '.join(repeated)}"
        )
    return names


# -- checks of the parsed arguments -----------------------------------------------------------
def _check_milestones(args: argparse.Namespace) -> str | None:
    if getattr(args, "milestones", None) is None:
        return None
    beyond = [m for m in args.milestones if m > args.epochs]
    if beyond:
        return (
            f"argument --milestones: {','.join(map(str, beyond))} is beyond --epochs "
            f"{args.epochs} (a milestone is an epoch after which the lr is divided by 10)"
        )
    return None


def _method_problem(method: str, problem: str, options: dict, solver_params: dict) -> str | None:
    from .objectives import make_objective

    try:
        make_objective(problem, method, solver_params=solver_params, method_options=options)
    except (ValueError, TypeError) as exc:
        return str(exc)
    return None


def _check_methods(args: argparse.Namespace) -> str | None:
    """Every method known and usable on the command's problem, with its options."""
    if args.command == "train":
        option, methods = "--method", [args.method]
    elif hasattr(args, "methods"):
        option, methods = "--methods", args.methods
    else:
        return None
    problem, params = "shortest_path", {}
    if getattr(args, "task", None) == "synthetic":
        from ..datasets.synthetic import make_synthetic

        problem = args.problem
        params = make_synthetic(problem, n=1, deg=args.deg[0]).solver_params
    options = {
        key: getattr(args, attr)
        for key, attr in (
            ("sigma", "sigma"),
            ("n_samples", "n_samples"),
            ("noise", "noise"),
            ("lambda_", "lambda_"),
            ("kappa", "kappa"),
            ("tau", "tau"),
        )
        if getattr(args, attr, None) is not None
    }
    for method in methods:
        problem_text = _method_problem(method, problem, options, params)
        if problem_text is not None:
            return f"argument {option}: {problem_text}"
    reference = getattr(args, "reference", None)
    if reference is not None and reference not in methods:
        return f"argument --reference: {reference!r} is not among --methods ({', '.join(methods)})"
    return None


def _check_out(args: argparse.Namespace) -> str | None:
    from .output import folder_problem

    out = getattr(args, "out", None)
    if out is None:
        return None
    if not str(out).strip():
        return "argument --out: must name a folder, got ''"
    # evaluate --out names files (OUT.csv, OUT.json): their folder must be writable
    folder = Path(out).parent if args.command == "evaluate" else Path(out)
    problem = folder_problem(folder)
    return None if problem is None else f"argument --out: {problem}"


def _check_device(args: argparse.Namespace) -> str | None:
    if getattr(args, "device", None) is None:
        return None
    from .warcraft_run import resolve_device

    try:
        resolve_device(args.device)
    except ValueError as exc:
        return f"argument --device: {exc}"
    return None


_CHECKS: tuple[Callable[[argparse.Namespace], str | None], ...] = (
    _check_milestones,
    _check_device,
    _check_methods,
    _check_out,
)


def check_arguments(args: argparse.Namespace) -> str | None:
    """The first problem of the parsed arguments as one line, or ``None``."""
    for check in _CHECKS:
        problem = check(args)
        if problem is not None:
            return problem
    return None


def missing_lab_modules() -> list[str]:
    """The modules of :data:`LAB_MODULES` that cannot be imported."""
    missing = []
    for name in LAB_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    return missing
