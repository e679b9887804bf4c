"""CaVE: the normal cone of a solution, the projection onto it, and the loss.

The projection is checked against two independent references (brute force over the faces of
tiny cones; SciPy's NNLS with each equality as a pair of opposite generators) and against
its optimality conditions; the cone against the solvers (θ in the cone of y exactly when y
is optimal for θ); the loss against its closed form, finite differences, and PyEPO's
``coneAlignedCosine`` on PyEPO's own shortest-path model.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from problem_cases import CASES
from scipy.optimize import linprog, nnls

import diffsolvers
import solvers
from solvers.normal_cone import Cone, NormalCones, binding_cone, lp_point, project_onto_cone
from solvers.shortest_path_graph import grid_dag

F64 = torch.float64


# -- the projection ---------------------------------------------------------------------------
def _random_cone(rng, n: int, n_span: int, n_gen: int) -> Cone:
    span = rng.normal(size=(n, n_span))
    basis = np.linalg.qr(span)[0] if n_span else np.zeros((n, 0))
    gens = rng.normal(size=(n, n_gen))
    if rng.random() < 0.3 and n_gen >= 2:  # a repeated direction: dependent generators
        gens[:, -1] = 2.0 * gens[:, 0]
    return Cone(basis=basis, generators=gens)


def _brute_force(cone: Cone, c: np.ndarray) -> np.ndarray:
    """The closest point of the cone among the least-squares fits on every face: each subset
    of generators independent together with the span, kept when its coefficients are >= 0
    (Carathéodory: the projection lies on such a face)."""
    u, g = cone.basis, cone.generators
    best, best_dist = None, np.inf
    for size in range(g.shape[1] + 1):
        for subset in itertools.combinations(range(g.shape[1]), size):
            mat = np.concatenate([u, g[:, list(subset)]], axis=1)
            if mat.shape[1] and np.linalg.matrix_rank(mat) < mat.shape[1]:
                continue
            if mat.shape[1] == 0:
                point, ok = np.zeros_like(c), True
            else:
                coef = np.linalg.lstsq(mat, c, rcond=None)[0]
                ok = bool(np.all(coef[u.shape[1] :] >= -1e-12))
                point = mat @ coef
            dist = np.linalg.norm(c - point)
            if ok and dist < best_dist - 1e-12:
                best, best_dist = point, dist
    return best


def _nnls_with_pairs(cone: Cone, c: np.ndarray) -> np.ndarray:
    """NNLS with the span given as ± generator pairs (PyEPO's orientation of equalities)."""
    gens = np.concatenate([cone.basis, -cone.basis, cone.generators], axis=1)
    if gens.shape[1] == 0:
        return np.zeros_like(c)
    return gens @ nnls(gens, c, maxiter=10_000)[0]


@pytest.mark.parametrize("seed", range(60))
def test_the_projection_is_the_brute_force_projection_over_faces(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 5))
    cone = _random_cone(rng, n, int(rng.integers(0, n)), int(rng.integers(0, 6)))
    c = rng.normal(size=n)
    p = project_onto_cone(cone, c)
    np.testing.assert_allclose(p, _brute_force(cone, c), atol=1e-9)
    np.testing.assert_allclose(p, _nnls_with_pairs(cone, c), atol=1e-8)
    # optimality conditions of the projection onto a closed convex cone
    r = c - p
    assert abs(r @ p) <= 1e-9 * max(1.0, c @ c)
    assert np.all(cone.generators.T @ r <= 1e-9)
    np.testing.assert_allclose(cone.basis.T @ r, 0.0, atol=1e-9)


def test_the_projection_of_a_point_of_the_cone_is_the_point():
    rng = np.random.default_rng(1)
    for _ in range(20):
        cone = _random_cone(rng, 6, 2, 5)
        c = cone.basis @ rng.normal(size=2) + cone.generators @ rng.uniform(0, 2, size=5)
        np.testing.assert_allclose(project_onto_cone(cone, c), c, atol=1e-10)
    assert not project_onto_cone(Cone(np.zeros((3, 0)), np.eye(3)), np.zeros(3)).any()


