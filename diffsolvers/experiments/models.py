"""Models for the benchmarks: the standard Warcraft cost-prediction CNN.

:class:`WarcraftCNN` is the network used throughout the Warcraft shortest-path literature
(Vlastelica et al., ICLR 2020; Berthet et al., NeurIPS 2020; Niepert et al., NeurIPS 2021):
the stem of an *untrained* ResNet18 (He et al., CVPR 2016) — ``conv1`` (7×7, stride 2, 64
channels, no bias), ``bn1``, ReLU, max-pool (3×3, stride 2, padding 1) and ``layer1`` (two
basic residual blocks, 64 → 64) — followed by ``AdaptiveMaxPool2d((k, k))`` and the mean
over the 64 channels, giving one cost per grid cell.

Non-negativity. The last operation of a basic block is a ReLU, and max-pooling and averaging
keep non-negative numbers non-negative, so the mean over channels is already ``>= 0``; the
original blackbox code applies nothing further, and neither does the default here
(``positive="none"``). ``positive="abs"`` (a no-op on these values, kept for configurations
ported from code that used it) and ``positive="softplus"`` (strictly positive, with a
gradient everywhere, at the price of an offset of at least log 2) are available.

Implemented in plain torch (no torchvision); the layer names and the weight initialisation
(Kaiming-normal, fan-out, for convolutions; BatchNorm weight 1, bias 0) follow torchvision's
``resnet18``, so its ``state_dict`` keys for these layers match.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["BasicBlock", "WarcraftCNN"]

_POSITIVE = ("none", "abs", "softplus")


class BasicBlock(nn.Module):
    """ResNet basic block with identity shortcut: ``relu(bn2(conv2(relu(bn1(conv1 x)))) + x)``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(channels, channels, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + x)


class WarcraftCNN(nn.Module):
    """Map image ``(B, 3, 8k, 8k)`` → non-negative cell costs ``(B, k, k)``.

    Parameters
    ----------
    k:
        Grid size (12, 18, 24 or 30 in the Warcraft data); the output is ``(B, k, k)``.
    in_channels:
        Image channels (3 for RGB).
    positive:
        ``"none"`` (default; the output is already ``>= 0``, see the module docstring),
        ``"abs"`` or ``"softplus"``.
    channels_last:
        Convert the module and its inputs to the channels-last memory format (faster
        convolutions on CPU).
    """

    def __init__(
        self,
        k: int = 12,
        *,
        in_channels: int = 3,
        positive: str = "none",
        channels_last: bool = False,
    ) -> None:
        super().__init__()
        if int(k) < 1:
            raise ValueError(f"WarcraftCNN: k must be a positive grid size, got {k}")
        if positive not in _POSITIVE:
            raise ValueError(
                f"WarcraftCNN: unknown positive={positive!r}; choose one of {', '.join(_POSITIVE)}"
            )
        self.k = int(k)
        self.positive = positive
        self.channels_last = bool(channels_last)
        self.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = nn.Sequential(BasicBlock(64), BasicBlock(64))
        self.pool = nn.AdaptiveMaxPool2d((self.k, self.k))
        self._init_weights()
        if self.channels_last:
            self.to(memory_format=torch.channels_last)

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The ResNet18 stem: ``(B, 64, 2k, 2k)`` feature maps for an ``(B, 3, 8k, 8k)`` input."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer1(x)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.ndim != 4:
            raise ValueError(
                f"WarcraftCNN: expected images of shape (B, C, H, W), got {tuple(images.shape)}"
            )
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        costs = self.pool(self.features(images)).mean(dim=1)
        if self.positive == "abs":
            costs = costs.abs()
        elif self.positive == "softplus":
            costs = F.softplus(costs)
        return costs
