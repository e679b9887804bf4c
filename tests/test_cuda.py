"""Layers, losses and Warcraft training with CUDA tensors (skipped without a CUDA device).

Solvers run on the CPU; every method must take costs on the GPU, return its loss there and
send gradients back there, and the deterministic methods must give the CPU's values.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

import solvers
from diffsolvers import registry
from diffsolvers.experiments.objectives import make_objective
from diffsolvers.experiments.warcraft import train_warcraft
from diffsolvers.experiments.warcraft_metrics import solve_paths
from diffsolvers.experiments.warcraft_run import WarcraftConfig, resolve_device

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]

SAMPLE = Path(__file__).resolve().parents[1] / "datasets" / "warcraft_sample"
WARCRAFT_METHODS = [
    m
    for m in registry.methods()
    if registry.method_info(m).reason_not_meaningful("shortest_path") is None
    and "inputs" in registry.method_info(m).options
    and (registry.method_info(m).kind == "loss" or registry.method_info(m).output == "solution")
]
#: Methods that draw no noise, so their values on the GPU must equal those on the CPU.
DETERMINISTIC = {m for m in WARCRAFT_METHODS if "seed" not in registry.method_info(m).options}


def _batch(seed: int = 0, b: int = 6, k: int = 5):
    gen = torch.Generator().manual_seed(seed)
    costs = torch.rand(b, k, k, generator=gen) * 9 + 0.5
    c_hat = torch.rand(b, k, k, generator=gen) * 9 + 0.5
    return c_hat, costs, solve_paths(solvers.get("shortest_path"), costs, torch.float32)


@pytest.mark.parametrize("method", WARCRAFT_METHODS)
def test_objective_on_cuda_keeps_loss_and_gradient_on_cuda(method):
    options = {"sigma": 0.1, "n_samples": 3, "lambda_": 20.0, "kappa": 5.0, "tau": 0.3}
    c_hat, costs, y = _batch()
    objective = make_objective("shortest_path", method, method_options=options)
    objective.manual_seed(0)
    pred = c_hat.detach().cuda().requires_grad_(True)
    loss = objective(pred, costs_true=costs.cuda(), y_true=y.cuda())
    loss.backward()
    assert loss.device.type == "cuda" and torch.isfinite(loss)
    assert pred.grad is not None and pred.grad.device.type == "cuda"
    assert torch.isfinite(pred.grad).all()
    if method in DETERMINISTIC:
        cpu_pred = c_hat.detach().clone().requires_grad_(True)
        cpu_loss = make_objective("shortest_path", method, method_options=options)(
            cpu_pred, costs_true=costs, y_true=y
        )
        cpu_loss.backward()
        torch.testing.assert_close(loss.cpu(), cpu_loss, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(pred.grad.cpu(), cpu_pred.grad, rtol=1e-4, atol=1e-6)


def test_resolve_device_auto_picks_cuda_and_checks_the_index():
    assert resolve_device("auto").type == "cuda"
    assert resolve_device("cuda:0").type == "cuda"
    with pytest.raises(ValueError, match="CUDA device"):
        resolve_device(f"cuda:{torch.cuda.device_count()}")


def test_warcraft_training_on_cuda_then_resume_on_cpu(tmp_path):
    config = WarcraftConfig(
        epochs=2,
        milestones=(2,),
        data=str(SAMPLE),
        n_train=140,
        n_val=50,
        n_test=50,
        progress=False,
        device="cuda",
        augment=True,  # images are augmented on the GPU, costs and paths on the CPU
    )
    out = tmp_path / "run"
    on_gpu = train_warcraft(config, out)
    assert [row["epoch"] for row in on_gpu["history"]] == [1, 2]
    state = torch.load(out / "checkpoint.pt", map_location="cpu", weights_only=False)
    assert state["epoch"] == 2
    # The device is a runtime choice: the finished run reopens on the CPU and is evaluated
    # there with the same weights, so the test metrics agree.
    on_cpu = train_warcraft(dataclasses.replace(config, device="cpu"), out, resume=True)
    assert on_cpu["history"] == on_gpu["history"]
    for key in ("optimal", "exact"):
        assert abs(on_cpu["test"][key] - on_gpu["test"][key]) <= 0.02