def test_binding_cone_of_a_knapsack_point():
    form = solvers.get("knapsack", weights=[2.0, 3.0, 4.0], capacity=5.0).lp_form(3)
    cone = binding_cone(form, np.array([1.0, 1.0, 0.0]))  # capacity tight, x2 at its bound 0
    assert cone.basis.shape == (3, 0)
    expected = {(2.0, 3.0, 4.0), (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, -1.0)}
    assert {tuple(col) for col in cone.generators.T} == expected
    loose = binding_cone(form, np.array([1.0, 0.0, 0.0]))  # slack 3: the row does not bind
    assert (2.0, 3.0, 4.0) not in {tuple(col) for col in loose.generators.T}


# -- the cone against the solvers: θ ∈ N(y) exactly when y is optimal for θ --------------------
CONE_PROBLEMS = [
    "argmax",
    "top_k",
    "ranking",
    "assignment",
    "shortest_path",
    "shortest_path_graph",
    "lp",
]


@pytest.mark.parametrize("problem", CONE_PROBLEMS)
def test_theta_is_in_the_cone_of_y_exactly_when_y_is_optimal(problem):
    """On integral polytopes (the LP form's optimum is the solver's), with random θ (no
    ties): the projection leaves θ unchanged for its own solution, and moves it for a
    different solution."""
    case = CASES[problem]
    solver = case.solver()
    cones = NormalCones(solver)
    theta, _ = case.draw(seed=5, batch=6)
    other, _ = case.draw(seed=6, batch=6)
    own = solver.solve(theta.numpy())
    for y, optimal in ((own, True), (solver.solve(other.numpy()), None)):
        p_y, norm = cones.project(theta.numpy(), y)
        inside = np.isclose(p_y, theta.numpy(), atol=1e-8).all(axis=tuple(range(1, theta.ndim)))
        inside &= np.isclose(norm, np.linalg.norm(theta.numpy().reshape(6, -1), axis=1))
        same = (y == own).all(axis=tuple(range(1, theta.ndim)))
        np.testing.assert_array_equal(inside, same if optimal is None else True)
        assert optimal or not same.all()


def test_lp_point_completes_the_auxiliary_variables_and_refuses_infeasible_targets():
    solver = solvers.get("shortest_path")
    form = solver.lp_form((2, 3))
    y = solver.solve(-np.ones((2, 3)))
    x = lp_point(form, y, "shortest_path")
    assert form.is_feasible(x) and np.array_equal(x[form.y_index], y)
    with pytest.raises(solvers.SolverInputError, match="target y is not a feasible solution"):
        lp_point(form, np.zeros((2, 3)), "shortest_path")  # the source is on every path
    with pytest.raises(solvers.SolverInputError, match="target y is not a feasible solution"):
        lp_point(solvers.get("top_k", k=2).lp_form(3), np.ones(3))


# -- the loss ---------------------------------------------------------------------------------
def _cosine_loss(theta: np.ndarray, p_y: np.ndarray, norm: float) -> float:
    return 1.0 - float(theta.ravel() @ p_y.ravel()) / (np.linalg.norm(theta) * norm)


@pytest.mark.parametrize("problem", sorted(CASES))
def test_the_loss_is_one_minus_the_cosine_with_the_projection(problem):
    case = CASES[problem]
    theta, side = case.draw(seed=1)
    other, _ = case.draw(seed=2)
    y = case.target(other, side)
    values = diffsolvers.loss(problem, "cave", **case.params(), reduction="none")(theta, y, **side)
    p_y, norms = NormalCones(case.solver()).project(theta.numpy(), y.numpy(), **side)
    expected = [_cosine_loss(theta[b].numpy(), p_y[b], norms[b]) for b in range(len(theta))]
    torch.testing.assert_close(values, torch.tensor(expected, dtype=F64), rtol=0, atol=1e-12)
    assert torch.all(values >= -1e-12) and torch.all(values <= 1 + 1e-12)


def _point_of_the_cone(form, cone: Cone, rng) -> np.ndarray:
    """A random θ whose LP objective lies in ``cone``: ``c = Uμ + Gλ`` (``λ >= 0``) with zero
    entries on the auxiliary variables (a linear program over ``μ``, ``λ`` in a box, with a
    random objective)."""
    u, g = cone.basis, cone.generators
    aux = np.setdiff1d(np.arange(form.n_vars), form.y_index.ravel())
    mat = np.concatenate([u, g], axis=1)
    bounds = [(-1.0, 1.0)] * u.shape[1] + [(0.0, 1.0)] * g.shape[1]
    result = linprog(
        rng.uniform(-1.0, 1.0, size=mat.shape[1]),
        A_eq=mat[aux] if aux.size else None,
        b_eq=np.zeros(aux.size) if aux.size else None,
        bounds=bounds,
    )
    assert result.status == 0
    c = mat @ result.x
    np.testing.assert_allclose(c[aux], 0.0, atol=1e-9)
    return c[form.y_index]


