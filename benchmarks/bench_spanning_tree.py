"""Maximum spanning tree: batched Numba Prim / Kruskal against SciPy and networkx per instance.

Complete graphs on n = 30 and 100 nodes (batches of 256 and 32) with Gaussian edge
scores, then graphs of decreasing density on 100 nodes, which is where the density rule
``PRIM_MIN_DENSITY`` of :mod:`solvers.spanning_tree` comes from. The references are timed
as a user would call them per instance: SciPy builds a sparse matrix of shifted weights and
runs ``minimum_spanning_tree``; networkx builds the graph and runs
``maximum_spanning_tree``. All backends must reach the same objective.

    python benchmarks/solver_speed.py --only spanning_tree [--quick]
"""

from __future__ import annotations

import itertools
import sys

import networkx as nx
import numpy as np
import scipy.sparse as sp
from _timing import best_time, numba_note, print_table
from scipy.sparse.csgraph import minimum_spanning_tree

import solvers
from solvers import runtime


def scipy_per_instance(n: int, edges: np.ndarray, theta: np.ndarray):
    lo, hi = edges.min(axis=1), edges.max(axis=1)

    def run() -> list:
        out = []
        for t in theta:
            w = t.max() - t + 1.0
            out.append(minimum_spanning_tree(sp.csr_matrix((w, (lo, hi)), shape=(n, n))))
        return out

    return run


def networkx_per_instance(n: int, edges: np.ndarray, theta: np.ndarray):
    pairs = [(int(u), int(v)) for u, v in edges]

    def run() -> list:
        out = []
        for t in theta:
            g = nx.Graph()
            g.add_nodes_from(range(n))
            g.add_weighted_edges_from((u, v, w) for (u, v), w in zip(pairs, t.tolist()))
            out.append(nx.maximum_spanning_tree(g))
        return out

    return run


def _random_graph(n: int, density: float, rng: np.random.Generator) -> np.ndarray:
    """A random spanning tree plus random extra edges up to ``density · n(n-1)/2`` edges."""
    all_pairs = list(itertools.combinations(range(n), 2))
    target = max(n - 1, round(density * len(all_pairs)))
    perm = rng.permutation(n)
    chosen = {tuple(sorted((perm[i], perm[rng.integers(0, i)]))) for i in range(1, n)}
    for k in rng.permutation(len(all_pairs)):
        if len(chosen) >= target:
            break
        chosen.add(all_pairs[k])
    return np.array(sorted(chosen), dtype=np.int64)


def run(quick: bool = False) -> None:
    repeat = 2 if quick else 5
    rng = np.random.default_rng(0)
    rows = []
    for n, batch in [(30, 256), (100, 32)]:
        numba = solvers.get("spanning_tree", n_nodes=n)
        edges = numba.edges
        theta = rng.normal(size=(batch, numba.n_edges))
        ref = solvers.get("spanning_tree", "networkx", n_nodes=n)
        np.testing.assert_allclose(
            numba.objective(theta, numba.solve(theta)),
            ref.objective(theta, ref.solve(theta)),
            rtol=1e-12,
        )
        n_ref = batch if n <= 30 else batch // 4  # networkx is slow: fewer instances
        t_nb = best_time(lambda s=numba, t=theta: s.solve(t), repeat) / batch * 1e6
        runtime.set_threads(1)
        t_nb1 = best_time(lambda s=numba, t=theta: s.solve(t), repeat) / batch * 1e6
        runtime.set_threads(None)
        t_one = best_time(lambda s=numba, t=theta: s.solve(t[0]), repeat) * 1e6
        t_sp = best_time(scipy_per_instance(n, edges, theta), repeat) / batch * 1e6
        t_nx = best_time(networkx_per_instance(n, edges, theta[:n_ref]), repeat) / n_ref * 1e6
        ratios = [t_sp / t_nb, t_nx / t_nb]
        rows.append([n, numba.n_edges, batch, numba.algorithm, t_nb, t_nb1, t_one, t_sp, t_nx])
        rows[-1] += ratios
    header = ["n", "edges", "batch", "numba", "numba batched", "1 thread", "numba 1 inst"]
    header += ["scipy", "networkx", "scipy/numba", "networkx/numba"]
    print_table("spanning_tree: µs per instance (complete graphs, Gaussian scores)", header, rows)

    # Algorithmic cost only: one thread, so that thread-pool effects do not blur the rule.
    runtime.set_threads(1)
    rows = []
    n, batch = 100, 32
    for density in [1.0, 0.5, 0.2, 0.1, 0.03] if not quick else [1.0, 0.1]:
        edges = _random_graph(n, density, rng)
        prim = solvers.get("spanning_tree", n_nodes=n, edges=edges, algorithm="prim")
        kruskal = solvers.get("spanning_tree", n_nodes=n, edges=edges, algorithm="kruskal")
        theta = rng.normal(size=(batch, len(edges)))
        np.testing.assert_array_equal(prim.solve(theta), kruskal.solve(theta))
        t_p = best_time(lambda s=prim, t=theta: s.solve(t), repeat) / batch * 1e6
        t_k = best_time(lambda s=kruskal, t=theta: s.solve(t), repeat) / batch * 1e6
        auto = solvers.get("spanning_tree", n_nodes=n, edges=edges).algorithm
        rows.append([density, len(edges), t_p, t_k, t_k / t_p, auto])
    runtime.set_threads(None)
    print_table(
        f"spanning_tree: Prim vs Kruskal by density (n = {n}, batch {batch}, 1 thread, "
        "µs per instance)",
        ["density", "edges", "prim", "kruskal", "kruskal/prim", "auto picks"],
        rows,
    )
    print("\n" + numba_note())


if __name__ == "__main__":
    run(quick="--quick" in sys.argv)
