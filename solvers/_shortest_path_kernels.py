"""Numba kernels for the shortest path solvers (grid and general directed graphs).

Flat ``@njit`` functions on NumPy arrays, no Python objects. Each problem has one serial
kernel for a single instance and one batch kernel with a single ``prange`` loop over the
batch, compiled parallel and serial by :func:`solvers.runtime.parallel_kernel` (which also
runs batches below ``PARALLEL_MIN_SIZE`` entries serially: starting threads costs more than
solving a few small instances).
Every kernel works on float64 costs and writes 0/1 entries into a float64 ``y``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .runtime import parallel_kernel

#: Batches with fewer scalar entries (instances × instance size) than this run serially.
PARALLEL_MIN_SIZE = 2048

# Neighbour moves in the order of itertools.product((-1, 0, 1), (-1, 0, 1)), (0, 0) skipped;
# the 4-neighbourhood keeps the same order restricted to the four axis moves.
MOVES_8 = np.array(
    [[-1, -1], [-1, 0], [-1, 1], [0, -1], [0, 1], [1, -1], [1, 0], [1, 1]], dtype=np.int64
)
MOVES_4 = np.array([[-1, 0], [0, -1], [0, 1], [1, 0]], dtype=np.int64)


@njit(cache=True)
def _sift_up(hd, hi, pos, d, k):
    """Place ``(d, k)`` at ``pos`` of the heap ``hd, hi`` and move it up (hole method)."""
    while pos > 0:
        parent = (pos - 1) >> 1
        pd = hd[parent]
        if d < pd or (d == pd and k < hi[parent]):
            hd[pos] = pd
            hi[pos] = hi[parent]
            pos = parent
        else:
            break
    hd[pos] = d
    hi[pos] = k


@njit(cache=True)
def _pop_root(hd, hi, size):
    """Drop the root of the heap ``hd, hi[:size]`` (read it first); return the new size."""
    last = size - 1
    d = hd[last]
    k = hi[last]
    pos = 0
    while True:
        best = 2 * pos + 1
        if best >= last:
            break
        right = best + 1
        if right < last:
            rd = hd[right]
            ld = hd[best]
            if rd < ld or (rd == ld and hi[right] < hi[best]):
                best = right
        bd = hd[best]
        if bd < d or (bd == d and hi[best] < k):
            hd[pos] = bd
            hi[pos] = hi[best]
            pos = best
        else:
            break
    hd[pos] = d
    hi[pos] = k
    return last


@njit(cache=True)
def _padded_offsets(moves, w):
    """Index offsets of ``moves`` in a grid of width ``w`` padded by one cell on each side."""
    offsets = np.empty(moves.shape[0], dtype=np.int64)
    for m in range(moves.shape[0]):
        offsets[m] = moves[m, 0] * (w + 2) + moves[m, 1]
    return offsets


#: Grids with at most this many cells use the bucketed frontier (see :func:`grid_dijkstra`);
#: larger grids use the binary heap.
BUCKETED_FRONTIER_MAX_CELLS = 1024
#: Bucket width of the bucketed frontier: the largest cost of the instance / this number.
N_BUCKETS = 24
#: Number of bucket lists, a power of two above ``N_BUCKETS + 1``: the frontier's distances
#: lie in ``[d_min, d_min + max cost]``, so it spans at most ``N_BUCKETS + 2`` buckets.
BUCKET_RING = 32


@njit(cache=True)
def _insert_sorted(fd, fi, size, d, k):
    """Insert ``(d, k)`` into ``fd, fi[:size]``, sorted by decreasing ``(distance, key)``
    (the minimum last); return the new size."""
    pos = size
    while pos > 0:
        pd = fd[pos - 1]
        if pd < d or (pd == d and fi[pos - 1] < k):
            fd[pos] = pd
            fi[pos] = fi[pos - 1]
            pos -= 1
        else:
            break
    fd[pos] = d
    fi[pos] = k
    return size + 1


@njit(cache=True)
def grid_dijkstra(theta, offsets, y, pred, reached, padded, dist, nxt, head, fd, fi):
    """Vertex-weighted grid Dijkstra from ``(0, 0)`` to ``(H-1, W-1)`` on the costs
    ``cost = -theta`` (``>= 0``); writes the 0/1 path indicator into ``y``.

    ``dist(source) = cost(source)``, ``dist(v) = dist(u) + cost(v)``; cells are settled in
    ``(distance, cell index)`` = (distance, row, col) order; neighbours are scanned in
    ``moves`` order (``offsets`` from :func:`_padded_offsets`); a predecessor changes only
    on a strictly smaller distance.

    Costs sit on vertices, so every edge into ``v`` weighs ``cost(v)``: the first settled
    neighbour ``u`` of ``v`` has the smallest distance of all of them (cells are settled in
    non-decreasing distance), so the first relaxation ``dist(u) + cost(v)`` is final (also in
    floating point, rounding being monotone) and later ones are never strictly smaller.
    Hence every cell enters the frontier once, with its final distance and predecessor, and
    the frontier holds no stale entries: the same distances, predecessors and tie-breaking
    as the textbook lazy-deletion Dijkstra. For the same reason the search stops as soon as
    the target is first reached: its predecessor is then final, and every cell on the path
    back from it has been settled already.

    Frontier, for grids of up to :data:`BUCKETED_FRONTIER_MAX_CELLS` cells: a bucket queue
    (Dial, CACM 1969) with real-valued buckets. A cell at distance ``d`` belongs to bucket
    ``⌊d · N / c_max⌋`` (``N`` = :data:`N_BUCKETS`, ``c_max`` the instance's largest cost);
    the map is non-decreasing in ``d`` also in floating point, so a lower bucket never holds
    a larger ``(distance, index)``. The current bucket is an array sorted by decreasing
    ``(distance, index)`` (popped from its end); later buckets are unsorted lists
    (``head[b mod`` :data:`BUCKET_RING` ``]``, linked through ``nxt``, distances in ``dist``),
    sorted into the array when their turn comes. A relaxed cell lands in a later bucket
    unless its cost is below ``c_max / N``, so most insertions are O(1) and the sorts are of
    a few cells. Cells are still popped in exact ``(distance, index)`` order. Larger grids
    keep the frontier in a binary heap.

    The search runs on the grid padded by a border of cells marked reached, so a neighbour
    needs no bounds check; padded indices ``(r+1)(W+2) + c+1`` order cells as ``(r, c)``
    does, so ties break exactly as on the unpadded grid. ``pred, reached, padded, dist,
    nxt`` (``(H+2)(W+2)`` entries, ``reached`` true on the border), ``head``
    (:data:`BUCKET_RING` entries) and ``fd, fi`` (``H·W + 1`` entries) are scratch.
    """
    h, w = theta.shape
    wp = w + 2
    c_max = 0.0
    for r in range(h):
        base = (r + 1) * wp + 1
        for c in range(w):
            cost = 0.0 - theta[r, c]  # +0.0 where θ = ±0
            reached[base + c] = False
            padded[base + c] = cost
            c_max = max(c_max, cost)
            y[r, c] = 0.0
    source = wp + 1
    target = h * wp + w
    reached[source] = True
    fd[0] = padded[source]
    fi[0] = source
    size = 1
    found = source == target
    n_moves = offsets.shape[0]
    use_buckets = h * w <= BUCKETED_FRONTIER_MAX_CELLS  # the same branch for the whole search
    # Bucket scale; 0 (one bucket: a plain sorted frontier) if all costs are zero, if
    # distances could overflow or if the largest cost is so small (subnormal) that the
    # scale would.
    scale = N_BUCKETS / c_max if c_max > 0.0 else 0.0
    if not (scale < np.inf and c_max * (h * w) < np.inf):
        scale = 0.0
    current = np.int64(fd[0] * scale)
    pending = 0  # cells in the later buckets' lists
    for b in range(BUCKET_RING):
        head[b] = -1
    while not found:
        if use_buckets:
            if size == 0:
                if pending == 0:
                    break
                current += 1
                while head[current & (BUCKET_RING - 1)] < 0:
                    current += 1
                v = head[current & (BUCKET_RING - 1)]
                head[current & (BUCKET_RING - 1)] = -1
                while v >= 0:
                    size = _insert_sorted(fd, fi, size, dist[v], v)
                    pending -= 1
                    v = nxt[v]
            size -= 1
            du = fd[size]
            u = fi[size]
        else:
            if size == 0:
                break
            du = fd[0]
            u = fi[0]
            size = _pop_root(fd, fi, size)
        for m in range(n_moves):
            v = u + offsets[m]
            if reached[v]:
                continue
            reached[v] = True
            pred[v] = u
            if v == target:
                found = True
                break
            dv = du + padded[v]
            if not use_buckets:
                _sift_up(fd, fi, size, dv, v)
                size += 1
                continue
            bucket = np.int64(dv * scale)
            if bucket == current:
                size = _insert_sorted(fd, fi, size, dv, v)
            else:
                slot = bucket & (BUCKET_RING - 1)
                dist[v] = dv
                nxt[v] = head[slot]
                head[slot] = v
                pending += 1
    v = target
    while v != source:
        r = v // wp - 1
        y[r, v - (r + 1) * wp - 1] = 1.0
        v = pred[v]
    y[0, 0] = 1.0


@njit(cache=True)
def _grid_dijkstra_range(theta, offsets, y, start, stop):
    """:func:`grid_dijkstra` on instances ``start:stop``, one set of scratch arrays."""
    _, h, w = theta.shape
    n = (h + 2) * (w + 2)
    padded = np.empty(n)
    dist = np.empty(n)
    nxt = np.empty(n, dtype=np.int64)
    pred = np.empty(n, dtype=np.int64)
    reached = np.ones(n, dtype=np.bool_)  # the border stays reached
    head = np.empty(BUCKET_RING, dtype=np.int64)
    fd = np.empty(h * w + 1)
    fi = np.empty(h * w + 1, dtype=np.int64)
    for b in range(start, stop):
        grid_dijkstra(theta[b], offsets, y[b], pred, reached, padded, dist, nxt, head, fd, fi)


@parallel_kernel(min_size=PARALLEL_MIN_SIZE)
def grid_dijkstra_batch(theta, moves, n_chunks):
    """:func:`grid_dijkstra` on every ``(H, W)`` grid of a ``(B, H, W)`` batch ``θ = -costs``,
    cut into ``n_chunks`` chunks run in parallel (scratch arrays allocated once per chunk;
    each thread writes, and so first touches, its own part of the output)."""
    y = np.empty(theta.shape)
    offsets = _padded_offsets(moves, theta.shape[2])
    batch = theta.shape[0]
    n_chunks = max(1, min(batch, n_chunks))
    for chunk in prange(n_chunks):
        _grid_dijkstra_range(
            theta, offsets, y, chunk * batch // n_chunks, (chunk + 1) * batch // n_chunks
        )
    return y


@njit(cache=True)
def dag_longest_path(theta, n_nodes, order, out_ptr, out_edge, heads, tails, source, target, y):
    """Maximise ``Σ θ_e`` over source→target paths of a DAG by dynamic programming.

    Nodes are processed in topological ``order``; the out-edges of ``order[i]`` are
    ``out_edge[out_ptr[i]:out_ptr[i+1]]`` (edge-index order). A node's best incoming edge
    changes only on a strictly larger value, so ties go to the first edge relaxed.
    """
    best = np.full(n_nodes, -np.inf)
    pred = np.full(n_nodes, -1, dtype=np.int64)
    best[source] = 0.0
    for i in range(order.shape[0]):
        u = order[i]
        bu = best[u]
        if bu == -np.inf:
            continue
        for k in range(out_ptr[i], out_ptr[i + 1]):
            e = out_edge[k]
            v = heads[e]
            val = bu + theta[e]
            if val > best[v]:
                best[v] = val
                pred[v] = e
    v = target
    while v != source and pred[v] >= 0:  # pred < 0 only if the input checks were bypassed
        e = pred[v]
        y[e] = 1.0
        v = tails[e]


@parallel_kernel(min_size=PARALLEL_MIN_SIZE)
def dag_longest_path_batch(theta, n_nodes, order, out_ptr, out_edge, heads, tails, source, target):
    """:func:`dag_longest_path` on every row of a ``(B, n_edges)`` batch."""
    y = np.zeros(theta.shape)
    for b in prange(theta.shape[0]):
        dag_longest_path(
            theta[b], n_nodes, order, out_ptr, out_edge, heads, tails, source, target, y[b]
        )
    return y


@njit(cache=True)
def graph_dijkstra(cost, n_nodes, out_ptr, out_edge, heads, tails, source, target, y):
    """Dijkstra on a directed graph with non-negative edge ``cost``; marks the path in ``y``.

    The out-edges of node ``u`` are ``out_edge[out_ptr[u]:out_ptr[u+1]]`` (edge-index
    order). Heap entries are ordered by (distance, node); predecessors change only on a
    strictly smaller distance; the search stops when the target is popped.
    """
    dist = np.full(n_nodes, np.inf)
    pred = np.full(n_nodes, -1, dtype=np.int64)
    done = np.zeros(n_nodes, dtype=np.bool_)
    cap = heads.shape[0] + 1
    hd = np.empty(cap)
    hi = np.empty(cap, dtype=np.int64)
    dist[source] = 0.0
    hd[0] = 0.0
    hi[0] = source
    size = 1
    while size > 0:
        du = hd[0]
        u = hi[0]
        size = _pop_root(hd, hi, size)
        if done[u]:
            continue
        done[u] = True
        if u == target:
            break
        for k in range(out_ptr[u], out_ptr[u + 1]):
            e = out_edge[k]
            v = heads[e]
            if done[v]:
                continue
            nd = du + cost[e]
            if nd < dist[v]:
                dist[v] = nd
                pred[v] = e
                _sift_up(hd, hi, size, nd, v)
                size += 1
    v = target
    while v != source and pred[v] >= 0:  # pred < 0 only if the input checks were bypassed
        e = pred[v]
        y[e] = 1.0
        v = tails[e]


@parallel_kernel(min_size=PARALLEL_MIN_SIZE)
def graph_dijkstra_batch(costs, n_nodes, out_ptr, out_edge, heads, tails, source, target):
    """:func:`graph_dijkstra` on every row of a ``(B, n_edges)`` cost batch."""
    y = np.zeros(costs.shape)
    for b in prange(costs.shape[0]):
        graph_dijkstra(costs[b], n_nodes, out_ptr, out_edge, heads, tails, source, target, y[b])
    return y


@njit(cache=True)
def grid_distances(cost, moves):
    """Dijkstra distances from ``(0, 0)`` on a vertex-weighted grid: ``dist(v)`` is the least
    sum of the costs of a path's cells, both ends included (``cost >= 0``, flat row-major)."""
    h, w = cost.shape
    n = h * w
    dist = np.full(n, np.inf)
    done = np.zeros(n, dtype=np.bool_)
    hd = np.empty(moves.shape[0] * n + 1)  # a cell is pushed at most once per neighbour
    hi = np.empty(moves.shape[0] * n + 1, dtype=np.int64)
    dist[0] = cost[0, 0]
    _sift_up(hd, hi, 0, dist[0], 0)
    size = 1
    while size > 0:
        d = hd[0]
        u = hi[0]
        size = _pop_root(hd, hi, size)
        if done[u]:
            continue
        done[u] = True
        r = u // w
        c = u - r * w
        for m in range(moves.shape[0]):
            rr = r + moves[m, 0]
            cc = c + moves[m, 1]
            if 0 <= rr < h and 0 <= cc < w:
                v = rr * w + cc
                nd = d + cost[rr, cc]
                if nd < dist[v]:
                    dist[v] = nd
                    _sift_up(hd, hi, size, nd, v)
                    size += 1
    return dist


@njit(cache=True)
def grid_optimal_path_count(cost, moves, rtol):
    """Number of optimal ``(0, 0) → (H-1, W-1)`` paths of one grid (costs ``> 0``), as a
    float64: paths counted along the tight moves ``|dist(u) + c(v) - dist(v)| <= rtol·dist(v)``
    in increasing distance, ``N(source) = 1``, ``N(v) = Σ_{tight u → v} N(u)``."""
    h, w = cost.shape
    dist = grid_distances(cost, moves)
    order = np.argsort(dist)
    count = np.zeros(h * w)
    count[0] = 1.0
    for idx in range(h * w):
        v = order[idx]
        if v == 0:
            continue
        r = v // w
        c = v - r * w
        total = 0.0
        for m in range(moves.shape[0]):
            rr = r + moves[m, 0]
            cc = c + moves[m, 1]
            if 0 <= rr < h and 0 <= cc < w:
                u = rr * w + cc
                # dist(u) < dist(v) holds for every tight u (c(v) > 0): u comes earlier.
                if dist[u] < dist[v] and abs(dist[u] + cost[r, c] - dist[v]) <= rtol * dist[v]:
                    total += count[u]
        count[v] = total
    return count[h * w - 1]


@parallel_kernel(min_size=PARALLEL_MIN_SIZE)
def grid_optimal_path_counts(costs, moves, rtol):
    """:func:`grid_optimal_path_count` of each grid of a ``(B, H, W)`` batch."""
    out = np.empty(costs.shape[0])
    for b in prange(costs.shape[0]):
        out[b] = grid_optimal_path_count(costs[b], moves, rtol)
    return out
