"""A run's records survive what can happen to a process and its disk, and say so clearly.

A process that dies between the last checkpoint and ``metrics.csv`` loses no row; a full
disk is reported as such, with the file, and leaves no temporary file; a corrupt or
inconsistent checkpoint is named, with how to start over, by ``train --resume`` and
``evaluate``; a run records the absolute path of its data, so it can be evaluated from
anywhere; resuming with another thread count warns that the result will not be
bit-identical.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numba
import pytest
import torch
from warcraft_cases import SAMPLE

from diffsolvers.experiments import warcraft as warcraft_module
from diffsolvers.experiments import warcraft_records as records_module
from diffsolvers.experiments.cli import main

#: Two epochs on the committed sample, one thread, no progress bars.
TRAIN = ["train", "warcraft", "--method", "two_stage", "--data", SAMPLE, "--epochs", "2"]
TRAIN += ["--batch-size", "20", "--threads", "1", "--no-progress"]

needs_dev_full = pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")


def run_cli(argv, capsys) -> tuple[int, str, str]:
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def csv_epochs(run: Path) -> list[int]:
    return [int(row["epoch"]) for row in csv.DictReader((run / "metrics.csv").open())]


class Died(BaseException):
    """The process ending abruptly (as by ``kill -9``) at this point."""


# -- item: metrics.csv -----------------------------------------------------------------------
def test_metrics_csv_is_completed_when_a_run_that_died_before_writing_it_resumes(
    tmp_path, monkeypatch, capsys
):
    run = tmp_path / "run"
    real_write_csv = records_module.write_csv

    def die_before_the_last_row(rows, path):
        if len(rows) == 2:
            raise Died
        real_write_csv(rows, path)

    with monkeypatch.context() as mp:
        mp.setattr(records_module, "write_csv", die_before_the_last_row)
        with pytest.raises(Died):
            main([*TRAIN, "--out", str(run)])
    assert torch.load(run / "checkpoint.pt", weights_only=False)["epoch"] == 2
    assert csv_epochs(run) == [1]
    code, _, err = run_cli([*TRAIN, "--out", run, "--resume"], capsys)
    assert code == 0, err
    assert csv_epochs(run) == [1, 2]
    assert [r["epoch"] for r in json.loads((run / "metrics.json").read_text())["history"]] == [
        1,
        2,
    ]


# -- item: a full disk -----------------------------------------------------------------------
@needs_dev_full
def test_a_full_disk_at_a_checkpoint_names_the_file_and_keeps_the_last_good_one(
    tmp_path, monkeypatch, capsys
):
    """The second checkpoint's temporary file is /dev/full, which answers every write with
    ENOSPC, as a full disk does."""
    run = tmp_path / "run"
    real_save = records_module.atomic_save
    saves = []

    def disk_full_at_the_second(obj, path):
        saves.append(path)
        if len(saves) == 2:
            Path(f"{path}.tmp").symlink_to("/dev/full")
        real_save(obj, path)

    monkeypatch.setattr(records_module, "atomic_save", disk_full_at_the_second)
    code, out, err = run_cli([*TRAIN, "--out", run], capsys)
    assert code == 1
    assert "Traceback" not in err and "enforce fail" not in err
    assert err.strip().splitlines() == [
        f"diffsolvers: error: cannot write {run / 'checkpoint.pt'}: no space left on device"
    ]
    assert not (run / "checkpoint.pt.tmp").is_symlink()
    assert sorted(p.name for p in run.iterdir() if p.name.endswith(".tmp")) == []
    assert torch.load(run / "checkpoint.pt", weights_only=False)["epoch"] == 1


@needs_dev_full
def test_a_full_disk_at_the_config_names_the_file_and_leaves_no_temporary_file(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json.tmp").symlink_to("/dev/full")
    code, out, err = run_cli([*TRAIN, "--out", run], capsys)
    assert code == 1 and "Traceback" not in err
    assert f"cannot write {run / 'config.json'}: no space left on device" in err
    assert not (run / "config.json.tmp").is_symlink() and not (run / "config.json").exists()


# -- item: corrupt checkpoints ---------------------------------------------------------------
@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("finished") / "run"
    assert main([*TRAIN, "--out", str(run)]) == 0
    return run


def _corrupt(checkpoint: Path, how: str) -> str:
    """Spoil ``checkpoint`` as ``how`` says; returns the word the message must hold."""
    data = checkpoint.read_bytes()
    if how == "truncated":
        checkpoint.write_bytes(data[: len(data) // 2])
    elif how == "garbage":
        checkpoint.write_bytes(b"\x93garbage, not a zip archive nor a pickle" * 50)
    elif how == "empty":
        checkpoint.write_bytes(b"")
    elif how == "empty dict":
        torch.save({}, checkpoint)
    elif how == "folder":
        checkpoint.unlink()
        checkpoint.mkdir()
    elif how == "epoch 99":
        state = torch.load(checkpoint, weights_only=False)
        state["epoch"] = 99
        torch.save(state, checkpoint)
    elif how == "history beyond":
        state = torch.load(checkpoint, weights_only=False)
        state["history"] = state["history"] + [dict(state["history"][-1], epoch=3)]
        state["epoch"] = 3
        torch.save(state, checkpoint)
    elif how == "other model":
        state = torch.load(checkpoint, weights_only=False)
        state["model"] = {"weight": torch.zeros(3)}
        torch.save(state, checkpoint)
    return {
        "truncated": "not a readable checkpoint",
        "garbage": "not a readable checkpoint",
        "empty": "not a readable checkpoint",
        "empty dict": "inconsistent: it lacks model",
        "folder": "is a folder, not a checkpoint",
        "epoch 99": "inconsistent",
        "history beyond": "3 finished epochs of a run of 2",
        "other model": "does not fit",
    }[how]


CORRUPTIONS = [
    "truncated",
    "garbage",
    "empty",
    "empty dict",
    "folder",
    "epoch 99",
    "history beyond",
    "other model",
]


@pytest.mark.parametrize("how", CORRUPTIONS)
def test_a_corrupt_checkpoint_is_named_with_how_to_start_over(how, finished_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    (run / "metrics.json").unlink()  # an unfinished run, as after an interrupt
    words = _corrupt(run / "checkpoint.pt", how)
    checkpoint = run / "checkpoint.pt"
    for argv in (
        [*TRAIN, "--out", run, "--resume"],
        ["evaluate", "warcraft", run, "--threads", "1"],
    ):
        code, out, err = run_cli(argv, capsys)
        assert code == 2, (argv[0], out, err)
        assert "Traceback" not in err + out
        (line,) = err.strip().splitlines()
        assert line.startswith(f"diffsolvers: error: {checkpoint}") and words in line, line
        assert f"delete {checkpoint}" in line, line
    assert not (run / "metrics.json").exists()  # the 2-epoch run did not "finish"


# -- item: the data path, the thread count ---------------------------------------------------
def test_a_run_trained_on_a_relative_data_path_is_evaluated_from_elsewhere(
    tmp_path, monkeypatch, capsys
):
    shutil.copytree(Path(SAMPLE) / "12x12", tmp_path / "work" / "data" / "12x12")
    (tmp_path / "elsewhere").mkdir()
    run = tmp_path / "run"
    monkeypatch.chdir(tmp_path / "work")
    argv = [*TRAIN[:4], "--data", "data", *TRAIN[6:], "--epochs", "1", "--out", run]
    assert run_cli(argv, capsys)[0] == 0
    saved = json.loads((run / "config.json").read_text())
    assert saved["data"] == saved["data_root"] == str(tmp_path / "work" / "data")
    monkeypatch.chdir(tmp_path / "elsewhere")
    code, out, err = run_cli(["evaluate", "warcraft", run, "--threads", "1"], capsys)
    assert code == 0, err
    assert str(tmp_path / "work" / "data") in out


def test_resuming_with_another_thread_count_warns_that_it_is_not_bit_exact(
    tmp_path, monkeypatch, capsys
):
    run = tmp_path / "run"
    real_evaluate = warcraft_module.evaluate
    calls = []

    def interrupt_second_validation(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_evaluate(*args, **kwargs)

    with monkeypatch.context() as mp:
        mp.setattr(warcraft_module, "evaluate", interrupt_second_validation)
        assert run_cli([*TRAIN, "--out", run], capsys)[0] == 130
    before = torch.get_num_threads(), numba.get_num_threads()
    try:
        code, out, err = run_cli([*TRAIN, "--out", run, "--resume", "--threads", "2"], capsys)
    finally:
        torch.set_num_threads(before[0])
        numba.set_num_threads(before[1])
    assert code == 0
    assert f"diffsolvers: warning: {run} trained on 1 thread and resumes on 2 threads" in err
    assert "not be bit-identical" in err and "--threads 1 resumes exactly" in err
    code, _, err = run_cli([*TRAIN, "--out", tmp_path / "again", "--epochs", "1"], capsys)
    assert code == 0 and "warning" not in err
