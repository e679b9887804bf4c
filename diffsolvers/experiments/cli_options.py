"""The options several commands share, and what they become: a run's configuration.

:func:`add_warcraft_options` adds the options of a Warcraft training run (grid, epochs,
optimiser, data, method options...) to ``train warcraft`` and ``compare warcraft``;
:func:`warcraft_config` turns the parsed options into a
:class:`~.warcraft_run.WarcraftConfig`; :func:`show_defaults` appends each option's
default to its help.

Example::

    parser = argparse.ArgumentParser()
    add_warcraft_options(parser, epochs=50)
    config = warcraft_config(parser.parse_args(["--epochs", "5"]), "blackbox", seed=0)
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .cli_args import milestone_list, positive_float, positive_int

__all__ = ["add_threads", "add_warcraft_options", "show_defaults", "warcraft_config"]


def show_defaults(parser: argparse.ArgumentParser) -> None:
    """Append ``(default: …)`` to every option of ``parser`` and its subcommands whose help
    does not state its default already (lists shown comma-separated, as typed)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                show_defaults(sub)
            continue
        default = action.default
        if (
            not action.option_strings
            or default is None
            or default is False
            or default == argparse.SUPPRESS
        ):
            continue
        if action.help and "default" in action.help:
            continue
        if isinstance(default, (list, tuple)):
            default = ",".join(str(d) for d in default)
        shown = f"default: {default}".replace("%", "%%")
        action.help = f"{action.help} ({shown})" if action.help else shown


def add_threads(p: argparse.ArgumentParser) -> None:
    """``--threads``: torch's and Numba's thread count."""
    p.add_argument(
        "--threads",
        type=positive_int,
        default=None,
        help="torch and Numba threads (default: all cores; 1 on a busy, shared machine: "
        "README, Threads)",
    )


def add_warcraft_options(p: argparse.ArgumentParser, epochs: int) -> None:
    """The options of a Warcraft training run (``epochs``: the default number of epochs)."""
    p.add_argument("--k", type=int, default=12, choices=(12, 18, 24, 30), help="grid size")
    p.add_argument("--epochs", type=positive_int, default=epochs)
    p.add_argument("--batch-size", type=positive_int, default=70)
    p.add_argument("--lr", type=positive_float, default=5e-4)
    p.add_argument(
        "--milestones",
        type=milestone_list,
        default=None,
        help="epochs after which the lr is divided by 10, from 1 to --epochs; an empty "
        "list keeps the lr (default: 30,40 scaled to --epochs)",
    )
    p.add_argument(
        "--data",
        default=None,
        help="root of the real data set (warcraft_shortest_path_oneskin/ or a size folder); "
        "default: maps generated into datasets/generated/ on first use",
    )
    for split in ("train", "val", "test"):
        p.add_argument(
            f"--n-{split}",
            type=positive_int,
            default=None,
            help=f"use only the first N {split} maps (default: all)",
        )
    p.add_argument(
        "--labels",
        default="check",
        choices=("check", "report"),
        help="labels that are not optimal paths: refuse the data (check) or warn and go on "
        "(report)",
    )
    p.add_argument(
        "--sigma",
        type=positive_float,
        default=0.1,
        help="perturbation size ε (default 0.1, Berthet et al.'s; on the generated maps "
        "with --augment, 0.001 reached 95.4 ± 0.4%% (three seeds) against 92.2%% for "
        "0.1: README, Results)",
    )
    p.add_argument("--n-samples", type=positive_int, default=3, help="perturbation samples M")
    p.add_argument("--noise", default="normal", choices=("normal", "gumbel"))
    p.add_argument(
        "--lambda", dest="lambda_", type=positive_float, default=20.0, help="blackbox/I-MLE λ"
    )
    p.add_argument(
        "--kappa",
        type=positive_float,
        default=None,
        help="I-MLE Sum-of-Gamma κ (default: k, about the number of cells on a path)",
    )
    p.add_argument(
        "--tau",
        type=positive_float,
        default=0.3,
        help="I-MLE noise temperature τ (default 0.3; on the generated maps with --augment, "
        "0.003 reached 94.9 ± 1.0%% (three seeds) against 91.2%% for 0.3: README, Results)",
    )
    p.add_argument(
        "--projection",
        default="none",
        choices=("none", "normalize", "mean", "mean_normalize"),
        help="identity: projection of the predicted scores before the solve (Sahoo et al.)",
    )
    p.add_argument(
        "--augment",
        action="store_true",
        help="train on random end-preserving symmetries of the maps (transpose, 180° "
        "rotation; paths re-solved)",
    )
    p.add_argument(
        "--ties",
        default="reference",
        choices=("reference", "random"),
        help="which optimal path a training label is on maps with several: the stored one "
        "(the reference Dijkstra's tie-breaking, default) or one drawn at random",
    )
    add_threads(p)
    p.add_argument(
        "--device",
        default="cpu",
        help="where the CNN runs: cpu, cuda, cuda:N or auto (solvers always run on the CPU)",
    )
    p.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bars (the per-epoch lines and results are still printed)",
    )


def _milestones(args: argparse.Namespace) -> tuple[int, ...]:
    """``--milestones``, or the literature's 30 and 40 of 50 epochs scaled to ``--epochs``."""
    if args.milestones is not None:
        return tuple(args.milestones)
    return tuple(sorted({max(1, round(args.epochs * 0.6)), max(1, round(args.epochs * 0.8))}))


def warcraft_config(args: argparse.Namespace, method: str, seed: int):
    """The configuration of one run of ``method`` with ``seed`` from the parsed options."""
    from .warcraft_run import WarcraftConfig

    options = {
        "sigma": args.sigma,
        "n_samples": args.n_samples,
        "noise": args.noise,
        "lambda_": args.lambda_,
        "kappa": float(args.k) if args.kappa is None else args.kappa,
        "tau": args.tau,
    }
    if args.projection != "none":  # absent by default: runs saved without it still match
        options["projection"] = args.projection
    return WarcraftConfig(
        method=method,
        k=args.k,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        milestones=_milestones(args),
        seed=seed,
        data=_resolved(args.data),
        n_train=args.n_train,
        n_val=args.n_val,
        n_test=args.n_test,
        method_options=options,
        threads=args.threads,
        progress=not args.no_progress,
        augment=args.augment,
        ties=args.ties,
        labels=args.labels,
        device=args.device,
    )


def _resolved(path: str | None) -> str | None:
    """``path`` made absolute (saved with a run, it must mean the same from anywhere)."""
    return None if path is None else str(Path(path).expanduser().resolve())
