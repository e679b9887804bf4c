"""Numba kernels of pairwise Frank-Wolfe on the active atoms (see :mod:`solvers.frank_wolfe`).

Each instance ``i`` keeps its atoms ``a_k`` (``atoms[i, k]``, slots ``k < used[i]``), their
weights ``α_k`` (0 for a dropped atom), the inner products ``gram[i, j, k] = ⟨a_j, a_k⟩`` of
atoms active together and ``lin[i, k] = ⟨θ_i, a_k⟩``. With them the scores of the active
atoms along the direction ``d = θ - εy``, ``y = Σ_j α_j a_j``, cost no pass over the
instance's entries::

    ⟨d, a_k⟩ = lin_k - ε Σ_j α_j gram_jk,

and a step that moves ``γ`` from atom ``a`` to atom ``t`` changes them by
``-εγ (gram_tk - gram_ak)``.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _dot(u, v) -> float:
    acc = 0.0
    for x in range(u.shape[0]):
        acc += u[x] * v[x]
    return acc


@njit(cache=True)
def start_active_sets(first, theta, atoms, weights, gram, lin, used) -> None:
    """Every instance starts with the one atom ``first[i] = y*(θ_i)``, of weight 1."""
    for i in range(first.shape[0]):
        atoms[i, 0] = first[i]
        gram[i, 0, 0] = _dot(first[i], first[i])
        lin[i, 0] = _dot(theta[i], first[i])
        weights[i, 0] = 1.0
        used[i] = 1


@njit(cache=True)
def _slot_of(i, s, atoms, used) -> int:
    """The slot of the atom of instance ``i`` equal to ``s``, or the next free slot."""
    for k in range(used[i]):
        same = True
        for x in range(s.shape[0]):
            if atoms[i, k, x] != s[x]:
                same = False
                break
        if same:
            return k
    return used[i]


@njit(cache=True)
def _pairwise(i, slots, towards, away, scores, atoms, weights, gram, strength) -> None:
    """Move weight from atom ``slots[away]`` to atom ``slots[towards]`` of instance ``i``
    along ``p = a_towards - a_away``: the exact line search ``γ = ⟨d, p⟩ / (ε‖p‖²)``,
    capped at the away weight (which is then set to exactly 0); the ``scores`` of the
    atoms ``slots`` follow the step."""
    t, v = slots[towards], slots[away]
    norm2 = 0.0
    for x in range(atoms.shape[2]):
        diff = atoms[i, t, x] - atoms[i, v, x]
        norm2 += diff * diff
    room = weights[i, v]
    gamma = 0.0
    if norm2 > 0:
        gamma = max((scores[towards] - scores[away]) / max(strength * norm2, 1e-300), 0.0)
    full = gamma >= room and gamma > 0
    gamma = min(gamma, room)
    weights[i, v] = 0.0 if full else room - gamma
    weights[i, t] += gamma
    if gamma > 0:
        for a in range(scores.shape[0]):
            scores[a] -= strength * gamma * (gram[i, t, slots[a]] - gram[i, v, slots[a]])


@njit(cache=True)
def _extremes(scores, slots, weights_i) -> tuple[int, int]:
    """(best, worst) active atom (weight > 0) by score, as positions in ``slots``; the
    first one on ties."""
    best, worst = -1, -1
    for a in range(scores.shape[0]):
        if weights_i[slots[a]] > 0:
            if best < 0 or scores[a] > scores[best]:
                best = a
            if worst < 0 or scores[a] < scores[worst]:
                worst = a
    return best, worst


@njit(cache=True)
def active_set_steps(
    rows, solutions, theta, atoms, weights, gram, lin, used, y, strength, threshold, local_steps
) -> None:
    """One iteration for the instances ``rows`` after the oracle gave ``solutions[r]``
    for instance ``rows[r]``: the solution joins the atom it equals (or the next free
    slot), weight moves from the worst active atom to it (the global pairwise step), then
    up to ``local_steps`` pairwise steps from the worst to the best active atom while their
    scores differ by more than ``threshold``; ``y`` is rebuilt from the weights.

    Only the atoms active at the start of the iteration and the solution take part, so
    ``gram`` holds the inner products of atoms that were active together; an atom that
    enters (again) gets its products with the active ones."""
    dim = atoms.shape[2]
    for r in range(rows.shape[0]):
        i = rows[r]
        s = solutions[r]
        slot = _slot_of(i, s, atoms, used)
        if slot == used[i]:
            atoms[i, slot] = s
            lin[i, slot] = _dot(theta[i], s)
            used[i] += 1
        slots = np.empty(used[i], dtype=np.int64)
        m, towards = 0, 0
        for k in range(used[i]):
            if weights[i, k] > 0 or k == slot:
                if k == slot:
                    towards = m
                slots[m] = k
                m += 1
        slots = slots[:m]
        if weights[i, slot] == 0:
            for b in range(m):
                g = _dot(atoms[i, slots[b]], s)
                gram[i, slot, slots[b]] = g
                gram[i, slots[b], slot] = g
        scores = np.empty(m)
        for a in range(m):
            acc = 0.0
            for b in range(m):
                acc += weights[i, slots[b]] * gram[i, slots[b], slots[a]]
            scores[a] = lin[i, slots[a]] - strength * acc
        _, worst = _extremes(scores, slots, weights[i])
        _pairwise(i, slots, towards, worst, scores, atoms, weights, gram, strength)
        for _ in range(local_steps):
            best, worst = _extremes(scores, slots, weights[i])
            if not scores[best] - scores[worst] > threshold:
                break
            _pairwise(i, slots, best, worst, scores, atoms, weights, gram, strength)
        for x in range(dim):
            acc = 0.0
            for a in range(m):
                acc += weights[i, slots[a]] * atoms[i, slots[a], x]
            y[i, x] = acc


@njit(cache=True)
def active_basis_batch(atoms, weights, rtol) -> np.ndarray:
    """An orthonormal basis (rows, zero-padded to ``atoms.shape[1]``) of ``V_i = span{a_k -
    a_r : α_k > 0}`` for each instance ``i`` (``a_r`` its first active atom).

    The differences are orthonormalised by modified Gram-Schmidt, twice (``Δᵀ = QR``; a
    difference whose remainder is below ``rtol`` times its length depends on the earlier
    ones and gets a zero row of ``Q`` and of ``R``); the singular values of ``R`` are those
    of ``Δ``, and the left singular vectors of ``R``
    for the singular values above ``rtol`` times the largest give the basis ``Q U``: the
    rank decision of an SVD of ``Δ`` at a cost of ``O(m²D + m³)`` for ``m`` atoms."""
    n, slots, dim = atoms.shape
    basis = np.zeros((n, slots, dim))
    for i in range(n):
        active = np.flatnonzero(weights[i] > 0)
        m = active.shape[0] - 1
        if m <= 0:
            continue
        ref = atoms[i, active[0]]
        q = np.zeros((m, dim))
        r = np.zeros((m, m))
        for k in range(m):
            v = atoms[i, active[k + 1]] - ref
            length = np.sqrt(np.dot(v, v))
            for _ in range(2):
                for j in range(k):
                    c = np.dot(q[j], v)
                    r[j, k] += c
                    v -= c * q[j]
            norm = np.sqrt(np.dot(v, v))
            # a difference in the span of the earlier ones leaves only rounding behind:
            # normalised, that would be a unit row not orthogonal to the others
            if norm > length * rtol:
                r[k, k] = norm
                q[k] = v / norm
        u, sv, _ = np.linalg.svd(r)
        if sv[0] <= 0:
            continue
        keep = 0
        while keep < m and sv[keep] > sv[0] * rtol:
            keep += 1
        basis[i, :keep] = np.ascontiguousarray(u[:, :keep].T) @ q
    return basis