@pytest.mark.parametrize("problem", sorted(CASES))
def test_the_loss_is_zero_with_no_gradient_inside_the_cone(problem):
    case = CASES[problem]
    theta, side = case.draw(seed=3)
    y = case.target(theta, side)
    cones = NormalCones(case.solver())
    rng = np.random.default_rng(0)
    inside = []
    for b in range(len(theta)):
        form, cone = cones.cone(y[b].numpy(), {k: np.asarray(v)[b] for k, v in side.items()})
        inside.append(_point_of_the_cone(form, cone, rng))
    x = torch.tensor(np.stack(inside), requires_grad=True)
    assert torch.all(x.detach().flatten(1).norm(dim=1) > 1e-3)
    loss = diffsolvers.loss(problem, "cave", **case.params(), reduction="sum")
    value = loss(x, y, **side)
    value.backward()
    assert abs(value.item()) < 1e-10
    assert x.grad.abs().max() < 1e-6


@pytest.mark.parametrize("problem", sorted(CASES))
@pytest.mark.parametrize("inputs", ["scores", "costs"])
def test_the_gradient_matches_finite_differences(problem, inputs):
    """Holding the projection constant is exact (the envelope argument of the module
    docstring): the gradient equals central differences of the whole loss."""
    case = CASES[problem]
    theta, side = case.draw(seed=7, batch=2)
    other, _ = case.draw(seed=8, batch=2)
    y = case.target(other, side)
    loss = diffsolvers.loss(problem, "cave", **case.params(), inputs=inputs, reduction="sum")
    x = theta.clone().requires_grad_(True)
    loss(x, y, **side).backward()
    h = 1e-6
    numeric = torch.zeros_like(theta)
    flat = numeric.view(-1)
    for i in range(theta.numel()):
        step = torch.zeros_like(theta).view(-1)
        step[i] = h
        up = loss(theta + step.view(theta.shape), y, **side)
        down = loss(theta - step.view(theta.shape), y, **side)
        flat[i] = (up - down) / (2 * h)
    torch.testing.assert_close(x.grad, numeric, rtol=1e-4, atol=1e-7)
    assert x.grad.abs().sum() > 0


def test_costs_enter_as_minus_theta_and_float32_is_kept():
    solver = solvers.get("shortest_path_graph", **grid_dag(3))
    gen = torch.Generator().manual_seed(0)
    costs = torch.rand(4, 12, generator=gen, dtype=F64) + 0.1
    y = torch.as_tensor(solver.solve(-(torch.rand(4, 12, generator=gen) + 0.1).numpy()))
    by_costs = diffsolvers.CaVELoss(solver, inputs="costs")(costs, y.to(F64))
    by_scores = diffsolvers.CaVELoss(solver)(-costs, y.to(F64))
    torch.testing.assert_close(by_costs, by_scores, rtol=0, atol=0)
    single = diffsolvers.CaVELoss(solver, inputs="costs")(costs.float(), y.float())
    assert single.dtype == torch.float32
    torch.testing.assert_close(single.double(), by_costs, rtol=1e-6, atol=1e-6)


def test_knapsack_side_data_shared_or_per_instance():
    gen = np.random.default_rng(0)
    theta = torch.from_numpy(gen.uniform(0.2, 2.0, size=(3, 5)))
    weights = torch.from_numpy(gen.integers(1, 6, size=(3, 5)).astype(float))
    capacity = torch.tensor([6.0, 7.0, 8.0])
    y = torch.from_numpy(
        np.stack(
            [
                solvers.get(
                    "knapsack", weights=weights[b].numpy(), capacity=capacity[b].item()
                ).solve(-theta[b].numpy() + 2.5)
                for b in range(3)
            ]
        )
    )
    loss = diffsolvers.loss("knapsack", "cave", reduction="none")
    batched = loss(theta, y, weights=weights, capacity=capacity)
    one_by_one = torch.stack(
        [
            diffsolvers.loss(
                "knapsack", "cave", weights=weights[b].numpy(), capacity=capacity[b].item()
            )(theta[b : b + 1], y[b : b + 1])
            for b in range(3)
        ]
    )
    torch.testing.assert_close(batched, one_by_one, rtol=0, atol=0)
    shared = loss(theta, y * 0, weights=weights[0], capacity=6.0)  # y = 0 is feasible
    assert shared.shape == (3,)
    with pytest.raises(ValueError, match="knapsack: capacity missing"):
        loss(theta, y, weights=weights)
    with pytest.raises(ValueError, match="knapsack: θ has 5 items per instance but weights"):
        loss(theta, y, weights=torch.ones(4), capacity=6.0)


