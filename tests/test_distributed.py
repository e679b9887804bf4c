"""Distributed training under torchrun: 2 processes on this machine, gloo over loopback.

Each job runs in a fresh process group started by ``python -m torch.distributed.run
--standalone`` and bounded by a timeout (a hang fails the test and its processes are
killed). The runs train on the committed sample (40 / 9 / 10 maps, global batch 15: the
parts of a batch and of the validation split differ in size).

* One process and two with the same global batch predict the same path on every
  validation and test map and give the same validation and test metrics, to 1e-9 (float64
  sums in another order), for blackbox, whose solver call in the backward pass sees each
  map's own incoming gradient. Not bit-identical: the gradients and the BatchNorm
  statistics are summed over processes in another order, convolutions run on smaller
  batches; after Adam, which turns near-zero gradients into ±lr steps, the parameters
  differ by up to a few lr (checked: under 6 lr after 6 steps). The perturbed methods draw
  their noise per process, so they are another sample of the same training, not compared.
* A rank killed in epoch 2 ends the job within seconds with torchrun's report of rank 1's
  SIGKILL; the checkpoint keeps epoch 1. Resumed on 2 processes, the run ends
  bit-identical to an uninterrupted one (trained here by ``compare``; with -m slow, the
  same for Fenchel-Young, whose noise is drawn per rank).
* The thread budget is applied per rank: usable cores / 2 each (at least 1).
* With -m slow: a hung rank, an error on one rank, two torchrun agents as two machines,
  machines with different data, a problem in the run folder, the global BatchNorm alone.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numba
import pytest
import torch
from warcraft_cases import SAMPLE, TINY

import solvers
from diffsolvers.experiments.cli import main as cli_main
from diffsolvers.experiments.distributed import World, describe_failure, shard
from diffsolvers.experiments.models import WarcraftCNN
from diffsolvers.experiments.warcraft_data import split_tensors
from diffsolvers.experiments.warcraft_metrics import (
    evaluate,
    metrics_from_sums,
    path_metric_sums,
    path_metrics,
)
from diffsolvers.experiments.warcraft_run import (
    check_config,
    config_mismatch,
    resolve_batch,
)
from solvers import runtime

ROOT = Path(__file__).resolve().parents[1]
WORKER = Path(__file__).with_name("distributed_worker.py")
#: Every job here: the sample, global batch 15 (steps of 15, 15 and 10 maps: parts of 8/7,
#: 8/7 and 5/5), 9 validation maps (parts of 5 and 4), two epochs.
RUN = ["warcraft", "--data", SAMPLE, "--n-train", "40", "--n-val", "9", "--n-test", "10"]
RUN += ["--epochs", "2", "--milestones", "2", "--no-progress", "--dist-timeout", "60"]
JOB_TIMEOUT = 300.0
METRICS = ("val_optimal", "val_exact", "val_regret", "val_normalized_regret", "val_cell_acc")


def torchrun(args: list[str], fault: str | None = None, processes: int = 2) -> dict:
    """Run ``diffsolvers ARGS`` on ``processes`` processes under torchrun; its exit code,
    output and wall time (``pytest.fail`` if it hangs past :data:`JOB_TIMEOUT`)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_", "OMP_"))}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("DIFFSOLVERS_TEST_FAULT", None)
    if fault is not None:
        env["DIFFSOLVERS_TEST_FAULT"] = fault
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += ["--nproc_per_node", str(processes), str(WORKER), *map(str, args)]
    start = time.time()
    job = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: killed whole on a hang
    )
    try:
        out, _ = job.communicate(timeout=JOB_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(job.pid, signal.SIGKILL)
        out, _ = job.communicate()
        pytest.fail(f"the job hung for more than {JOB_TIMEOUT} s; its output:\n{out}")
    end = time.time()
    return {"code": job.returncode, "out": out, "end": end, "seconds": end - start, "pgid": job.pid}


def two_machines(args: list[list[str]], rendezvous: str = "static") -> list[dict]:
    """Two torchrun agents on this machine as two machines of one job (``--nnodes 2``, one
    process each, agent i running ``diffsolvers ARGS[i]``) meeting on a free loopback port:
    ``static``, node ranks 0 and 1 given (``--node-rank``); ``c10d``, ranks assigned by the
    rendezvous (``--rdzv-backend c10d --rdzv-id``, the README's command). Their exit codes
    and outputs."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_", "OMP_"))}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    agents = []
    for node, argv in enumerate(args):
        command = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2"]
        if rendezvous == "static":
            command += ["--node-rank", str(node)]
        else:
            command += ["--rdzv-backend", "c10d", "--rdzv-id", "test"]
        command += ["--nproc_per_node", "1", "--rdzv-endpoint", f"127.0.0.1:{port}"]
        command += [str(WORKER), *map(str, argv)]
        agents.append(
            subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
            )
        )
    done = []
    deadline = time.time() + JOB_TIMEOUT
    for agent in agents:
        try:
            out, _ = agent.communicate(timeout=max(1.0, deadline - time.time()))
        except subprocess.TimeoutExpired:
            for other in agents:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(other.pid, signal.SIGKILL)
            pytest.fail(f"the two-machine job hung for more than {JOB_TIMEOUT} s")
        done.append({"code": agent.returncode, "out": out})
    return done


def history(run: Path) -> list[dict]:
    return json.loads((run / "metrics.json").read_text())["history"]


def _no_process_left(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


#: blackbox with augmentation and random ties: every random draw of a batch is exercised.
BLACKBOX = ["--method", "blackbox", "--augment", "--ties", "random"]


def killed_and_resumed(tmp: Path, argv: list[str]) -> dict:
    """``train ARGV`` on two processes, rank 1 killed as epoch 2's second step begins,
    then resumed; both jobs, and the checkpoint the first left."""
    train = ["train", *RUN, *argv, "--global-batch", "15", "--out", tmp / "resumed"]
    killed = torchrun(train, fault="rank=1,call=5,how=kill")  # epoch 2, step 2 of 3
    saved = torch.load(tmp / "resumed" / "checkpoint.pt", weights_only=False)
    resumed = torchrun([*train, "--resume"])
    assert resumed["code"] == 0, resumed["out"]
    return {"killed": killed, "saved": saved, "resumed": tmp / "resumed", "resumed_job": resumed}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """blackbox on the same global batch of 15: one process (``train --batch-size 15`` in
    this process); two processes uninterrupted (``compare --global-batch 15``); two
    processes killed in epoch 2 and resumed (``train --global-batch 15``)."""
    tmp = tmp_path_factory.mktemp("blackbox")
    before = torch.get_num_threads(), numba.get_num_threads()
    try:
        argv = ["train", *RUN, *BLACKBOX, "--batch-size", "15", "--out", str(tmp / "one")]
        assert cli_main(argv) == 0
    finally:
        torch.set_num_threads(before[0])
        runtime.set_threads(None)
        numba.set_num_threads(before[1])
    compare = ["compare", *RUN, *BLACKBOX, "--methods", "blackbox", "--seeds", "1"]
    straight = torchrun([*compare, "--global-batch", "15", "--out", tmp / "cmp"])
    assert straight["code"] == 0, straight["out"]
    return {
        "one": tmp / "one",
        "compare": tmp / "cmp",
        "compare_job": straight,
        "straight": tmp / "cmp" / "blackbox" / "seed0",
        **killed_and_resumed(tmp, BLACKBOX),
    }


def assert_same_run(resumed: Path, straight: Path) -> None:
    """Bit-identical histories (less the timings), weights and test metrics."""
    kept = ("epoch", "train_loss", "lr", *METRICS)
    assert [{k: r[k] for k in kept} for r in history(resumed)] == [
        {k: r[k] for k in kept} for r in history(straight)
    ]
    a = torch.load(resumed / "checkpoint.pt", weights_only=False)["model"]
    b = torch.load(straight / "checkpoint.pt", weights_only=False)["model"]
    assert all(torch.equal(a[key], b[key]) for key in b)
    results = [json.loads((r / "metrics.json").read_text())["test"] for r in (resumed, straight)]
    assert results[0] == results[1]


def predicted_paths(run: Path) -> dict[str, torch.Tensor]:
    """The paths the run's saved model predicts on its validation and test maps."""
    state = torch.load(run / "checkpoint.pt", weights_only=False)
    config = json.loads((run / "config.json").read_text())
    model = WarcraftCNN(config["k"], channels_last=config["channels_last"])
    model.load_state_dict(state["model"])
    out = {}
    for split in ("val", "test"):
        limit = config[f"n_{split}"]
        maps = split_tensors(SAMPLE, config["k"], split, limit, state["normalization"])
        out[split] = evaluate(model, solvers.get("shortest_path"), *maps)[2]
    return out


def test_two_processes_match_one_process_with_the_same_global_batch(runs):
    one, two = runs["one"], runs["straight"]
    # the same predicted paths on every validation and test map
    p1, p2 = predicted_paths(one), predicted_paths(two)
    assert all(torch.equal(p1[split], p2[split]) for split in p1)
    # the same training up to rounding: after 6 Adam steps the parameters differ by less
    # than 6 lr (measured: at most 1.2 lr; a different initialisation differs by ~0.1)
    lr = json.loads((one / "config.json").read_text())["lr"]
    w1 = torch.load(one / "checkpoint.pt", weights_only=False)["model"]
    w2 = torch.load(two / "checkpoint.pt", weights_only=False)["model"]
    params = dict(WarcraftCNN(12).named_parameters())
    assert max(float((w1[n] - w2[n]).abs().max()) for n in params) < 6 * lr
    h1, h2 = history(one), history(two)
    assert [r["epoch"] for r in h2] == [1, 2]
    for r1, r2 in zip(h1, h2, strict=True):
        for key in METRICS:
            assert r2[key] == pytest.approx(r1[key], abs=1e-9), (r1["epoch"], key)
        assert r2["train_loss"] == pytest.approx(r1["train_loss"], rel=1e-5)
    t1 = json.loads((one / "metrics.json").read_text())
    t2 = json.loads((two / "metrics.json").read_text())
    for key, value in t1["test"].items():
        assert t2["test"][key] == pytest.approx(value, abs=1e-9), key
    assert (t1["processes"], t2["processes"]) == (1, 2)
    assert t1["global_batch"] == t2["global_batch"] == 15
    # the run is the same run: its configuration records the global batch, not the parts
    assert json.loads((two / "config.json").read_text())["batch_size"] == 8


def test_compare_under_torchrun_writes_and_prints_on_rank_0_only(runs):
    lines = runs["compare_job"]["out"].splitlines()
    assert sum("epoch   1/2" in line for line in lines) == 1
    assert sum("test: optimal-cost paths" in line for line in lines) == 1
    assert sum("Warcraft 12x12, 2 epochs, test split" in line for line in lines) == 1
    assert (runs["compare"] / "summary.csv").exists()
    assert sorted(p.name for p in runs["straight"].iterdir()) == [
        ".lock",
        "checkpoint.pt",
        "config.json",
        "curves.png",
        "examples.png",
        "metrics.csv",
        "metrics.json",
    ]
    state = torch.load(runs["straight"] / "checkpoint.pt", weights_only=False)
    assert state["world_size"] == 2 and len(state["ranks"]) == 2
    assert all({"torch", "numpy", "python"} <= set(r["rng"]) for r in state["ranks"])


def test_the_thread_budget_is_applied_per_rank(runs):
    cores = min(runtime.usable_cores(), numba.config.NUMBA_NUM_THREADS)
    alone = json.loads((runs["one"] / "metrics.json").read_text())["ranks"]
    ranks = json.loads((runs["straight"] / "metrics.json").read_text())["ranks"]
    assert [(r["threads"], r["solver_threads"]) for r in alone] == [(cores, cores)]
    share = max(1, runtime.usable_cores() // 2)
    assert [(r["rank"], r["threads"], r["solver_threads"]) for r in ranks] == [
        (0, share, share),
        (1, share, share),
    ]


def test_each_rank_solves_only_its_own_maps(runs):
    """blackbox solves each training map twice per epoch (forward, and again in backward);
    rank r's maps: its parts of the global batches of 15, 15 and 10 maps, per epoch."""
    alone = json.loads((runs["one"] / "metrics.json").read_text())["ranks"]
    ranks = json.loads((runs["straight"] / "metrics.json").read_text())["ranks"]
    epochs = 2
    mine = [
        epochs * sum(len(range(n)[shard(n, World(rank=r, size=2))]) for n in (15, 15, 10))
        for r in range(2)
    ]
    assert mine == [42, 38]
    assert [r["solver_instances"] for r in alone] == [2 * epochs * 40]
    assert [r["solver_instances"] for r in ranks] == [2 * m for m in mine]


def test_a_rank_killed_mid_epoch_ends_the_job_quickly_with_a_clear_error(runs):
    job = runs["killed"]
    out = job["out"]
    assert job["code"] != 0, out
    killed_at = float(re.search(r"injected kill at ([0-9.]+)", out).group(1))
    # torchrun sees the death and stops rank 0 long before the 60 s collective timeout
    assert job["end"] - killed_at < 30, out
    assert re.search(r"rank\s*: 1 \(local_rank: 1\)\s+exitcode\s*: -9", out), out
    assert "Signal 9 (SIGKILL)" in out
    assert _no_process_left(job["pgid"])
    assert not re.search(r"\[rank\d\]: Traceback", out), out  # no worker's traceback
    # epoch 1 was saved whole; nothing of epoch 2
    assert runs["saved"]["epoch"] == 1
    assert not list(runs["resumed"].glob("*.tmp"))


def test_a_resumed_distributed_run_matches_an_uninterrupted_one(runs):
    out = runs["resumed_job"]["out"]
    assert "epoch   1/2" not in out and "epoch   2/2" in out  # continued at epoch 2
    assert_same_run(runs["resumed"], runs["straight"])


# -- slower: failures other than a death, the BatchNorm alone ------------------------------
@pytest.mark.slow
def test_a_resumed_fenchel_young_run_draws_the_noise_of_an_uninterrupted_one(tmp_path):
    """Fenchel-Young draws noise per rank, reseeded from (seed, epoch, rank) each epoch."""
    done = killed_and_resumed(tmp_path, [])
    assert done["saved"]["epoch"] == 1
    straight = torchrun(["train", *RUN, "--global-batch", "15", "--out", tmp_path / "straight"])
    assert straight["code"] == 0, straight["out"]
    assert_same_run(done["resumed"], tmp_path / "straight")


@pytest.mark.slow
def test_a_hung_rank_ends_the_job_after_the_collective_timeout(tmp_path):
    """A stopped rank (alive, silent): rank 0 gives up after --dist-timeout 10 with one
    line, and torchrun kills the stopped rank after its own 30 s grace."""
    argv = ["train", *RUN, "--dist-timeout", "10", "--out", tmp_path / "run"]
    job = torchrun(argv, fault="rank=1,call=2,how=stop")
    stopped_at = float(re.search(r"injected stop at ([0-9.]+)", job["out"]).group(1))
    assert job["code"] != 0
    assert "diffsolvers: error: rank 0 of 2: a collective operation failed" in job["out"]
    assert job["end"] - stopped_at < 10 + 30 + 30, job["out"]
    assert _no_process_left(job["pgid"])


@pytest.mark.slow
def test_an_error_on_one_rank_is_one_line_naming_it(tmp_path):
    job = torchrun(["train", *RUN, "--out", tmp_path / "run"], fault="rank=1,call=1,how=raise")
    assert job["code"] != 0
    assert (
        "diffsolvers: error: rank 1 of 2: RuntimeError: failure injected by the test"
        in (job["out"])
    )


@pytest.mark.slow
@pytest.mark.parametrize("rendezvous", ["static", "c10d"])
def test_two_machines_train_as_two_processes_of_one(tmp_path, rendezvous):
    """Two torchrun agents (``--nnodes 2 --rdzv-endpoint``, with ``--node-rank 0/1`` or the
    c10d rendezvous) against one agent with two processes: the same run, bit for bit."""
    argv = ["train", *RUN, "--global-batch", "15", "--threads", "1"]
    agents = two_machines([[*argv, "--out", tmp_path / "nodes"]] * 2, rendezvous)
    assert [a["code"] for a in agents] == [0, 0], agents
    one = torchrun([*argv, "--out", tmp_path / "one"])
    assert one["code"] == 0, one["out"]
    kept = ("epoch", "train_loss", *METRICS)
    assert [{k: r[k] for k in kept} for r in history(tmp_path / "nodes")] == [
        {k: r[k] for k in kept} for r in history(tmp_path / "one")
    ]
    a = torch.load(tmp_path / "nodes" / "checkpoint.pt", weights_only=False)["model"]
    b = torch.load(tmp_path / "one" / "checkpoint.pt", weights_only=False)["model"]
    assert all(torch.equal(a[key], b[key]) for key in b)


@pytest.mark.slow
def test_machines_holding_different_data_are_refused_in_one_line(tmp_path):
    other = tmp_path / "other"
    shutil.copytree(SAMPLE, other)
    info = json.loads((other / "12x12" / "info.json").read_text())
    info.setdefault("dataset_params", {})["copied"] = True
    (other / "12x12" / "info.json").write_text(json.dumps(info))
    argv = ["train", *RUN, "--threads", "1", "--out", tmp_path / "run"]
    agents = two_machines([[*argv, "--data", SAMPLE], [*argv, "--data", other]])
    assert all(a["code"] != 0 for a in agents)
    out = agents[0]["out"] + agents[1]["out"]
    assert out.count("the processes of the job see different Warcraft data") == 1, out
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


@pytest.mark.slow
def test_a_problem_rank_0_finds_in_the_run_folder_is_printed_once(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    torch.save({}, run / "checkpoint.pt")
    job = torchrun(["train", *RUN, "--out", run])
    assert job["code"] != 0
    assert job["out"].count("diffsolvers: error:") == 1, job["out"]
    assert f"diffsolvers: error: rank 0 of 2: {run} already holds a run" in job["out"]


@pytest.mark.slow
def test_global_batchnorm_equals_batchnorm_on_the_whole_batch():
    job = torchrun(["batchnorm"])
    assert job["code"] == 0 and job["out"].count("OK") == 2, job["out"]


# -- the parts, in this process ----------------------------------------------------------------
@pytest.mark.parametrize("n", [0, 1, 2, 7, 10, 15])
@pytest.mark.parametrize("size", [1, 2, 3, 4])
def test_shards_are_disjoint_cover_everything_and_differ_by_at_most_one(n, size):
    parts = [shard(n, World(rank=r, size=size)) for r in range(size)]
    items = [i for part in parts for i in range(n)[part]]
    assert items == list(range(n))
    lengths = [part.stop - part.start for part in parts]
    assert max(lengths) - min(lengths) <= 1 and lengths == sorted(lengths, reverse=True)


def test_metric_sums_of_parts_add_up_to_the_metrics_of_the_whole_split():
    generator = torch.Generator().manual_seed(0)
    costs = torch.rand(9, 4, 4, generator=generator) + 0.5
    y_true = (torch.rand(9, 4, 4, generator=generator) > 0.5).float()
    y_pred = y_true.clone()
    y_pred[::2, 0, 1] = 1 - y_pred[::2, 0, 1]
    whole = path_metrics(costs, y_true, y_pred)
    parts = [slice(0, 5), slice(5, 9), slice(9, 9)]
    sums = sum(path_metric_sums(costs[p], y_true[p], y_pred[p]) for p in parts)
    assert metrics_from_sums(sums) == pytest.approx(whole, abs=1e-12)
    assert 0 < whole["exact"] < 1 and whole["regret"] != 0


def test_the_global_batch_defines_the_run_not_how_processes_share_it():
    two = resolve_batch(dataclasses.replace(TINY, batch_size=10), 2)
    assert (two.global_batch, two.batch_size) == (20, 10)
    one = resolve_batch(dataclasses.replace(TINY, batch_size=20), 1)
    assert config_mismatch(two.to_dict(), one.to_dict()) is None
    odd = resolve_batch(dataclasses.replace(TINY, global_batch=15), 2)
    assert (odd.global_batch, odd.batch_size) == (15, 8)
    assert config_mismatch(odd.to_dict(), resolve_batch(TINY, 2).to_dict()) == (
        "global_batch: 15 → 40"
    )
    legacy = {k: v for k, v in TINY.to_dict().items() if k != "global_batch"}
    assert config_mismatch(legacy, resolve_batch(TINY, 1).to_dict()) is None
    with pytest.raises(ValueError, match="global batch of 1 maps cannot be shared by 2"):
        resolve_batch(dataclasses.replace(TINY, global_batch=1), 2)
    with pytest.raises(ValueError, match="global_batch must be a whole number"):
        check_config(dataclasses.replace(TINY, global_batch=0))
    with pytest.raises(ValueError, match="dist_timeout must be a positive finite number"):
        check_config(dataclasses.replace(TINY, dist_timeout=float("inf")))


def test_each_rank_draws_its_own_noise_and_rank_0_that_of_one_process():
    from diffsolvers.experiments.warcraft import _epoch_seed, noise_seed

    assert noise_seed(7, 3) == noise_seed(7, 3, rank=0) == _epoch_seed(7, 3)
    seeds = {noise_seed(7, epoch, rank) for epoch in range(5) for rank in range(4)}
    assert len(seeds) == 20 and all(0 <= s < 2**63 for s in seeds)


@pytest.fixture
def torchrun_env(monkeypatch):
    """This process seen as rank 0 of a torchrun job of 2 (no process group is joined)."""
    for name, value in {
        "WORLD_SIZE": "2",
        "RANK": "0",
        "LOCAL_RANK": "0",
        "LOCAL_WORLD_SIZE": "2",
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": "1",
    }.items():
        monkeypatch.setenv(name, value)


def _cli(argv, capsys):
    try:
        code = cli_main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    return code, capsys.readouterr().err


def test_what_cannot_run_under_torchrun_is_refused_in_one_line(torchrun_env, tmp_path, capsys):
    code, err = _cli(["compare", "synthetic", "--out", tmp_path / "s"], capsys)
    assert code == 2 and "`diffsolvers compare synthetic` runs in one process" in err
    code, err = _cli(["compare", *RUN, "--jobs", "2", "--out", tmp_path / "c"], capsys)
    assert code == 2 and "argument --jobs: under torchrun every run already trains" in err
    code, err = _cli(["generate", "warcraft", "--out", tmp_path / "g"], capsys)
    assert code == 2 and "start it without torchrun" in err
    assert not (tmp_path / "g").exists()


def test_a_torchrun_environment_without_its_rendezvous_is_refused(
    torchrun_env, monkeypatch, capsys
):
    monkeypatch.delenv("MASTER_ADDR")
    code, err = _cli(["train", *RUN, "--out", "unused"], capsys)
    assert code == 2 and "MASTER_ADDR unset: launch the command with torchrun" in err
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("RANK", "2")
    code, err = _cli(["train", *RUN, "--out", "unused"], capsys)
    assert code == 2 and "WORLD_SIZE=2 needs RANK from 0 to 1, got 2" in err


def test_batch_size_and_global_batch_exclude_each_other(capsys):
    code, err = _cli(["train", *RUN, "--batch-size", "5", "--global-batch", "10"], capsys)
    assert code == 2 and "not allowed with argument" in err


def test_failures_of_collectives_are_one_line_naming_the_rank():
    world = World(rank=1, size=2)
    gloo = RuntimeError(
        "[gloo/transport/tcp/pair.cc:537] Read error: Connection reset by peer\nmore"
    )
    assert describe_failure(gloo, world) == (
        "rank 1 of 2: a collective operation failed ([gloo/transport/tcp/pair.cc:537] Read "
        "error: Connection reset by peer): another process of the job died, hung or was "
        "stopped; torchrun's report names the first failure"
    )
    assert describe_failure(KeyError("x"), world) == "rank 1 of 2: KeyError: 'x'"
