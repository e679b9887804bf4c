"""The README's Python examples run as written and give what their comments say."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks() -> dict[str, str]:
    """``{section heading: code}`` for every fenced Python block of the README."""
    blocks: dict[str, str] = {}
    section = ""
    lines = README.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        if lines[i].startswith("#"):
            section = lines[i].lstrip("#").strip()
        if lines[i].strip() == "```python":
            end = lines.index("```", i + 1)
            blocks[section] = "\n".join(lines[i + 1 : end])
            i = end
        i += 1
    return blocks


BLOCKS = _python_blocks()


def _run(section: str) -> dict:
    namespace: dict = {"__name__": "readme"}
    exec(compile(BLOCKS[section], f"README.md ({section})", "exec"), namespace)
    return namespace


def test_the_readme_examples_are_all_checked_here():
    assert sorted(BLOCKS) == ["Differentiable layers and losses", "Solvers", "Synthetic problems"]


def test_solvers_example(capsys):
    ns = _run("Solvers")
    assert "shortest_path" in capsys.readouterr().out
    assert ns["paths"].shape == (4, 12, 12)
    np.testing.assert_array_equal(ns["knap"].solve(np.array([4.0, 5.0, 6.0, 1.0])), [0, 1, 1, 0])
    assert re.search(r"#\s*array\(\[0\., 1\., 1\., 0\.\]\)", BLOCKS["Solvers"])


def test_layers_and_losses_example():
    ns = _run("Differentiable layers and losses")
    assert ns["y_soft"].shape == (4, 12, 12)
    assert ns["loss"].shape == () and torch.isfinite(ns["loss"])
    assert ns["c_hat"].grad is not None and ns["c_hat"].grad.shape == (4, 12, 12)
    # the targets are paths from (0, 0) to (11, 11)
    y = ns["y_true"]
    assert torch.all(y[:, 0, 0] == 1) and torch.all(y[:, -1, -1] == 1)


def test_synthetic_example():
    ns = _run("Synthetic problems")
    assert ns["data"].problem == "shortest_path_graph"
    assert (ns["data"].x.shape, ns["data"].costs.shape) == ((2000, 5), (2000, 40))
    assert len(ns["train_x"]) == len(ns["test_x"]) == 1000
