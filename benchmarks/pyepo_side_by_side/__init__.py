"""PyEPO's synthetic benchmark run side by side with diffsolvers, on the very same data.

For each experiment of the PyEPO paper's tables that fits one small machine (shortest path
on the 5×5 grid and the 2-D knapsack; polynomial degree 1, 2, 4, 6; noise half-width 0 and
0.5; 100 and 1,000 training instances; 1,000 test instances), one data set is drawn per
(problem, degree, noise, size, seed) and the same linear model is trained on it

* with diffsolvers (:func:`diffsolvers.experiments.synthetic.train_synthetic`, the code
  behind ``diffsolvers compare synthetic``), and
* with PyEPO itself (``pyepo.func``, OR-Tools models: GLOP for the path LP, SCIP for the
  knapsack MIP),

recording each library's normalised test regret and training time in one CSV. Modules:
:mod:`.problems` (data, split, solvers of both libraries, agreement checks), :mod:`.methods`
(the method table with PyEPO's hyper-parameters), :mod:`.ours` and :mod:`.theirs` (one
training run each), :mod:`.grid` (the resumable grid, and the merge of results files run
apart, e.g. one process per seed), :mod:`.table` (Markdown table and figure from the CSV).

    python -m benchmarks.pyepo_side_by_side estimate
    nice -n 15 python -m benchmarks.pyepo_side_by_side run --seeds 0-2 --csv runs/pyepo/results.csv
    python -m benchmarks.pyepo_side_by_side merge runs/pyepo/all.csv runs/pyepo/*.csv
    python -m benchmarks.pyepo_side_by_side table runs/pyepo/all.csv

Reference: Tang & Khalil, "PyEPO: a PyTorch-based end-to-end predict-then-optimize library
for linear and integer programming", Math. Prog. Comp. 16 (2024); the experiment scripts of
its repository (khalil-research/PyEPO, branch ``MPC``).
"""
