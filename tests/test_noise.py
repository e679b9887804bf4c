"""Noise distributions: moments, scores and reproducible sampling."""

from __future__ import annotations

import math

import pytest
import torch

from diffsolvers.noise import Gumbel, Normal, get_noise

N = 200_000


def _draw(noise, seed=0, n=N, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    return noise.sample((n,), generator=gen, device="cpu", dtype=dtype)


def _within(sample: torch.Tensor, expected: float, k: float = 5.0) -> bool:
    se = sample.std() / math.sqrt(sample.numel())
    return abs(sample.mean().item() - expected) < k * se.item()


@pytest.mark.parametrize(
    ("noise", "mean", "var"),
    [(Normal(), 0.0, 1.0), (Gumbel(), 0.5772156649015329, math.pi**2 / 6)],
)
def test_moments(noise, mean, var):
    z = _draw(noise)
    assert _within(z, mean)
    assert _within((z - mean) ** 2, var)
    assert noise.mean == pytest.approx(mean)


@pytest.mark.parametrize("noise", [Normal(), Gumbel()])
def test_score_has_mean_zero(noise):
    assert _within(noise.score(_draw(noise)), 0.0)


def test_scores_are_gradients_of_minus_log_density():
    z = torch.linspace(-3, 3, 13, dtype=torch.float64, requires_grad=True)
    for noise, nu in ((Normal(), lambda t: t**2 / 2), (Gumbel(), lambda t: t + torch.exp(-t))):
        (grad,) = torch.autograd.grad(nu(z).sum(), z)
        torch.testing.assert_close(noise.score(z.detach()), grad)


@pytest.mark.parametrize(("noise", "sigma"), [(Normal(), 0.7), (Gumbel(), 0.3)])
def test_log_mgf_makes_multiplicative_weights_mean_one(noise, sigma):
    w = torch.exp(sigma * _draw(noise) - noise.log_mgf(sigma))
    assert _within(w, 1.0)


def test_gumbel_log_mgf_needs_sigma_below_one():
    with pytest.raises(ValueError, match="σ < 1"):
        Gumbel().log_mgf(1.0)


@pytest.mark.parametrize("noise", [Normal(), Gumbel()])
def test_same_generator_seed_same_sample(noise):
    a, b, c = _draw(noise, 3, 10), _draw(noise, 3, 10), _draw(noise, 4, 10)
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("dtype", [torch.float16, torch.float32, torch.float64])
def test_sample_dtype_and_shape(dtype):
    z = Gumbel().sample((2, 3, 4), dtype=dtype)
    assert z.shape == (2, 3, 4) and z.dtype == dtype and torch.isfinite(z).all()


def test_get_noise():
    assert isinstance(get_noise("normal"), Normal)
    assert isinstance(get_noise("Gumbel"), Gumbel)
    g = Gumbel()
    assert get_noise(g) is g
    with pytest.raises(ValueError, match="available noises: gumbel, normal"):
        get_noise("cauchy")
    with pytest.raises(TypeError, match="floating point"):
        Normal().sample((2,), dtype=torch.int64)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_sample_on_cuda_with_cpu_generator():
    gen = torch.Generator().manual_seed(0)
    z = Normal().sample((5,), generator=gen, device="cuda", dtype=torch.float32)
    assert z.device.type == "cuda"
    torch.testing.assert_close(z.cpu(), _draw(Normal(), 0, 5, torch.float32))
