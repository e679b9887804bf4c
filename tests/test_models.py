"""The Warcraft CNN: shapes, non-negative costs, the ResNet18 stem structure, options."""

from __future__ import annotations

import pytest
import torch

from diffsolvers.experiments.models import WarcraftCNN


@pytest.mark.parametrize("k", [12, 18])
def test_output_shape_and_non_negative(k):
    torch.manual_seed(0)
    model = WarcraftCNN(k)
    images = torch.randn(3, 3, 8 * k, 8 * k) * 5 - 2  # includes large negative inputs
    for mode in (model.train, model.eval):
        mode()
        costs = model(images)
        assert costs.shape == (3, k, k)
        assert costs.dtype == torch.float32
        assert torch.isfinite(costs).all() and (costs >= 0).all()
        assert costs.std() > 0  # depends on the image, not a constant


def test_resnet18_stem_structure():
    model = WarcraftCNN(12)
    # the parameter count of torchvision's resnet18 conv1 + bn1 + layer1
    assert sum(p.numel() for p in model.parameters()) == 157_504
    keys = set(model.state_dict())
    for key in ("conv1.weight", "bn1.running_mean", "layer1.0.conv1.weight", "layer1.1.bn2.bias"):
        assert key in keys
    assert model.conv1.bias is None and model.conv1.stride == (2, 2)
    assert model.features(torch.zeros(1, 3, 96, 96)).shape == (1, 64, 24, 24)


def test_channels_last_gives_the_same_costs():
    torch.manual_seed(1)
    plain = WarcraftCNN(12).eval()
    fast = WarcraftCNN(12, channels_last=True).eval()
    fast.load_state_dict(plain.state_dict())
    assert fast.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    images = torch.randn(2, 3, 96, 96)
    torch.testing.assert_close(fast(images), plain(images), atol=1e-5, rtol=1e-5)


def test_positivity_options_and_gradients():
    torch.manual_seed(2)
    images = torch.randn(2, 3, 96, 96)
    base = WarcraftCNN(12).eval()
    for positive in ("abs", "softplus"):
        other = WarcraftCNN(12, positive=positive).eval()
        other.load_state_dict(base.state_dict())
        expected = base(images)
        expected = expected.abs() if positive == "abs" else torch.nn.functional.softplus(expected)
        torch.testing.assert_close(other(images), expected)
    soft = WarcraftCNN(12, positive="softplus")
    costs = soft(images)
    assert (costs > 0).all()
    costs.sum().backward()
    assert soft.conv1.weight.grad is not None and soft.conv1.weight.grad.abs().sum() > 0


def test_bad_arguments():
    with pytest.raises(ValueError, match="positive"):
        WarcraftCNN(12, positive="relu")
    with pytest.raises(ValueError, match="k must be"):
        WarcraftCNN(0)
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        WarcraftCNN(12)(torch.zeros(3, 96, 96))
