"""The defaults on a quiet machine against an older checkout: the 12×12 grid Dijkstra at
B = 70 through ``solve`` and the Warcraft CNN's training step, in alternating fresh
processes.

    git worktree add /tmp/before 9ee09a9       # the last commit before the runtime
    python -m benchmarks.idle_check --before /tmp/before [--rounds 8]

Each round starts one process per checkout, in turn (so that drifting background work
hits both alike). A process measures, with that checkout's code and defaults:

* solver: ``solvers.get("shortest_path").solve`` on B = 70 Warcraft cost grids (input checks
  included, as training calls it), µs per instance, median of 15 slices of 0.2 s;
* CNN step (B = 70, forward, backward, Adam; ``WarcraftCNN`` from wherever that checkout
  keeps it), ms per step, median of 12 steps after 2 warm-up steps; this checkout first
  applies the thread budget the training commands apply (``apply_thread_budget()``).

Prints each round, the medians over rounds, their ratio, and the load average: run it
with nothing else running, since "within 10% of before" is a claim about a quiet machine.
Without ``--before`` only this checkout is measured.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
B = 70

_WORKER = """
import json, sys, time
sys.path.insert(0, {root!r})
import numpy as np, torch, solvers
try:
    from diffsolvers.experiments.models import WarcraftCNN
    from diffsolvers.threads import apply_thread_budget
    apply_thread_budget()
except ImportError:  # a checkout from before the lab and the thread budget
    from diffsolvers.models import WarcraftCNN
rng = np.random.default_rng(0)
theta = -rng.choice([0.8, 1.2, 5.3, 7.7, 9.2], size=({b}, 12, 12))
solve = solvers.get("shortest_path").solve
for _ in range(200):
    solve(theta)
slices = []
for _ in range(15):
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < 0.2:
        solve(theta)
        calls += 1
    slices.append((time.perf_counter() - start) / (calls * {b}) * 1e6)
torch.manual_seed(0)
model = WarcraftCNN(12, channels_last=True)
optimizer = torch.optim.Adam(model.parameters(), lr=5e-4)
images = torch.randn({b}, 3, 96, 96)
steps = []
for i in range(14):
    start = time.perf_counter()
    loss = model(images).square().mean()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    if i >= 2:
        steps.append((time.perf_counter() - start) * 1e3)
print(json.dumps({{"solve_us": sorted(slices)[7], "step_ms": sorted(steps)[6],
                  "threads": torch.get_num_threads()}}))
"""


def _load() -> str:
    with open("/proc/loadavg") as fh:
        return " ".join(fh.read().split()[:3])


def measure(root: Path) -> dict:
    """One fresh process with ``root``'s code: its solve and CNN-step figures."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    out = subprocess.run(
        [sys.executable, "-c", _WORKER.format(root=str(root), b=B)],
        cwd="/",
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, help="an older checkout to compare with")
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be >= 1")
    if args.before is not None and not (args.before / "solvers").is_dir():
        parser.error(f"--before {args.before}: not a checkout of this project (no solvers/)")
    checkouts = {"now": HERE} | ({} if args.before is None else {"before": args.before})
    print(f"load average before: {_load()}")
    results: dict[str, list[dict]] = {name: [] for name in checkouts}
    for r in range(args.rounds):
        names = list(checkouts)
        for name in names[r % len(names) :] + names[: r % len(names)]:
            got = measure(checkouts[name])
            results[name].append(got)
            print(
                f"round {r + 1} {name:6s} solve {got['solve_us']:.3f} µs/instance, "
                f"CNN step {got['step_ms']:.1f} ms ({got['threads']} torch threads)"
            )
    print(f"\n## Medians over {args.rounds} rounds (B = {B})")
    medians = {
        name: (
            statistics.median(g["solve_us"] for g in got),
            statistics.median(g["step_ms"] for g in got),
        )
        for name, got in results.items()
    }
    for name, (solve_us, step_ms) in medians.items():
        print(
            f"{name:6s} grid Dijkstra 12x12 {solve_us:.3f} µs per instance, CNN step "
            f"{step_ms:.1f} ms"
        )
    if "before" in medians:
        (s_now, c_now), (s_old, c_old) = medians["now"], medians["before"]
        print(f"now / before: solve {s_now / s_old:.3f}, CNN step {c_now / c_old:.3f}")
    print(f"load average after: {_load()}")


if __name__ == "__main__":
    main()
