"""The regularised layers ``ŷ(θ) = argmax_{y ∈ conv(Y)} ⟨θ, y⟩ - (ε/2)‖y‖²``: the sparse argmax
and the soft ranks (closed forms), and Frank-Wolfe over any solver. Values are checked by
the optimality certificate of a Euclidean projection onto the convex hull of enumerated
solutions, ``⟨z - ŷ, v - ŷ⟩ <= 0`` for every solution ``v``; Jacobians against their
closed forms and finite differences."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

import diffsolvers
import solvers
from diffsolvers import RegularizedFrankWolfe, SoftRank, SparseArgmax
from diffsolvers.layers.soft_rank import soft_rank
from diffsolvers.layers.sparse_argmax import sparsemax

F64 = torch.float64


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _certify(z: torch.Tensor, y: torch.Tensor, vertices: torch.Tensor, atol: float) -> None:
    """``y`` is the projection of ``z`` onto conv(vertices): ``⟨z - y, v - y⟩ <= 0`` for all
    ``v`` (``y`` is in the hull by the caller's other checks)."""
    slack = ((vertices - y) * (z - y)).sum(-1)
    assert float(slack.max()) <= atol, float(slack.max())


def _permutations(n: int) -> torch.Tensor:
    return torch.tensor(list(itertools.permutations(range(n, 0, -1))), dtype=F64)


def _in_permutahedron(y: torch.Tensor, atol: float = 1e-9) -> bool:
    """Majorisation: partial sums of ``y`` sorted decreasingly <= those of (n, ..., 1),
    equal in total."""
    n = y.shape[-1]
    partial = torch.sort(y, descending=True).values.cumsum(-1)
    rho = torch.arange(n, 0, -1, dtype=F64).cumsum(-1)
    return bool((partial <= rho + atol).all()) and abs(float(partial[-1] - rho[-1])) <= atol


# -- the sparse argmax ------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(20))
def test_sparsemax_is_the_projection_onto_the_simplex(seed):
    n = 2 + seed % 6
    z = torch.randn(n, generator=_gen(seed), dtype=F64) * 2
    if seed % 3 == 0:
        z = torch.round(z)  # ties
    y = sparsemax(z)
    assert (y >= 0).all() and math.isclose(float(y.sum()), 1.0, abs_tol=1e-12)
    _certify(z, y, torch.eye(n, dtype=F64), atol=1e-12)


@pytest.mark.parametrize("seed", range(10))
def test_sparse_argmax_jacobian_is_the_closed_form_and_finite_differences(seed):
    strength = [0.3, 1.0, 2.5][seed % 3]
    theta = torch.randn(6, generator=_gen(seed), dtype=F64)
    layer = SparseArgmax(strength=strength)
    jac = torch.autograd.functional.jacobian(layer, theta)
    s = (layer(theta) > 0).to(F64)
    closed = (torch.diag(s) - torch.outer(s, s) / s.sum()) / strength
    torch.testing.assert_close(jac, closed, rtol=0, atol=1e-12)
    assert torch.autograd.gradcheck(layer, (theta.clone().requires_grad_(True),))


def test_sparse_argmax_limits_batches_dtypes_and_costs():
    theta = torch.randn(3, 4, 5, generator=_gen(0), dtype=F64)
    sharp = SparseArgmax(strength=1e-6)(theta)
    torch.testing.assert_close(sharp, torch.as_tensor(solvers.get("argmax").solve(theta.numpy())))
    flat = SparseArgmax(strength=1e6)(theta)
    torch.testing.assert_close(flat, torch.full_like(theta, 0.2), atol=1e-5, rtol=0)
    half = SparseArgmax()(theta.to(torch.bfloat16))
    assert half.dtype == torch.bfloat16
    costs = SparseArgmax(inputs="costs")(-theta)
    torch.testing.assert_close(costs, SparseArgmax()(theta))


# -- the soft ranks ---------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(24))
def test_soft_ranks_are_the_projection_onto_the_permutahedron(seed):
    n = 1 + seed % 6
    z = torch.randn(n, generator=_gen(seed), dtype=F64) * [0.3, 1.0, 4.0][seed % 3]
    if seed % 4 == 0:
        z = torch.round(z)  # ties
    y = soft_rank(z)
    assert _in_permutahedron(y)
    _certify(z, y, _permutations(n), atol=1e-10)
    # equal scores get equal soft ranks
    for i, j in itertools.combinations(range(n), 2):
        if z[i] == z[j]:
            assert math.isclose(float(y[i]), float(y[j]), abs_tol=1e-12)


def _soft_rank_jacobian(theta: torch.Tensor, strength: float) -> torch.Tensor:
    """``Π_σᵀ (I - blockdiag(1 1ᵀ/|B|)) Π_σ / ε``, the blocks read off the soft ranks: in
    the sorted order a block is a maximal run where ``s - ŷ_σ`` (the regression ``v``) is
    constant."""
    z = theta / strength
    y = soft_rank(z)
    order = torch.sort(z, descending=True, stable=True).indices
    v = (z[order] - y[order]).tolist()
    n = len(v)
    inner = torch.eye(n, dtype=F64)
    start = 0
    for i in range(1, n + 1):
        if i == n or abs(v[i] - v[start]) > 1e-9:
            inner[start:i, start:i] -= 1.0 / (i - start)
            start = i
    perm = torch.eye(n, dtype=F64)[order]
    return perm.T @ inner @ perm / strength


@pytest.mark.parametrize("seed", range(12))
def test_soft_rank_jacobian_is_the_closed_form_and_finite_differences(seed):
    strength = [0.2, 1.0, 3.0][seed % 3]
    theta = torch.randn(6, generator=_gen(seed), dtype=F64)
    layer = SoftRank(strength=strength)
    jac = torch.autograd.functional.jacobian(layer, theta)
    torch.testing.assert_close(jac, _soft_rank_jacobian(theta, strength), rtol=0, atol=1e-12)
    torch.testing.assert_close(jac, jac.T, rtol=0, atol=1e-12)
    torch.testing.assert_close(jac.sum(0), torch.zeros(6, dtype=F64), rtol=0, atol=1e-12)
    assert torch.autograd.gradcheck(layer, (theta.clone().requires_grad_(True),))


def test_soft_rank_limits_batches_and_second_derivatives():
    theta = torch.randn(2, 3, 5, generator=_gen(1), dtype=F64)
    sharp = SoftRank(strength=1e-6)(theta)
    torch.testing.assert_close(sharp, torch.as_tensor(solvers.get("ranking").solve(theta.numpy())))
    flat = SoftRank(strength=1e6)(theta)
    torch.testing.assert_close(flat, torch.full_like(theta, 3.0), atol=1e-5, rtol=0)
    one = SoftRank()(theta[1, 2])
    torch.testing.assert_close(one, SoftRank()(theta)[1, 2])
    # piecewise affine: the second derivative is exactly zero (and does not raise)
    for layer in (SoftRank(), SparseArgmax()):
        hessian = torch.autograd.functional.hessian(lambda x, f=layer: f(x)[1], theta[0, 0])
        assert hessian.shape == (5, 5) and (hessian == 0).all()


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: SparseArgmax(solvers.get("ranking")), "projection onto the simplex"),
        (lambda: SoftRank(solvers.get("top_k", k=2)), "projection onto the permutahedron"),
        (lambda: SoftRank(strength=0.0), "strength"),
        (lambda: SparseArgmax(strength=-1.0), "strength"),
        (lambda: RegularizedFrankWolfe(solvers.get("argmax"), n_iterations=0), "n_iterations"),
        (lambda: RegularizedFrankWolfe(solvers.get("argmax"), tolerance=0.0), "tolerance"),
    ],
)
def test_bad_construction_is_named(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_bad_input_is_named():
    for layer in (SparseArgmax(), SoftRank(), RegularizedFrankWolfe(solvers.get("top_k", k=2))):
        with pytest.raises(ValueError, match="NaN|finite"):
            layer(torch.tensor([0.0, float("nan"), 1.0]))
    with pytest.raises(TypeError, match="takes no side data"):
        SoftRank()(torch.zeros(3), weights=torch.ones(3))


# -- Frank-Wolfe over any solver --------------------------------------------------------------
# _fw asks for tolerance 1e-10, i.e. to run to float64's rounding floor (1e-8 to 1e-6 on
# these instances), which the layer reports with a warning
_TO_THE_FLOOR = pytest.mark.filterwarnings("ignore:.*rounding floor of float64:RuntimeWarning")


def _fw(problem: str, strength: float = 1.0, **params) -> RegularizedFrankWolfe:
    return RegularizedFrankWolfe(
        solvers.get(problem, **params), strength=strength, n_iterations=500, tolerance=1e-10
    )


@_TO_THE_FLOOR
@pytest.mark.parametrize("seed", range(6))
def test_frank_wolfe_on_the_simplex_and_the_permutahedron_is_the_closed_form(seed):
    strength = [0.3, 1.0][seed % 2]
    theta = torch.randn(3, 5, generator=_gen(seed), dtype=F64, requires_grad=True)
    weights = torch.randn(3, 5, generator=_gen(seed + 100), dtype=F64)
    for problem, closed in (("argmax", SparseArgmax), ("ranking", SoftRank)):
        fw = _fw(problem, strength)(theta)
        exact = closed(strength=strength)(theta)
        torch.testing.assert_close(fw, exact, rtol=0, atol=1e-8)
        (g_fw,) = torch.autograd.grad((fw * weights).sum(), theta)
        (g_exact,) = torch.autograd.grad((exact * weights).sum(), theta)
        torch.testing.assert_close(g_fw, g_exact, rtol=0, atol=1e-8)


def _vertices(problem: str, solver, n: int) -> torch.Tensor:
    """Every solution of a small instance, by enumeration over 0/1 vectors."""
    cube = torch.tensor(list(itertools.product((0.0, 1.0), repeat=n)), dtype=F64)
    if problem == "top_k":
        keep = cube.sum(-1) == solver.k
    elif problem == "assignment":
        m = int(round(math.sqrt(n)))
        square = cube.reshape(-1, m, m)
        keep = (square.sum(-1) == 1).all(-1) & (square.sum(-2) == 1).all(-1)
    else:  # spanning tree: n_nodes - 1 edges, connected (no cycle)
        keep = torch.tensor([_is_tree(solver, row) for row in cube])
    return cube[keep]


def _is_tree(solver, row: torch.Tensor) -> bool:
    nodes = solver.n_nodes
    edges = [e for e, take in zip(solver.edges, row.tolist()) if take]
    if len(edges) != nodes - 1:
        return False
    parent = list(range(nodes))

    def root(a):
        while parent[a] != a:
            a = parent[a]
        return a

    for a, b in edges:
        ra, rb = root(int(a)), root(int(b))
        if ra == rb:
            return False
        parent[ra] = rb
    return True


CASES = [
    ("top_k", {"k": 2}, (6,)),
    ("assignment", {}, (3, 3)),
    ("spanning_tree", {"n_nodes": 4}, (6,)),
]


@_TO_THE_FLOOR
@pytest.mark.parametrize(("problem", "params", "shape"), CASES)
@pytest.mark.parametrize("seed", range(4))
def test_frank_wolfe_is_the_projection_onto_the_hull_of_the_solutions(problem, params, shape, seed):
    layer = _fw(problem, strength=[0.5, 2.0][seed % 2], **params)
    theta = torch.randn(3, *shape, generator=_gen(seed), dtype=F64)
    if seed == 3:
        theta = torch.round(theta)  # ties
    result = layer.run(theta)
    vertices = _vertices(problem, layer.solver, math.prod(shape))
    flat_atoms = result.atoms.reshape(result.atoms.shape[0], 3, -1)
    for i in range(3):
        z = theta[i].reshape(-1) / layer.strength
        y = result.y[i].reshape(-1)
        w = result.weights[:, i]
        assert math.isclose(float(w.sum()), 1.0, abs_tol=1e-12) and (w >= 0).all()
        used = flat_atoms[w > 0, i]
        assert all((vertices == a).all(-1).any() for a in used), "an atom is not a solution"
        torch.testing.assert_close(y, (w[w > 0, None] * used).sum(0), rtol=0, atol=1e-12)
        _certify(z, y, vertices, atol=1e-8)
        # the gap's rounding (about 1e-16) limits the certificate to sqrt(2·1e-16/ε)
        assert float(result.bound[i]) <= 1e-6


@_TO_THE_FLOOR
@pytest.mark.parametrize(("problem", "params", "shape"), CASES)
def test_frank_wolfe_gradient_against_finite_differences(problem, params, shape):
    layer = _fw(problem, strength=1.0, **params)
    theta = torch.randn(2, *shape, generator=_gen(7), dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(layer, (theta,), eps=1e-6, atol=1e-6)


def test_frank_wolfe_stops_at_n_iterations_with_a_warning_and_a_bound():
    layer = RegularizedFrankWolfe(
        solvers.get("ranking"), strength=1e-3, n_iterations=2, tolerance=1e-12
    )
    theta = torch.randn(4, 7, generator=_gen(0), dtype=F64) * 1e-3
    with pytest.warns(RuntimeWarning, match="n_iterations=2"):
        result = layer.run(theta)
    exact = SoftRank(strength=1e-3)(theta)
    err = (result.y - exact).norm(dim=-1)
    assert (err <= result.bound + 1e-12).all() and (result.bound > 1e-12).any()


def test_frank_wolfe_bound_certifies_float32_scores():
    """Float32 scores with near-ties at a large level: the oracle must see float64
    directions, or its solution for the rounded ``d`` misses the true gap and the bound
    comes out too small (it was 0 with errors of 3e-3 before the fix; found by review)."""
    eps = 1e-4
    theta = (10 + torch.randn(200, 10, generator=_gen(1), dtype=F64) * 1e-4).float()
    layer = RegularizedFrankWolfe(solvers.get("argmax"), strength=eps, tolerance=1e-3)
    result = layer.run(theta)
    exact = sparsemax(theta.double() / eps)
    err = (result.y.double() - exact).norm(dim=-1)
    assert (err <= result.bound.double() + 1e-6).all()
    assert err.max() <= 1e-3


def test_frank_wolfe_warns_when_rounding_stops_it_above_the_tolerance():
    layer = RegularizedFrankWolfe(solvers.get("top_k", k=9), strength=1.0, tolerance=1e-7)
    theta = 10 * torch.randn(200, 11, generator=_gen(0), dtype=F64)
    with pytest.warns(RuntimeWarning, match="rounding floor of float64"):
        result = layer.run(theta)
    assert (result.bound > 1e-7).any()


def test_active_projection_names_mismatched_shapes():
    from diffsolvers.layers.frank_wolfe import active_projection

    atoms, weights = torch.zeros(2, 3, 4), torch.ones(2, 3)
    with pytest.raises(ValueError, match="g \\(2, 5\\) does not match atoms"):
        active_projection(torch.zeros(2, 5), atoms, weights)
    with pytest.raises(ValueError, match="weights \\(N, K\\) expected"):
        active_projection(torch.zeros(2, 4), atoms, torch.ones(2, 4))


@_TO_THE_FLOOR
def test_frank_wolfe_takes_side_data_costs_and_the_registry():
    weights = torch.tensor([[2.0, 3.0, 4.0, 5.0], [1.0, 1.0, 1.0, 1.0]], dtype=F64)
    capacity = torch.tensor([5.0, 2.0], dtype=F64)
    layer = diffsolvers.layer("knapsack", method="frank_wolfe", tolerance=1e-9, n_iterations=300)
    theta = torch.tensor([[1.0, 2.0, 2.5, 3.0], [0.5, 0.4, 0.3, 0.2]], dtype=F64)
    y = layer(theta, weights=weights, capacity=capacity)
    assert ((weights * y).sum(-1) <= capacity + 1e-9).all() and ((y >= 0) & (y <= 1)).all()
    # instance by instance, the same
    for i in range(2):
        one = layer(theta[i], weights=weights[i], capacity=capacity[i])
        torch.testing.assert_close(one, y[i], atol=1e-8, rtol=0)
    costs = diffsolvers.layer(
        "knapsack", method="frank_wolfe", inputs="costs", tolerance=1e-9, n_iterations=300
    )
    torch.testing.assert_close(
        costs(-theta, weights=weights, capacity=capacity), y, atol=1e-8, rtol=0
    )
