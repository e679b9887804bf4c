#!/bin/sh
# The planned grid of docs/results/pyepo-side-by-side.md, niced, in three phases.
# Resumable: run it again to continue (finished runs in the CSV are skipped).
#
#   sh benchmarks/pyepo_side_by_side/grid.sh > runs/pyepo_side_by_side/grid.log 2>&1 &
#
# CSV (default runs/pyepo_side_by_side/results.csv) and SEEDS (default 0-2) may be set.
CSV=${CSV:-runs/pyepo_side_by_side/results.csv}
SEEDS=${SEEDS:-0-2}
run() {
    PYTHONPATH=${PYTHONPATH:-$PWD} nice -n 15 python -m benchmarks.pyepo_side_by_side run \
        --csv "$CSV" "$@"
}
# 1. shortest path, every method, both libraries
run --problems shortest_path --seeds "$SEEDS"
# 2. PyEPO's DBB and DPO against the optimum in the prediction's precision (methods.py)
run --problems shortest_path --seeds "$SEEDS" --deg 1,6 --noise 0.5 --sides pyepo \
    --methods dbb_exact_optimum,dpo_exact_optimum
# 3. 2-D knapsack: PyEPO's side, and diffsolvers' when it has a dedicated solver
#    (with --knapsack-solver lp the generic backend: slower than PyEPO per solve)
if python -c "import solvers, sys; sys.exit('multi_knapsack' not in solvers.problems())"; then
    run --problems knapsack --seeds 0
else
    run --problems knapsack --seeds 0 --sides pyepo
fi
