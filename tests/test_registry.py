"""solvers.registry (get / available / register) and the costs <-> θ helpers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from problem_cases import CASES

import solvers
from solvers import registry
from solvers.lp import LPBackedSolver, LPSolver
from solvers.ranking import ArgmaxSolver, RankingSolver, TopKSolver


@pytest.fixture
def scratch_registry(monkeypatch):
    """Registrations made by a test are undone afterwards."""
    monkeypatch.setattr(
        registry, "_FACTORIES", {p: dict(b) for p, b in registry._FACTORIES.items()}
    )
    monkeypatch.setattr(registry, "_INFOS", {p: dict(b) for p, b in registry._INFOS.items()})
    monkeypatch.setattr(registry, "_DEFAULTS", dict(registry._DEFAULTS))


def test_available_lists_the_ranking_family_and_lp():
    infos = solvers.available()
    pairs = {(i.problem, i.backend) for i in infos}
    for problem in ("argmax", "top_k", "ranking"):
        assert {(problem, "numpy"), (problem, "lp")} <= pairs
    assert ("lp", "ortools") in pairs
    assert ("lp", "lp") not in pairs  # the lp problem is registered with lp_backend=False
    assert len(pairs) == len(infos)
    assert [(i.problem, i.backend) for i in infos] == sorted(pairs)


def test_every_entry_is_described_and_each_problem_has_one_default():
    infos = solvers.available()
    assert {i.problem for i in infos} == set(solvers.problems())
    for info in infos:
        assert info.description.strip() and "\n" not in info.description, info
        assert info.problem in str(info) and info.backend in str(info)
    for problem in solvers.problems():
        defaults = [i.backend for i in infos if i.problem == problem and i.default]
        assert defaults == [solvers.default_backend(problem)], (problem, defaults)
        assert "(default)" in str(next(i for i in infos if i.problem == problem and i.default))
        assert solvers.backends(problem) == sorted(i.backend for i in infos if i.problem == problem)


def test_default_and_named_backends():
    assert type(solvers.get("argmax")) is ArgmaxSolver
    assert type(solvers.get("ranking", backend="numpy")) is RankingSolver
    top3 = solvers.get("top_k", k=3)
    assert type(top3) is TopKSolver and top3.k == 3
    for problem in ("argmax", "top_k", "ranking"):
        assert solvers.default_backend(problem) == "numpy"
        lp = solvers.get(problem, backend="lp")
        assert isinstance(lp, LPBackedSolver)
        assert (lp.problem, lp.backend) == (problem, "lp")
    assert solvers.get("top_k", backend="lp", k=3).base.k == 3
    assert solvers.default_backend("lp") == "ortools"
    assert type(solvers.get("lp", upper=np.ones(2))) is LPSolver


def test_derived_lp_backend_for_every_default_with_an_lp_form():
    """A problem whose default solver states an LP form has the derived lp backend."""
    for problem in solvers.problems():
        default = registry._FACTORIES[problem][solvers.default_backend(problem)]
        has_form = isinstance(default, type) and default.lp_form is not solvers.Solver.lp_form
        if has_form and problem != "lp":
            assert "lp" in solvers.backends(problem), problem


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(ValueError, match="unknown problem 'sorting'") as info:
        solvers.get("sorting")
    for name in ("argmax", "ranking", "top_k", "lp"):
        assert name in str(info.value)
    with pytest.raises(ValueError, match="unknown backend 'cuda' for problem 'top_k'") as info:
        solvers.get("top_k", backend="cuda")
    assert "lp, numpy" in str(info.value)
    with pytest.raises(ValueError, match="unknown problem"):
        solvers.backends("sorting")
    with pytest.raises(ValueError, match="unknown problem"):
        solvers.default_backend("sorting")


def test_register_defaults_and_derived_lp(scratch_registry):
    solvers.register("toy", "first", ArgmaxSolver, "first backend")
    assert solvers.default_backend("toy") == "first"  # the first one registered
    assert solvers.backends("toy") == ["first"]  # no lp without an explicit default
    solvers.register("toy", "second", ArgmaxSolver, "second backend", default=True)
    assert solvers.default_backend("toy") == "second"
    infos = {i.backend: i for i in solvers.available() if i.problem == "toy"}
    assert set(infos) == {"first", "second", "lp"}
    assert [b for b, i in infos.items() if i.default] == ["second"]
    lp = solvers.get("toy", backend="lp")
    assert isinstance(lp, LPBackedSolver) and isinstance(lp.base, ArgmaxSolver)
    solvers.register("toy2", "only", ArgmaxSolver, "no lp", default=True, lp_backend=False)
    assert solvers.backends("toy2") == ["only"]


def test_lp_backend_factory_passes_params():
    with pytest.raises(ValueError, match="top_k: k must be a positive integer"):
        solvers.get("top_k", backend="lp", k=0)
    with pytest.raises(TypeError):
        solvers.get("argmax", backend="lp", k=2)


@settings(max_examples=100, deadline=None)
@given(
    costs=hnp.arrays(
        st.sampled_from([np.float32, np.float64, np.int64]),
        hnp.array_shapes(min_dims=0, max_dims=3),
        elements=st.integers(-1000, 1000),
    )
)
def test_costs_theta_round_trip(costs):
    theta = solvers.costs_to_theta(costs)
    assert theta.dtype == costs.dtype and theta.shape == costs.shape
    np.testing.assert_array_equal(theta, -costs)
    np.testing.assert_array_equal(solvers.theta_to_costs(theta), costs)


def test_costs_to_theta_turns_max_into_min():
    costs = np.array([[3.0, 1.0, 2.0], [0.0, 5.0, -1.0]])
    y = solvers.get("argmax").solve(solvers.costs_to_theta(costs))
    np.testing.assert_array_equal(y.argmax(axis=1), costs.argmin(axis=1))
    np.testing.assert_array_equal(solvers.costs_to_theta([1, -2]), [-1, 2])


@pytest.mark.parametrize("name", [["argmax"], ("argmax",), 3, None])
def test_names_must_be_strings(name, scratch_registry):
    calls = [
        lambda: solvers.get(name),
        lambda: solvers.backends(name),
        lambda: solvers.default_backend(name),
        lambda: solvers.register(name, "numpy", ArgmaxSolver, "toy"),
    ]
    for call in calls:
        with pytest.raises(TypeError, match="the problem name must be a string"):
            call()
    if name is None:  # backend=None means the default backend
        return
    for problem, call in (
        ("argmax", lambda: solvers.get("argmax", backend=name)),
        ("toy", lambda: solvers.register("toy", name, ArgmaxSolver, "toy")),
    ):
        with pytest.raises(TypeError, match=f"{problem}: the backend name must be a string"):
            call()


PAIRS = [(info.problem, info.backend) for info in solvers.available()]


@pytest.mark.parametrize(("problem", "backend"), PAIRS)
def test_unknown_options_are_named_for_every_backend(problem, backend):
    """Every (problem, backend) names an unknown option and lists the accepted ones, which
    include the options its test case uses; those still build the solver."""
    params = CASES[problem].params()
    with pytest.raises(
        TypeError, match=rf"{problem}: unknown option\(s\) 'temperature' for backend '{backend}'"
    ) as info:
        solvers.get(problem, backend, temperature=1.0, **params)
    accepted = str(info.value).split("accepted options: ")[1]
    assert set(params) <= set(accepted.split(", ")), accepted
    solver = solvers.get(problem, backend, **params)
    assert (solver.problem, solver.backend) == (problem, backend)


def test_options_of_open_factories_are_not_checked(scratch_registry):
    """A factory taking ``**kwargs`` checks its own options."""

    def factory(**options):
        assert options == {"temperature": 1.0}
        return ArgmaxSolver()

    solvers.register("toy", "open", factory, "takes any option")
    assert type(solvers.get("toy", temperature=1.0)) is ArgmaxSolver
