"""diffsolvers: differentiable combinatorial solvers for PyTorch by stochastic perturbation.

Berthet et al., "Learning with Differentiable Perturbed Optimizers", NeurIPS 2020.
"""

__version__ = "0.1.0"
