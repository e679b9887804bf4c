"""The fuzz suite's cases: one :class:`FuzzCase` per problem of the solver zoo.

Each case draws batches of instances (:class:`fuzz_support.Instance`) with hypothesis for
the structure (sizes, options) and a seeded generator for the values, and knows, without
using the solvers under test:

* ``reference(inst, b)``: the exact optimum of instance ``b`` and whether it is proven
  (brute force over an enumerated feasible set: exact, compared one way) or the value of
  an independent library's answer (SciPy, networkx: compared both ways, within the float
  tolerance);
* ``feasible(inst, b, y, backend)``: ``None`` when ``y`` is a valid answer, else why not.

The case functions live in tests/fuzz_cases_sets.py (vectors, sets, packings, user LPs)
and tests/fuzz_cases_paths.py (paths, trees, tours). See tests/test_fuzz.py for how a new
problem joins.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from fuzz_cases_paths import (
    graph_feasible,
    graph_instances,
    graph_reference,
    grid_feasible,
    grid_instances,
    grid_reference,
    tree_feasible,
    tree_instances,
    tree_reference,
    tsp_feasible,
    tsp_instances,
    tsp_reference,
    vrp_feasible,
    vrp_instances,
    vrp_reference,
)
from fuzz_cases_sets import (
    assignment_feasible,
    assignment_instances,
    assignment_reference,
    knapsack_feasible,
    knapsack_instances,
    knapsack_reference,
    lp_feasible,
    lp_instances,
    lp_reference,
    multi_knapsack_feasible,
    multi_knapsack_instances,
    multi_knapsack_reference,
    vector_feasible,
    vector_instances,
    vector_reference,
)
from fuzz_support import Instance, Reference


@dataclass(frozen=True)
class FuzzCase:
    """How to fuzz one problem (module docstring). ``instances(draw, rng, profile, batch)``
    builds an :class:`Instance`; ``y_max`` bounds ``|y|`` (ranks go up to ``n``);
    ``skip`` maps a backend to the documented reason it is left out."""

    problem: str
    instances: Callable[..., Instance]
    reference: Callable[[Instance, int], Reference]
    feasible: Callable[[Instance, int, np.ndarray, str], str | None]
    y_max: Callable[[Instance], float] = lambda inst: 1.0
    skip: dict[str, str] = field(default_factory=dict)


CASES: dict[str, FuzzCase] = {
    c.problem: c
    for c in [
        FuzzCase(
            "argmax",
            vector_instances("argmax"),
            vector_reference("argmax"),
            vector_feasible("argmax"),
        ),
        FuzzCase(
            "top_k",
            vector_instances("top_k"),
            vector_reference("top_k"),
            vector_feasible("top_k"),
        ),
        FuzzCase(
            "ranking",
            vector_instances("ranking"),
            vector_reference("ranking"),
            vector_feasible("ranking"),
            y_max=lambda inst: float(inst.theta.shape[-1]),
        ),
        FuzzCase("assignment", assignment_instances, assignment_reference, assignment_feasible),
        FuzzCase("shortest_path", grid_instances, grid_reference, grid_feasible),
        FuzzCase("shortest_path_graph", graph_instances, graph_reference, graph_feasible),
        FuzzCase("spanning_tree", tree_instances, tree_reference, tree_feasible),
        FuzzCase("knapsack", knapsack_instances, knapsack_reference, knapsack_feasible),
        FuzzCase(
            "multi_knapsack",
            multi_knapsack_instances,
            multi_knapsack_reference,
            multi_knapsack_feasible,
        ),
        FuzzCase("tsp", tsp_instances, tsp_reference, tsp_feasible),
        FuzzCase("vehicle_routing", vrp_instances, vrp_reference, vrp_feasible),
        FuzzCase("lp", lp_instances, lp_reference, lp_feasible),
    ]
}
