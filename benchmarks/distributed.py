"""Warcraft training throughput on one and two processes of this machine (torchrun, gloo).

    python benchmarks/distributed.py [--runs 3] [--maps 280] [--epochs 3] [--batch 70]
                                     [--method fenchel_young] [--k 12] [--data DIR]

Each run launches ``diffsolvers train warcraft`` four times under ``python -m
torch.distributed.run --standalone``, in turn (so that drifting background load hits the
settings alike):

* ``1 process``: ``--nproc_per_node 1``, batch B, all the process's cores (the default
  thread budget); ``1 process, 1 thread``: the same with ``--threads 1`` (what each of
  two processes gets on two cores);
* ``2 processes, B each``: ``--nproc_per_node 2 --batch-size B`` (global batch 2B: the
  default, weak scaling), C/2 threads each;
* ``2 processes, B in all``: ``--nproc_per_node 2 --global-batch B`` (the same run as one
  process, strong scaling).

Figures, from each job's ``metrics.json``: maps per second = training maps / mean epoch
time over the epochs after the first (the first loads Numba's cache and warms oneDNN; the
epoch time covers the training steps, not validation), min / median / max over the runs;
the ratios to one process (default threads, and one thread), the medians of the per-run
ratios (paired in time); each rank's
solver share (time inside the objective's solver calls / its epoch time, all epochs); the
job's wall time, launch and data loading included. Maps are generated into a temporary
folder (format 3, ``--maps`` train, 70 validation and test maps) unless ``--data`` is given.
Machine load (``/proc/loadavg``) is printed before and after: on a shared machine the
figures are those of the moment, not of the code alone.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(_HERE)
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
sys.path.insert(0, ROOT)
sys.path.append(_HERE)

from _timing import print_table  # noqa: E402

#: label -> (processes, batch option, --threads or None for the default budget)
SETTINGS = {
    "1 process": (1, "--batch-size", None),
    "1 process, 1 thread": (1, "--batch-size", 1),
    "2 processes, B each": (2, "--batch-size", None),
    "2 processes, B in all": (2, "--global-batch", None),
}


def _load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def run_job(label: str, args: argparse.Namespace, data: str, out: Path) -> dict:
    """One training job of ``label``; its figures (module doc)."""
    processes, batch_option, threads = SETTINGS[label]
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += ["--nproc_per_node", str(processes), "-m", "diffsolvers", "train", "warcraft"]
    command += ["--data", data, "--k", str(args.k), "--method", args.method]
    command += ["--n-train", str(args.maps), "--n-val", "70", "--n-test", "70"]
    command += ["--epochs", str(args.epochs), "--milestones", str(args.epochs)]
    command += [batch_option, str(args.batch), "--no-progress", "--out", str(out)]
    if threads is not None:
        command += ["--threads", str(threads)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_", "OMP_"))}
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{label} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    results = json.loads((out / "metrics.json").read_text())
    later = [r["epoch_seconds"] for r in results["history"][1:]] or [
        r["epoch_seconds"] for r in results["history"]
    ]
    return {
        "maps_per_second": args.maps / statistics.mean(later),
        "solver_shares": [
            r["solver_seconds"] / max(r["epoch_seconds"], 1e-12) for r in results["ranks"]
        ],
        "threads": [r["threads"] for r in results["ranks"]],
        "global_batch": results["global_batch"],
        "wall": wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--maps", type=int, default=280, help="training maps per epoch")
    parser.add_argument("--epochs", type=int, default=3, help="at least 2 (the first is warm-up)")
    parser.add_argument("--batch", type=int, default=70, help="B (module doc)")
    parser.add_argument("--method", default="fenchel_young")
    parser.add_argument("--k", type=int, default=12, choices=(12, 18, 24, 30))
    parser.add_argument("--data", default=None, help="Warcraft data (default: generated)")
    args = parser.parse_args()
    if args.epochs < 2 or args.runs < 1:
        parser.error("--epochs must be at least 2 and --runs at least 1")

    import torch

    from diffsolvers.datasets.generator import generate_warcraft
    from solvers import runtime

    print(f"machine: {_cpu()}, {runtime.usable_cores()} usable cores, torch {torch.__version__}")
    print(f"load average before: {_load()}")
    started = time.perf_counter()
    measured: dict[str, list[dict]] = {label: [] for label in SETTINGS}
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data
        if data is None:
            data = str(Path(tmp) / "data")
            generate_warcraft(
                data, k=args.k, n_train=args.maps, n_val=70, n_test=70, seed=0, progress=False
            )
        for run in range(args.runs):
            for label in SETTINGS:
                out = Path(tmp) / f"run{run}" / label.replace(" ", "_").replace(",", "")
                figures = run_job(label, args, data, out)
                measured[label].append(figures)
                print(
                    f"run {run + 1}/{args.runs} {label}: {figures['maps_per_second']:.1f} "
                    f"maps/s, job {figures['wall']:.0f} s (load {_load()})",
                    flush=True,
                )
    print(f"load average after: {_load()}; wall time {time.perf_counter() - started:.0f} s")
    base = [f["maps_per_second"] for f in measured["1 process"]]
    single = [f["maps_per_second"] for f in measured["1 process, 1 thread"]]
    rows = []
    for label, runs in measured.items():
        speeds = [f["maps_per_second"] for f in runs]
        ratios = [s / b for s, b in zip(speeds, base)]
        ratios_single = [s / b for s, b in zip(speeds, single)]
        shares = [
            statistics.median(f["solver_shares"][r] for f in runs)
            for r in range(len(runs[0]["solver_shares"]))
        ]
        rows.append(
            [
                label,
                runs[0]["global_batch"],
                "/".join(map(str, runs[0]["threads"])),
                min(speeds),
                statistics.median(speeds),
                max(speeds),
                f"{statistics.median(ratios):.2f}",
                f"{statistics.median(ratios_single):.2f}",
                " / ".join(f"{100 * s:.1f}" for s in shares),
                statistics.median(f["wall"] for f in runs),
            ]
        )
    print_table(
        f"Warcraft {args.k}x{args.k}, {args.method}, {args.maps} training maps, B = {args.batch}, "
        f"{args.runs} runs (epochs 2-{args.epochs} timed)",
        [
            "setting",
            "global batch",
            "threads per rank",
            "maps/s min",
            "median",
            "max",
            "× 1 process",
            "× 1 process, 1 thread",
            "solver % per rank",
            "job wall s",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
