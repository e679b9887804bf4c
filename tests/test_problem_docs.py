"""The Python examples of docs/problems/tsp.md, vehicle-routing.md and multi-knapsack.md run
as written and give what their comments say."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch

DOCS = Path(__file__).resolve().parents[1] / "docs" / "problems"


def _run(page: str) -> dict:
    """Run the page's Python blocks in order, in one namespace."""
    text = (DOCS / page).read_text(encoding="utf-8")
    blocks = re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)
    assert blocks, f"{page} has no Python example"
    namespace: dict = {"__name__": "docs"}
    for k, block in enumerate(blocks):
        exec(compile(block, f"{page} (block {k + 1})", "exec"), namespace)
    return namespace


def test_tsp_page():
    ns = _run("tsp.md")
    assert ns["y"].shape == (28,) and ns["y"].sum() == 8
    assert sorted(ns["order"]) == list(range(8)) and ns["order"][0] == 0
    assert ns["loss"].shape == () and torch.isfinite(ns["loss"])
    assert ns["model"].weight.grad is not None and ns["model"].weight.grad.abs().sum() > 0


def test_vehicle_routing_page(capsys):
    ns = _run("vehicle-routing.md")
    assert ns["pairs"] == [[1, 2], [3, 4]]  # demand_scale: 0.29 + 0.71 fills a vehicle
    assert ns["routes"] == [[1, 3], [2, 4], [5, 6, 7]]
    assert ns["y"].shape == (28,) and ns["y"].sum() == 7 + 3  # m edges plus one per route
    printed = capsys.readouterr().out
    assert (
        "fit the capacity (demands rounded up and the capacity down to multiples of 1/100)"
        in printed
    )
    assert printed.count("instance 0 is infeasible: the customers cannot be split") == 2
    assert ns["loss"].shape == () and torch.isfinite(ns["loss"])
    assert ns["model"].weight.grad is not None and ns["model"].weight.grad.abs().sum() > 0


def test_multi_knapsack_page():
    ns = _run("multi-knapsack.md")
    np.testing.assert_array_equal(ns["y"], [1.0, 0.0, 1.0])
    np.testing.assert_array_equal(ns["y_batch"], [[1.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    assert ns["y_soft"].shape == (2, 3)
    assert ((ns["y_soft"] >= 0) & (ns["y_soft"] <= 1)).all()
    data, packings = ns["data"], ns["packings"]
    assert packings.shape == (100, 32)
    assert np.all(packings @ data.solver_params["weights"].T <= 20.0)
