"""The README's Python examples run as written and give what their comments say; its
set-up commands are the ones CI runs, and it stays short."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

import diffsolvers
import solvers

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


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
            assert section not in blocks, f"two Python blocks under {section!r}"
            blocks[section] = "\n".join(lines[i + 1 : end])
            i = end
        i += 1
    return blocks


BLOCKS = _python_blocks()


def _run(section: str) -> dict:
    namespace: dict = {"__name__": "readme"}
    exec(compile(BLOCKS[section], f"README.md ({section})", "exec"), namespace)
    return namespace


def _counting_solves(solver) -> list:
    """Record the shape of every ``solver.solve`` call (patched on the instance)."""
    calls: list = []
    solve = solver.solve

    def counted(theta, **side):
        calls.append(tuple(np.shape(theta)))
        return solve(theta, **side)

    solver.solve = counted
    return calls


def test_the_readme_examples_are_all_checked_here():
    assert sorted(BLOCKS) == ["A layer", "A loss", "Your own solver"]


def test_the_readme_is_short():
    assert len(README.read_text(encoding="utf-8").splitlines()) <= 200


def test_the_setup_commands_are_those_of_ci():
    text = README.read_text(encoding="utf-8")
    demo = 'pip install torch==2.13.0 && pip install -e ".[lab]" && diffsolvers demo'
    tests = 'pip install torch==2.13.0 && pip install -e ".[test]" && python -m pytest'
    assert demo in text and tests in text
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert 'python -m pip install "torch==2.13.0"' in ci
    assert 'python -m pip install -e ".[test' in ci
    assert re.search(r"^python -m pytest$", ci, re.M)
    # the CPU build is installed before the project, never from PyTorch's own index
    assert "download.pytorch.org" not in text and "--index-url" not in text


def test_every_relative_link_of_the_readme_exists():
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README.read_text(encoding="utf-8"))
    local = [link for link in links if "://" not in link]
    assert local, "the README links into the docs"
    missing = [link for link in local if not (ROOT / link).exists()]
    assert not missing, f"README links to missing files: {missing}"


def test_layer_example():
    ns = _run("A layer")
    y, c_hat = ns["y_soft"], ns["c_hat"]
    assert y.shape == (4, 12, 12)
    assert torch.all((y >= 0) & (y <= 1))
    # both ends lie on every path
    assert torch.all(y[:, 0, 0] == 1) and torch.all(y[:, -1, -1] == 1)
    assert c_hat.grad is not None and c_hat.grad.shape == (4, 12, 12)
    assert torch.isfinite(c_hat.grad).all() and c_hat.grad.abs().sum() > 0
    # one solver call on the 4 × 10 perturbed grids in the forward pass, none in the backward
    layer = ns["layer"]
    calls = _counting_solves(layer.solver)
    out = layer(c_hat)
    assert calls == [(40, 12, 12)]
    out.sum().backward()
    assert calls == [(40, 12, 12)]
    assert (layer.sigma, layer.n_samples) == (0.5, 10)


def test_layer_defaults_stated_in_the_readme():
    text = README.read_text(encoding="utf-8")
    assert "`sigma` (ε) 1.0, `n_samples` (M) 3, Normal noise, additive mode" in text
    layer = diffsolvers.layer("argmax")
    assert (layer.sigma, layer.n_samples, layer.noise.name, layer.mode, layer.inputs) == (
        1.0,
        3,
        "normal",
        "additive",
        "scores",
    )


def test_loss_example(capsys):
    ns = _run("A loss")
    loss, c_hat, y_true = ns["loss"], ns["c_hat"], ns["y_true"]
    assert loss.shape == () and torch.isfinite(loss) and loss.item() >= 0
    assert c_hat.grad is not None and c_hat.grad.shape == (4, 12, 12)
    # the targets are optimal 0/1 paths from (0, 0) to (11, 11)
    assert set(torch.unique(y_true).tolist()) <= {0.0, 1.0}
    assert torch.all(y_true[:, 0, 0] == 1) and torch.all(y_true[:, -1, -1] == 1)
    printed = capsys.readouterr().out.split()
    assert {"fenchel_young", "hamming", "spo_plus"} <= set(printed)
    assert printed == diffsolvers.methods("loss")
    # the gradient is y_ε(θ) − y: with the same noise, the perturbed layer's y_ε gives it
    # (θ = −ĉ and the mean over 4 instances: ∂loss/∂ĉ = −(y_ε − y) / 4)
    loss_fn = ns["loss_fn"].manual_seed(3)
    calls = _counting_solves(loss_fn.solver)
    x = c_hat.detach().clone().requires_grad_()
    loss_fn(x, y_true).backward()
    assert len(calls) == 1
    layer = diffsolvers.layer(
        "shortest_path", method="perturbed", sigma=0.5, inputs="costs", seed=3
    )
    with torch.no_grad():
        y_eps = layer(c_hat.detach())
    torch.testing.assert_close(x.grad, -(y_eps - y_true) / 4)


def test_own_solver_example():
    ns = _run("Your own solver")
    y, theta = ns["y"], ns["theta"]
    assert y.shape == (1, 2, 3)
    torch.testing.assert_close(ns["row_sums"], torch.ones(1, 2))
    # the largest entry of each row is the most frequent choice
    assert y[0, 0].argmax() == 0 and y[0, 1].argmax() == 2
    assert theta.grad is not None and theta.grad[0, 1, 2] > 0
    torch.testing.assert_close(ns["y_hard"], torch.tensor([[[1.0, 0, 0], [0, 0, 1.0]]]))
    # the user's solver is a real solvers.Solver: checked input, any batch shape
    solver = ns["OnePerRow"]()
    assert solver.solve(np.zeros((5, 2, 2, 3))).shape == (5, 2, 2, 3)
    with pytest.raises(solvers.SolverInputError, match="NaN"):
        solver.solve(np.full((2, 3), np.nan))