def test_bad_input_is_named():
    loss = diffsolvers.loss("top_k", "cave", k=2)
    good = torch.tensor([[1.0, 1.0, 0.0]])
    with pytest.raises(ValueError, match="top_k: the prediction contains NaN"):
        loss(torch.tensor([[float("nan"), 0.0, 1.0]]), good)
    with pytest.raises(solvers.SolverInputError, match="target y is not a feasible solution"):
        loss(torch.randn(1, 3), torch.tensor([[1.0, 1.0, 1.0]]))
    with pytest.raises(ValueError, match="target y has shape"):
        loss(torch.randn(1, 3), torch.tensor([1.0, 1.0, 0.0, 0.0]))
    with pytest.raises(ValueError, match="target y contains inf"):
        loss(torch.randn(1, 3), torch.tensor([[1.0, float("inf"), 0.0]]))
    with pytest.raises(ValueError, match="'cave' is not meaningful for 'best'"):
        diffsolvers.loss(solvers.from_function(lambda t: t, problem="best"), "cave")


def test_a_learning_run_reduces_the_regret():
    """A linear model of edge costs on the 3×3 grid DAG learns through CaVE alone."""
    graph = grid_dag(3)
    solver = solvers.get("shortest_path_graph", **graph)
    gen = torch.Generator().manual_seed(0)
    n, d, m = 200, 4, len(graph["edges"])
    feats = torch.randn(n, d, generator=gen, dtype=F64)
    true_w = torch.randn(d, m, generator=gen, dtype=F64)
    costs = torch.exp(feats @ true_w / 2)
    y = torch.as_tensor(solver.solve(-costs.numpy()))
    model = torch.nn.Linear(d, m, dtype=F64)
    loss_fn = diffsolvers.CaVELoss(solver, inputs="costs")

    def regret() -> float:
        with torch.no_grad():
            pred = torch.as_tensor(solver.solve(-model(feats).numpy()))
        return float(((pred - y) * costs).sum() / (y * costs).sum())

    before = regret()
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(60):
        opt.zero_grad()
        loss_fn(model(feats), y).backward()
        opt.step()
    assert regret() < 0.5 * before


# -- PyEPO's coneAlignedCosine on PyEPO's own model ---------------------------------------------
# The binding constraints are read from the OR-Tools model PyEPO builds, as PyEPO orients them
# (benchmarks/cave_vs_pyepo.py): PyEPO itself reads them from Gurobi models only.
def test_agrees_with_pyepo_cone_aligned_cosine_on_the_5x5_grid():
    pyepo = pytest.importorskip("pyepo")
    pytest.importorskip("clarabel")
    from pyepo.func import coneAlignedCosine
    from pyepo.model.ort import shortestPathModel

    from benchmarks.cave_vs_pyepo import padded_normals

    model = shortestPathModel(grid=(5, 5))
    graph = grid_dag(5)
    assert [tuple(e) for e in model.arcs] == [tuple(e) for e in graph["edges"]]
    rng = np.random.default_rng(0)
    _, costs = pyepo.data.shortestpath.genData(8, 5, (5, 5), deg=2, noise_width=0.5, seed=3)
    sols = []
    for c in costs:
        model.setObj(c)
        sols.append(np.asarray(model.solve()[0], dtype=float))
    tight = padded_normals(model, np.stack(sols))
    pred = costs * rng.uniform(0.2, 1.8, size=costs.shape) + rng.normal(0, 0.5, size=costs.shape)
    pred = torch.tensor(pred)
    # max_iter large: PyEPO's projection converged (its default 3 is the CaVE+ preset)
    theirs = coneAlignedCosine(model, max_iter=200, reduction="none")(pred.float(), tight)
    ours = diffsolvers.loss("shortest_path_graph", "cave", **graph, inputs="costs")
    ours.reduction = "none"
    mine = ours(pred, torch.tensor(np.stack(sols)))
    torch.testing.assert_close(mine.float(), theirs, rtol=0, atol=2e-4)
    assert theirs.max() > 0.01  # predictions outside their cones
