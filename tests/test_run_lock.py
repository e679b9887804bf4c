"""One process at a time per run folder, and no worker outliving the comparison that started it."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from warcraft_cases import SAMPLE, TINY

from diffsolvers.experiments import runner
from diffsolvers.experiments.cli import main as cli_main
from diffsolvers.experiments.compare import compare_warcraft
from diffsolvers.experiments.runner import RunInUse, run_holder, run_lock
from diffsolvers.experiments.warcraft import train_warcraft

pytestmark = pytest.mark.skipif(os.name != "posix", reason="run folders are locked with flock")


def _gone(pid: int) -> bool:
    """Whether process ``pid`` has ended (a zombie, not yet reaped, counts as ended)."""
    if Path("/proc/self/stat").exists():
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        return state in ("Z", "X")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _hold_in_child(folder: Path) -> subprocess.Popen:
    """A child process that takes the lock of ``folder``, says so, and sleeps."""
    code = textwrap.dedent(
        f"""
        import sys, time
        from diffsolvers.experiments.runner import run_lock
        with run_lock({str(folder)!r}):
            print("locked", flush=True)
            time.sleep(120)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "locked"
    return child


def test_a_second_holder_is_refused_and_the_lock_is_released_after(tmp_path):
    with run_lock(tmp_path):
        assert (tmp_path / ".lock").read_text() == str(os.getpid())
        with pytest.raises(RunInUse, match=f"being trained by process {os.getpid()}"):
            with run_lock(tmp_path):
                pass
        assert "being trained" in str(run_holder(tmp_path))
    assert run_holder(tmp_path) is None
    with run_lock(tmp_path):  # free again
        pass


def test_a_file_system_without_locks_trains_unlocked_with_a_warning(tmp_path, monkeypatch):
    def no_locks(fh, op):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(runner.fcntl, "flock", no_locks)
    with pytest.warns(UserWarning, match="cannot be locked.*No locks available"):
        with run_lock(tmp_path):
            entered = True
    assert entered


def test_the_os_releases_the_lock_of_a_killed_holder(tmp_path):
    child = _hold_in_child(tmp_path)
    try:
        error = run_holder(tmp_path)
        assert error is not None and f"process {child.pid}" in str(error)
    finally:
        child.kill()
        child.wait()
    assert run_holder(tmp_path) is None  # no stale lock: nothing to clean up by hand


def test_training_and_compare_refuse_a_run_folder_in_use(tmp_path, capsys):
    run = tmp_path / "cmp" / "two_stage" / "seed0"
    run.mkdir(parents=True)
    child = _hold_in_child(run)
    try:
        with pytest.raises(RunInUse, match="being trained by process"):
            train_warcraft(TINY, run)
        with pytest.raises(RunInUse, match="two_stage/seed0 is being trained"):
            compare_warcraft(["two_stage"], [0], tmp_path / "cmp", TINY)
        argv = ["train", "warcraft", "--method", "two_stage", "--data", SAMPLE, "--out", str(run)]
        assert cli_main([*argv, "--epochs", "1", "--no-progress"]) == 2
        assert "is being trained by process" in capsys.readouterr().err
    finally:
        child.kill()
        child.wait()
    assert sorted(p.name for p in run.iterdir()) == [".lock"]  # nothing was trained
    train_warcraft(TINY, run)  # and once the holder is gone, the run trains


def test_a_worker_exits_when_the_comparison_that_started_it_is_killed(tmp_path):
    """A parent that dies without passing its signal on (here ``os._exit``) leaves its
    ProcessPoolExecutor workers behind; the initializer that compare gives them ends them."""
    code = textwrap.dedent(
        """
        import multiprocessing, os
        from concurrent.futures import ProcessPoolExecutor
        from diffsolvers.experiments.compare import exit_with_parent

        if __name__ == "__main__":
            pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=exit_with_parent,
                initargs=(os.getpid(), 0.1),
            )
            print(pool.submit(os.getpid).result(), flush=True)
            os._exit(0)  # as if killed: no shutdown of the pool
        """
    )
    script = tmp_path / "parent.py"
    script.write_text(code)
    # The worker inherits the parent's stdout: read one line rather than wait for its end.
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    worker = int(parent.stdout.readline())
    assert parent.wait(timeout=60) == 0
    deadline = time.monotonic() + 30
    while not _gone(worker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _gone(worker), f"worker {worker} outlived its parent"
