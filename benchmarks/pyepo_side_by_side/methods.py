"""The methods compared, with PyEPO's hyper-parameters and each library's name for them.

Settings of the PyEPO paper's experiments (khalil-research/PyEPO, branch ``MPC``:
``config/config_sp.py`` and ``config/config_ks.py`` at commit 7484b187,
``experiments.py`` at 7cd22d9e, ``run/train.py`` and ``run/training/*.py`` at 80ca5bbf):

* a linear model ``nn.Linear(5, d)`` (``net = []``), Adam, batch 32, no regularisation;
* epochs 200 for 100 training instances, 20 for 1,000 (4 for 5,000);
* two-stage: scikit-learn ``LinearRegression`` (closed form);
* SPO+: ``SPOPlus``, lr 1e-2;
* DBB: ``blackboxOpt``, lr 1e-1, λ = 20 (shortest path) or 10 (knapsack), trained on the L1
  distance between the objective of the DBB solution and the optimum (loss ``"r"``);
* DPO: ``perturbedOpt``, lr 1e-2, 1 sample, σ = 1, trained on the same L1 objective loss;
* PFYL: ``perturbedFenchelYoung``, lr 1e-2, 1 sample, σ = 1.

NCE, CMAP and the three LTR losses are not in the paper's tables; their settings are those
of PyEPO's notebook "03 Training and Testing": ``solve_ratio = 0.05`` (5% of the instances
solved afresh, the others scored against the pool of solutions seen), lr 1e-2, batch 32.

diffsolvers runs each method through its registry name; a name that is not registered (a
method still being written) leaves that side of the cell empty.

:data:`DIAGNOSTICS` are variants run only on request: ``dbb_exact_optimum`` and
``dpo_exact_optimum`` are PyEPO's DBB and DPO trained against the optimum recomputed as
``⟨c, w⟩`` in the precision of the prediction's objective, instead of the optimum ``z`` its
data set stores (GLOP's objective value, rounded to float32). With the stored ``z`` the L1
loss is not zero at an optimal decision: ``⟨c, w⟩ − z`` is a rounding error of either sign
(measured: nonzero for about 40% of the shortest-path instances), so optimal decisions still
get a gradient ``±c/B``; diffsolvers' loss is exactly zero there.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

__all__ = ["MethodSpec", "METHODS", "DIAGNOSTICS", "ALL_METHODS", "epochs_for", "BATCH_SIZE"]

BATCH_SIZE = 32


@dataclass(frozen=True)
class MethodSpec:
    """One method as both libraries run it.

    ``pyepo``: the ``pyepo.func`` class (or ``"LinearRegression"`` for two-stage);
    ``pyepo_call``: how its loss is formed: ``"spo"`` ``loss(ĉ, c, w, z)``, ``"objective"``
    L1 between ``⟨c, layer(ĉ)⟩`` and ``z``, ``"solution"`` ``loss(ĉ, w)``, ``"costs"``
    ``loss(ĉ, c)``, ``"regression"`` closed-form least squares. ``ours``: diffsolvers'
    registry name; ``layer_loss`` what a diffsolvers layer is trained on.
    """

    name: str
    pyepo: str
    pyepo_call: str
    ours: str
    lr: float
    pyepo_options: dict[str, Any] = field(default_factory=dict)
    ours_options: dict[str, Any] = field(default_factory=dict)
    layer_loss: str = "hamming"
    dbb_lambda: bool = False  # λ depends on the problem (20 / 10)
    exact_optimum: bool = False  # PyEPO "objective" loss against ⟨c, w⟩, not the stored z

    def options(self, problem: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """PyEPO's and diffsolvers' options for ``problem``."""
        theirs, ours = dict(self.pyepo_options), dict(self.ours_options)
        if self.dbb_lambda:
            lam = 20.0 if problem == "shortest_path" else 10.0
            theirs["lambd"] = lam
            ours["lambda_"] = lam
        return theirs, ours


_POOL = {"solve_ratio": 0.05}
_PERTURB = {"n_samples": 1, "sigma": 1.0}

METHODS = {
    m.name: m
    for m in [
        MethodSpec("two_stage", "LinearRegression", "regression", "two_stage", 1e-2),
        MethodSpec("spo_plus", "SPOPlus", "spo", "spo_plus", 1e-2),
        MethodSpec(
            "dbb",
            "blackboxOpt",
            "objective",
            "blackbox",
            1e-1,
            layer_loss="regret",
            dbb_lambda=True,
        ),
        MethodSpec(
            "dpo",
            "perturbedOpt",
            "objective",
            "perturbed",
            1e-2,
            _PERTURB,
            _PERTURB,
            layer_loss="regret",
        ),
        MethodSpec(
            "pfyl", "perturbedFenchelYoung", "solution", "fenchel_young", 1e-2, _PERTURB, _PERTURB
        ),
        MethodSpec("nce", "NCE", "solution", "nce", 1e-2, _POOL, _POOL),
        MethodSpec("cmap", "CMAP", "solution", "contrastive_map", 1e-2, _POOL, _POOL),
        MethodSpec("ltr_pointwise", "ptLTR", "costs", "pointwise_ltr", 1e-2, _POOL, _POOL),
        MethodSpec("ltr_pairwise", "prLTR", "costs", "pairwise_ltr", 1e-2, _POOL, _POOL),
        MethodSpec("ltr_listwise", "lsLTR", "costs", "listwise_ltr", 1e-2, _POOL, _POOL),
    ]
}


DIAGNOSTICS = {
    f"{name}_exact_optimum": replace(
        METHODS[name], name=f"{name}_exact_optimum", exact_optimum=True
    )
    for name in ("dbb", "dpo")
}
ALL_METHODS = {**METHODS, **DIAGNOSTICS}


def epochs_for(n_train: int) -> int:
    """PyEPO's epochs for a training-set size (``experiments.py``): 200, 20 or 4; the same
    number of training examples seen (20,000) for sizes in between."""
    table = {100: 200, 1000: 20, 5000: 4}
    if n_train in table:
        return table[n_train]
    return max(1, round(20000 / n_train))
