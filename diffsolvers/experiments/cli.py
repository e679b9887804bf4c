"""Command-line interface: ``diffsolvers train | compare | evaluate | generate | inspect | demo``.

diffsolvers train warcraft --method fenchel_young --k 12 --epochs 50 --out runs/fy
diffsolvers evaluate warcraft runs/fy runs/bb --data /data/warcraft_shortest_path_oneskin
diffsolvers compare warcraft --methods fenchel_young,blackbox,two_stage --seeds 3
diffsolvers compare synthetic --problem shortest_path_graph --deg 1,2,4,6
diffsolvers generate warcraft --k 18 [--format 2]
diffsolvers inspect warcraft /data/warcraft_shortest_path_oneskin --n 2000 --out fp/
diffsolvers demo            # a short comparison on generated 12x12 maps (~5 min, 2 cores)

A value that makes no sense (zero epochs, a negative σ, an unknown method, an ``--out``
that is a file...) gets one line naming the option and exit code 2, before anything runs
(:mod:`.cli_args`); an error while running (unreadable data, a corrupt checkpoint, a full
disk) one line too: 2 for what the user can correct in the command or the data, 1 for the
machine's file system.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence

from .cli_args import (
    CommandParser,
    check_arguments,
    degree_list,
    missing_lab_modules,
    name_list,
    non_negative_float,
    positive_float,
    positive_int,
    seed,
)
from .cli_inspect import add_inspect, run_inspect
from .cli_options import add_threads, add_warcraft_options, show_defaults, warcraft_config

__all__ = ["main", "build_parser"]

DEMO_METHODS = "fenchel_young,blackbox,two_stage"


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__
    from ..datasets.synthetic import SYNTHETIC_PROBLEMS

    parser = CommandParser(
        prog="diffsolvers", description="Differentiable combinatorial solvers: experiments."
    )
    parser.add_argument("--version", action="version", version=f"diffsolvers {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train one method end to end")
    train_sub = train.add_subparsers(dest="task", required=True)
    tw = train_sub.add_parser("warcraft", help="Warcraft shortest-path maps")
    tw.add_argument("--method", default="fenchel_young")
    tw.add_argument("--seed", type=seed, default=0, help="from 0 to 2**63 - 1")
    tw.add_argument("--out", default=None, help="output folder (default runs/warcraft<k>/METHOD)")
    tw.add_argument("--resume", action="store_true", help="continue the run in --out")
    add_warcraft_options(tw, epochs=50)

    compare = sub.add_parser("compare", help="train several methods on the same data")
    compare_sub = compare.add_subparsers(dest="task", required=True)
    cw = compare_sub.add_parser("warcraft", help="Warcraft shortest-path maps")
    cw.add_argument(
        "--methods",
        type=name_list,
        default=name_list(
            "fenchel_young,fenchel_young_multiplicative,blackbox,identity,spo_plus,imle,two_stage"
        ),
    )
    cw.add_argument("--seeds", type=positive_int, default=3, help="number of seeds (0, 1, ...)")
    cw.add_argument(
        "--jobs",
        type=positive_int,
        default=1,
        help="runs trained at once, one process each (e.g. on a GPU)",
    )
    cw.add_argument("--out", default=None, help="output folder (default runs/compare_warcraft<k>)")
    cw.add_argument(
        "--reference",
        default=None,
        metavar="METHOD",
        help="also print each method's test results minus METHOD's, paired by seed (mean ± sd, "
        "95%% t-interval, seeds at or above; default: none)",
    )
    add_warcraft_options(cw, epochs=50)

    cs = compare_sub.add_parser("synthetic", help="linear models on a synthetic problem")
    cs.add_argument("--problem", default="shortest_path_graph", choices=sorted(SYNTHETIC_PROBLEMS))
    cs.add_argument(
        "--deg", type=degree_list, default=[1, 2, 4, 6], help="polynomial degrees, at least 1"
    )
    cs.add_argument(
        "--methods", type=name_list, default=name_list("fenchel_young,spo_plus,blackbox,two_stage")
    )
    cs.add_argument("--seeds", type=positive_int, default=3, help="number of seeds (0, 1, ...)")
    cs.add_argument("--n-train", type=positive_int, default=1000)
    cs.add_argument("--n-test", type=positive_int, default=1000)
    cs.add_argument("--epochs", type=positive_int, default=10)
    cs.add_argument("--noise-width", type=non_negative_float, default=0.5)
    cs.add_argument("--sigma", type=positive_float, default=1.0)
    cs.add_argument("--n-samples", type=positive_int, default=10)
    cs.add_argument("--lambda", dest="lambda_", type=positive_float, default=10.0)
    cs.add_argument(
        "--two-stage-fit",
        choices=["least_squares", "gradient"],
        default="least_squares",
        help="two_stage: closed-form least squares, or Adam on the squared error for --epochs",
    )
    cs.add_argument("--out", default=None, help="output folder (default runs/compare_<problem>)")
    add_threads(cs)
    cs.add_argument(
        "--reference",
        default=None,
        metavar="METHOD",
        help="also print each method's regret minus METHOD's per degree, paired by seed "
        "(default: none)",
    )

    ev = sub.add_parser(
        "evaluate", help="evaluate saved runs again (other data, other split); cost per class"
    )
    ev_sub = ev.add_subparsers(dest="task", required=True)
    ew = ev_sub.add_parser(
        "warcraft",
        help="Warcraft runs",
        description="Load each run's checkpoint, predict the costs of one split and print "
        "the path metrics and, per terrain class, the predicted cost relative to the "
        "cheapest class (mean ± sd over cells).",
    )
    ew.add_argument("runs", nargs="+", help="run folders (each with checkpoint.pt)")
    ew.add_argument(
        "--data",
        default=None,
        help="Warcraft data to evaluate on (root or size folder); default: each run's own",
    )
    ew.add_argument("--split", default="test", choices=("train", "val", "test"))
    ew.add_argument(
        "--n",
        type=positive_int,
        default=None,
        help="only the first N maps of the split (default: all)",
    )
    ew.add_argument(
        "--cells",
        default="all",
        choices=("all", "path", "off-path"),
        help="cells the cost profile covers: all, those on the true paths, or the others",
    )
    ew.add_argument("--out", default=None, help="write OUT.csv and OUT.json (default: none)")
    ew.add_argument(
        "--labels",
        default="check",
        choices=("check", "report"),
        help="labels that are not optimal paths: refuse the data (check) or warn and go on "
        "(report)",
    )
    add_threads(ew)

    gen = sub.add_parser("generate", help="generate Warcraft maps in the real on-disk format")
    gen_sub = gen.add_subparsers(dest="task", required=True)
    gw = gen_sub.add_parser("warcraft")
    gw.add_argument("--k", type=int, default=12, choices=(12, 18, 24, 30))
    gw.add_argument(
        "--out",
        default=None,
        help="root folder (default: where training looks for the format: under "
        "datasets/generated/ or $DIFFSOLVERS_DATA, format3/warcraft_shortest_path_oneskin "
        "for format 3, warcraft_shortest_path_oneskin for format 2)",
    )
    gw.add_argument("--n-train", type=positive_int, default=10_000)
    gw.add_argument("--n-val", type=positive_int, default=1_000)
    gw.add_argument("--n-test", type=positive_int, default=1_000)
    gw.add_argument("--seed", type=seed, default=0, help="from 0 to 2**63 - 1")
    gw.add_argument(
        "--format",
        type=int,
        default=3,
        choices=(2, 3),
        help="generator format: 3 (default) matches the real maps' fingerprint; 2 makes the "
        "maps of the earlier results again (default folder: the format's own)",
    )
    gw.add_argument(
        "--overwrite", action="store_true", help="replace the maps of this size already there"
    )
    add_inspect(sub)

    demo = sub.add_parser(
        "demo", help="short Warcraft comparison on generated 12x12 maps (about 5 min on 2 cores)"
    )
    demo.add_argument("--methods", type=name_list, default=name_list(DEMO_METHODS))
    demo.add_argument("--epochs", type=positive_int, default=6)
    demo.add_argument("--n-train", type=positive_int, default=4000)
    demo.add_argument("--out", default="runs/demo")
    add_threads(demo)
    show_defaults(parser)
    return parser


def _default_out(args: argparse.Namespace) -> str | None:
    """Where a command writes when ``--out`` is not given."""
    if args.command == "train":
        return f"runs/warcraft{args.k}/{args.method}"
    if args.command == "compare" and args.task == "warcraft":
        return f"runs/compare_warcraft{args.k}"
    if args.command == "compare":
        return f"runs/compare_{args.problem}"
    return None


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings of the lab as one line (``diffsolvers: warning: ...``)."""
    print(f"diffsolvers: warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); returns the exit code.

    Mistakes in the arguments exit through argparse (code 2) with one line naming the
    option; errors while running print one line and return 2 (the command or the data
    can be corrected) or 1 (the file system failed: disk full, read-only...; or, under
    torchrun, another process of the job failed). Under torchrun an error that rank 0
    found for every rank is printed by rank 0 alone, other lines name their rank."""
    parser = build_parser()
    args = parser.parse_args(argv)
    missing = missing_lab_modules()
    if missing:
        print(
            "diffsolvers: error: the diffsolvers command needs the lab's extras (missing: "
            f"{', '.join(missing)}): pip install 'diffsolvers[lab]'",
            file=sys.stderr,
        )
        return 1
    if getattr(args, "out", None) is None:
        args.out = _default_out(args)
    problem = check_arguments(args)
    if problem is not None:
        parser.error(problem)
    from .distributed import launched

    try:
        world = launched()
    except ValueError as exc:
        print(f"diffsolvers: error: {exc}", file=sys.stderr)
        return 2
    problem = _distributed_problem(args, world.size)
    if problem is not None:
        parser.error(problem)
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        try:
            code = _run(args)
        except KeyboardInterrupt:
            return 130
        except Exception as exc:  # noqa: BLE001 - sorted into known errors below
            code, message = _error(exc, world)
            if message is not None:
                print(f"diffsolvers: error: {message}", file=sys.stderr)
            return code  # a failed job's process group is left to the process's exit
        _leave_process_group()
        return code


def _distributed_problem(args: argparse.Namespace, processes: int) -> str | None:
    """What cannot run on the ``processes`` processes of a torchrun job, or ``None``."""
    if processes == 1:
        return None
    warcraft = args.command in ("train", "compare") and args.task == "warcraft"
    if not (warcraft or args.command == "demo"):
        name = " ".join(filter(None, (args.command, getattr(args, "task", None))))
        return (
            f"`diffsolvers {name}` runs in one process: start it without torchrun (train "
            "warcraft, compare warcraft and demo run distributed)"
        )
    if getattr(args, "jobs", 1) > 1:
        return (
            f"argument --jobs: under torchrun every run already trains on the job's "
            f"{processes} processes, one run after the other; --jobs {args.jobs} would "
            "start more processes per rank: use --jobs 1, or --jobs without torchrun"
        )
    return None


def _error(exc: Exception, world) -> tuple[int, str | None]:
    """The exit code of an error while running and its line (``None``: say nothing)."""
    from ..datasets.warcraft import WarcraftDataError
    from .distributed import CollectiveFailure, FailedOnMain, describe_failure
    from .output import OutputError
    from .runner import RunInUse
    from .warcraft_run import CorruptCheckpoint, RunAlreadyExists

    if isinstance(exc, FailedOnMain):  # rank 0 prints it
        return _error(exc.error, world)[0], None
    prefix = f"{world}: " if world.active else ""
    if isinstance(exc, OutputError):
        return 1, f"{prefix}{exc}"
    if isinstance(
        exc,
        (
            RunAlreadyExists,
            RunInUse,
            CorruptCheckpoint,
            WarcraftDataError,
            FileNotFoundError,
            ValueError,
        ),
    ):
        return 2, f"{prefix}{exc}"
    if isinstance(exc, OSError):  # reading or writing where the system refuses
        where = f"{exc.filename}: " if exc.filename else ""
        return 1, f"{prefix}{where}{exc.strerror or exc}"
    if isinstance(exc, CollectiveFailure) or (world.active and isinstance(exc, RuntimeError)):
        return 1, describe_failure(exc, world)
    raise exc


def _leave_process_group() -> None:
    """Leave the process group a distributed command joined (none: nothing to do)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def _run(args: argparse.Namespace) -> int:
    if args.command == "train":
        from .warcraft import train_warcraft

        config = warcraft_config(args, args.method, args.seed)
        train_warcraft(config, args.out, resume=args.resume)
        return 0
    if args.command == "compare" and args.task == "warcraft":
        from .compare import compare_warcraft

        base = warcraft_config(args, args.methods[0], 0)
        out = args.out
        seeds = list(range(args.seeds))
        compare_warcraft(args.methods, seeds, out, base, jobs=args.jobs, reference=args.reference)
        return 0
    if args.command == "compare" and args.task == "synthetic":
        from .compare_synthetic import compare_synthetic
        from .synthetic import SyntheticConfig

        base = SyntheticConfig(
            problem=args.problem,
            n_train=args.n_train,
            n_test=args.n_test,
            epochs=args.epochs,
            noise_width=args.noise_width,
            two_stage_fit=args.two_stage_fit,
            method_options={
                "sigma": args.sigma,
                "n_samples": args.n_samples,
                "lambda_": args.lambda_,
            },
        )
        from .runner import set_threads

        set_threads(args.threads)
        out = args.out
        seeds = list(range(args.seeds))
        compare_synthetic(
            args.problem, args.methods, args.deg, seeds, out, base, reference=args.reference
        )
        return 0
    if args.command == "evaluate":
        from .evaluate import evaluate_runs

        evaluate_runs(
            args.runs,
            data=args.data,
            split=args.split,
            n=args.n,
            cells=args.cells,
            out=args.out,
            threads=args.threads,
            labels=args.labels,
        )
        return 0
    if args.command == "generate":
        from pathlib import Path

        from ..datasets.generator import default_data_root, generate_warcraft

        root = Path(args.out) if args.out else default_data_root(args.format)
        target = root / f"{args.k}x{args.k}"
        if target.exists() and not args.overwrite:
            raise ValueError(
                f"{target} already exists; add --overwrite to replace it (training reuses "
                "the maps there as they are)"
            )
        path = generate_warcraft(
            root,
            k=args.k,
            n_train=args.n_train,
            n_val=args.n_val,
            n_test=args.n_test,
            seed=args.seed,
            format=args.format,
            overwrite=args.overwrite,
        )
        print(f"wrote {path}")
        return 0
    if args.command == "inspect":
        return run_inspect(args)
    if args.command == "demo":
        from .compare import compare_warcraft
        from .warcraft_run import WarcraftConfig

        base = WarcraftConfig(
            epochs=args.epochs,
            milestones=(max(1, args.epochs - 1),),
            n_train=args.n_train,
            n_val=500,
            n_test=1000,
            threads=args.threads,
        )
        compare_warcraft(args.methods, [0], args.out, base)
        return 0
    raise AssertionError(f"unhandled command {args.command}")  # argparse rejects the rest


if __name__ == "__main__":
    sys.exit(main())
