"""The command line refuses what makes no sense: one line naming the option, exit code 2.

Every mistake below is run through ``main`` in this process; argparse's own refusals exit
through ``SystemExit(2)``, the checks made while running return 2 (or 1 when the file
system fails). No traceback is ever printed. Then: what the command prints without progress
bars, ``--version``, the defaults in ``--help``, a missing optional dependency, an
interrupt before the first checkpoint, and the file-system refusals (read-only folder,
``--out`` a file, ``generate`` into an existing folder).
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from pathlib import Path

import pytest
from warcraft_cases import SAMPLE

from diffsolvers.experiments import warcraft as warcraft_module
from diffsolvers.experiments.cli import build_parser, main


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of ``diffsolvers ARGV`` run in this process."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


#: A tiny training run on the committed sample (one epoch of 40 maps).
TRAIN = ["train", "warcraft", "--data", SAMPLE, "--epochs", "1", "--batch-size", "20"]
TRAIN += ["--threads", "1", "--no-progress"]
COMPARE = ["compare", "warcraft", "--data", SAMPLE, "--epochs", "1", "--threads", "1"]
SYNTHETIC = ["compare", "synthetic", "--problem", "ranking", "--threads", "1"]
GENERATE = ["generate", "warcraft"]

#: (the command after its base, the option the message must name, words it must hold)
MISTAKES = [
    (TRAIN + ["--epochs", "0"], "--epochs", "at least 1"),
    (TRAIN + ["--epochs", "-2"], "--epochs", "at least 1"),
    (TRAIN + ["--epochs", "two"], "--epochs", "whole number"),
    (TRAIN + ["--batch-size", "0"], "--batch-size", "at least 1"),
    (TRAIN + ["--batch-size", "-70"], "--batch-size", "at least 1"),
    (TRAIN + ["--n-train", "0"], "--n-train", "at least 1"),
    (TRAIN + ["--n-val", "-1"], "--n-val", "at least 1"),
    (TRAIN + ["--n-test", "0"], "--n-test", "at least 1"),
    (TRAIN + ["--lr", "0"], "--lr", "positive finite"),
    (TRAIN + ["--lr=-1e-3"], "--lr", "positive finite"),
    (TRAIN + ["--lr", "nan"], "--lr", "positive finite"),
    (TRAIN + ["--lr", "inf"], "--lr", "positive finite"),
    (TRAIN + ["--sigma", "0"], "--sigma", "positive finite"),
    (TRAIN + ["--sigma", "-0.1"], "--sigma", "positive finite"),
    (TRAIN + ["--sigma", "nan"], "--sigma", "positive finite"),
    (TRAIN + ["--n-samples", "0"], "--n-samples", "at least 1"),
    (TRAIN + ["--lambda", "0"], "--lambda", "positive finite"),
    (TRAIN + ["--tau", "-0.3"], "--tau", "positive finite"),
    (TRAIN + ["--kappa", "0"], "--kappa", "positive finite"),
    (TRAIN + ["--milestones", "0"], "--milestones", "at least 1"),
    (TRAIN + ["--milestones", "5,x"], "--milestones", "whole numbers"),
    (TRAIN + ["--milestones", "1,1"], "--milestones", "once"),
    (TRAIN + ["--epochs", "10", "--milestones", "6,12"], "--milestones", "12 is beyond --epochs"),
    (TRAIN + ["--seed", "-1"], "--seed", "from 0 to 2**63 - 1"),
    (TRAIN + ["--seed", str(2**70)], "--seed", "from 0 to 2**63 - 1"),
    (TRAIN + ["--seed", "1.5"], "--seed", "whole number"),
    (TRAIN + ["--method", "no_such_method"], "--method", "unknown method 'no_such_method'"),
    (TRAIN + ["--method", "perturbed_max"], "--method", "not a solution to train on"),
    (TRAIN + ["--threads", "0"], "--threads", "at least 1"),
    (TRAIN + ["--device", "tpu"], "--device", "unknown device 'tpu'"),
    (TRAIN + ["--k", "13"], "--k", "invalid choice"),
    (TRAIN + ["--noise", "uniform"], "--noise", "invalid choice"),
    (TRAIN + ["--labels", "ignore"], "--labels", "invalid choice"),
    (COMPARE + ["--methods", ""], "--methods", "at least one method"),
    (COMPARE + ["--methods", ",,"], "--methods", "at least one method"),
    (COMPARE + ["--methods", "blackbox,nope"], "--methods", "unknown method 'nope'"),
    (COMPARE + ["--methods", "blackbox,blackbox"], "--methods", "once"),
    (COMPARE + ["--seeds", "0"], "--seeds", "at least 1"),
    (COMPARE + ["--jobs", "0"], "--jobs", "at least 1"),
    (COMPARE + ["--methods", "blackbox", "--reference", "imle"], "--reference", "not among"),
    (SYNTHETIC + ["--deg", ""], "--deg", "at least one value"),
    (SYNTHETIC + ["--deg", "1,-2"], "--deg", "at least 1"),
    (SYNTHETIC + ["--deg", "0"], "--deg", "at least 1"),
    (SYNTHETIC + ["--methods", ""], "--methods", "at least one method"),
    (SYNTHETIC + ["--methods", "nope"], "--methods", "unknown method"),
    (SYNTHETIC + ["--seeds", "0"], "--seeds", "at least 1"),
    (SYNTHETIC + ["--n-train", "0"], "--n-train", "at least 1"),
    (SYNTHETIC + ["--n-test", "-5"], "--n-test", "at least 1"),
    (SYNTHETIC + ["--epochs", "0"], "--epochs", "at least 1"),
    (SYNTHETIC + ["--noise-width", "-0.5"], "--noise-width", "non-negative finite"),
    (SYNTHETIC + ["--sigma", "0"], "--sigma", "positive finite"),
    (SYNTHETIC + ["--n-samples", "0"], "--n-samples", "at least 1"),
    (SYNTHETIC + ["--lambda", "-1"], "--lambda", "positive finite"),
    (SYNTHETIC + ["--problem", "no_such_problem"], "--problem", "invalid choice"),
    (["evaluate", "warcraft", "runs/x", "--n", "0"], "--n", "at least 1"),
    (["evaluate", "warcraft", "runs/x", "--n", "-3"], "--n", "at least 1"),
    (GENERATE + ["--n-train", "0"], "--n-train", "at least 1"),
    (GENERATE + ["--n-test", "-1"], "--n-test", "at least 1"),
    (GENERATE + ["--seed", str(2**70)], "--seed", "from 0 to 2**63 - 1"),
    (GENERATE + ["--k", "7"], "--k", "invalid choice"),
    (["demo", "--epochs", "0"], "--epochs", "at least 1"),
    (["demo", "--n-train", "0"], "--n-train", "at least 1"),
    (["demo", "--methods", ""], "--methods", "at least one method"),
    (["demo", "--methods", "nope"], "--methods", "unknown method"),
    (TRAIN + ["--lr", "-1e-3"], "--lr", "positive finite"),
    (SYNTHETIC + ["--sigma", "-2.5E+1"], "--sigma", "positive finite"),
]


@pytest.mark.parametrize(("argv", "option", "words"), MISTAKES, ids=lambda v: str(v)[-40:])
def test_each_mistake_gets_one_line_naming_the_option_and_exit_code_2(
    argv, option, words, capsys, tmp_path
):
    code, out, err = run_cli([*argv, "--out", tmp_path / "out"], capsys)
    assert code == 2, err
    assert "Traceback" not in err + out
    line = err.splitlines()
    assert len(line) == 1 and "error:" in line[0], err
    assert f"argument {option}" in line[0] and words in line[0], line[0]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", [TRAIN, COMPARE, SYNTHETIC, GENERATE, ["demo"]])
def test_an_out_that_is_a_file_or_under_one_is_refused(command, tmp_path, capsys):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a folder")
    for out, words in ((a_file, "is a file, not a folder"), (a_file / "run", "cannot be made")):
        code, _, err = run_cli([*command, "--out", out], capsys)
        assert code == 2 and "argument --out" in err and words in err, err
        assert "Traceback" not in err
    code, _, err = run_cli(["evaluate", "warcraft", "runs/x", "--out", a_file / "x"], capsys)
    assert code == 2 and "argument --out" in err and "notes.txt is a file" in err
    code, _, err = run_cli([*command, "--out", ""], capsys)
    assert code == 2 and "argument --out: must name a folder, got ''" in err


def test_a_read_only_output_folder_gets_one_line(tmp_path, monkeypatch, capsys):
    """The file system refuses to make the run folder (as a read-only mount does, for
    every user): one line naming it, no traceback, exit code 1."""
    real_mkdir = os.mkdir
    locked = tmp_path / "mount"

    def read_only_mkdir(path, *args, **kwargs):
        if str(path).startswith(str(locked)):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", read_only_mkdir)
    code, out, err = run_cli([*TRAIN, "--out", locked / "run"], capsys)
    assert code == 1, err
    assert "Traceback" not in err + out
    assert err.strip().splitlines() == [
        f"diffsolvers: error: cannot write {locked / 'run'}: read-only file system"
    ]


def test_an_output_folder_the_system_says_is_not_writable_is_refused_before_running(
    tmp_path, monkeypatch, capsys
):
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(
        os, "access", lambda p, m: False if Path(p) == locked else real_access(p, m)
    )
    code, _, err = run_cli([*TRAIN, "--out", locked / "run"], capsys)
    assert code == 2 and f"argument --out: {locked} is not writable" in err


def test_generate_into_an_existing_folder_advises_the_overwrite_option(tmp_path, capsys):
    argv = [*GENERATE, "--n-train", "2", "--n-val", "1", "--n-test", "1", "--out", tmp_path]
    assert run_cli(argv, capsys)[0] == 0
    first = (tmp_path / "12x12" / "train_maps.npy").read_bytes()
    code, out, err = run_cli(argv, capsys)
    assert code == 2 and "Traceback" not in err
    assert "already exists; add --overwrite to replace it" in err and "overwrite=True" not in err
    code, out, _ = run_cli([*argv[:-2], "--seed", "1", "--overwrite", "--out", tmp_path], capsys)
    assert code == 0 and "wrote" in out
    assert (tmp_path / "12x12" / "train_maps.npy").read_bytes() != first


def test_no_progress_still_prints_each_epoch_and_the_result(tmp_path, capsys):
    argv = [*TRAIN, "--method", "two_stage", "--epochs", "2", "--out", tmp_path / "run"]
    code, out, err = run_cli(argv, capsys)
    assert code == 0, err
    lines = out.splitlines()
    assert sum("epoch   1/2" in li for li in lines) == 1
    assert sum("epoch   2/2" in li for li in lines) == 1
    assert any("test: optimal-cost paths" in li for li in lines)


def test_version_and_every_default_in_the_help(capsys):
    code, out, _ = run_cli(["--version"], capsys)
    assert code == 0 and out.strip() == "diffsolvers 0.1.0"

    def options(parser, path=()):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    yield from options(sub, (*path, name))
            elif action.option_strings and action.nargs != 0:
                yield path, action

    seen = 0
    for path, action in options(build_parser()):
        seen += 1
        assert "default" in (action.help or ""), (path, action.option_strings)
    assert seen > 50
    code, out, _ = run_cli(["train", "warcraft", "--help"], capsys)
    assert code == 0 and "(default: 0)" in " ".join(out.split("--seed", 2)[2].split()[:12])
    for argv in (["--help"], ["inspect", "warcraft", "--help"], ["compare", "warcraft", "-h"]):
        code, out, _ = run_cli(argv, capsys)
        assert code == 0 and "SUPPRESS" not in out, argv


@pytest.mark.parametrize("module", ["matplotlib", "tqdm"])
def test_a_missing_lab_dependency_gets_one_line_with_the_install_command(
    module, tmp_path, monkeypatch, capsys
):
    monkeypatch.setitem(sys.modules, module, None)  # `import module` now fails
    for argv in ([*TRAIN, "--out", tmp_path / "run"], [*GENERATE, "--out", tmp_path / "g"]):
        code, out, err = run_cli(argv, capsys)
        assert code == 1 and "Traceback" not in err + out
        assert err.strip().splitlines() == [
            "diffsolvers: error: the diffsolvers command needs the lab's extras (missing: "
            f"{module}): pip install 'diffsolvers[lab]'"
        ]
    assert not (tmp_path / "run").exists()
    assert run_cli(["--version"], capsys)[0] == 0


def test_an_interrupt_in_the_first_epoch_mentions_no_checkpoint(tmp_path, monkeypatch, capsys):
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(warcraft_module, "evaluate", interrupt)
    code, out, _ = run_cli([*TRAIN, "--out", tmp_path / "run"], capsys)
    assert code == 130
    assert "checkpoint.pt" not in out and "nothing was saved" in out
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


def test_more_maps_than_a_split_holds_is_refused_and_the_largest_seed_trains(tmp_path, capsys):
    code, _, err = run_cli([*TRAIN, "--n-train", "41", "--out", tmp_path / "many"], capsys)
    assert code == 2 and "Traceback" not in err
    assert "n_train=41: the train split of" in err and "holds only 40 maps" in err
    argv = [*TRAIN, "--method", "two_stage", "--seed", str(2**63 - 1), "--out", tmp_path / "big"]
    code, out, err = run_cli(argv, capsys)
    assert code == 0, err
    assert f"two_stage seed {2**63 - 1}] test: optimal-cost paths" in out
