"""The CNN of a distributed run: DistributedDataParallel, batch statistics of the global batch.

:func:`wrap_model` makes N processes train one model as a single process would on their
global batch of G maps, rank r holding a part of ``n_r`` maps:

* **Gradients summed, not averaged.** Each rank's loss is its part's mean loss times
  ``n_r / G``, and DistributedDataParallel sums the gradients (:func:`sum_gradients`, its
  communication hook) instead of averaging them, so every rank steps with the gradient of
  the global batch's mean loss, and each layer receives, per map, the incoming gradient a
  single process would give it. That matters for the methods whose backward pass solves
  again at ``θ + λ·∂L/∂ŷ`` (blackbox, I-MLE): averaged gradients of per-rank means would
  scale their ``λ`` by N.
* **Batch statistics of the global batch.** Every BatchNorm normalises a training batch
  with the mean and variance of the global batch, as one process would: on CUDA through
  :class:`torch.nn.SyncBatchNorm`; on the CPU, which it does not support, through
  :class:`GlobalBatchNorm2d`, one all-reduce of per-channel sums per layer and pass. Both
  keep BatchNorm's parameter and buffer names, so checkpoints load in either world.

The result still differs from a single process in the last bits: floating-point sums run
in another order (the gradients' all-reduce, the statistics' sums, convolutions on smaller
batches), and perturbed methods draw their noise per rank.

Example::

    ddp = wrap_model(WarcraftCNN(12), world, torch.device("cpu"))   # after setup()
    loss = objective(ddp(x_part), ...) * (len(x_part) / global_batch)
    loss.backward()                                  # gradients summed over ranks

Reference: Ioffe & Szegedy, "Batch Normalization", ICML 2015 (the statistics); PyTorch,
"DistributedDataParallel" and "DDP Communication Hooks".
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from .distributed import World

__all__ = ["GlobalBatchNorm2d", "all_reduce_sum_grad", "wrap_model", "unwrap", "sum_gradients"]


class _AllReduceSum(torch.autograd.Function):
    """``y = Σ_ranks x``; the gradient of a sum is the sum of the ranks' gradients."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        out = x.clone()
        dist.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        out = grad.contiguous().clone()
        dist.all_reduce(out)
        return out


def all_reduce_sum_grad(x: torch.Tensor) -> torch.Tensor:
    """The sum of ``x`` over the ranks of the default process group, differentiable."""
    return _AllReduceSum.apply(x)


class GlobalBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d whose training statistics are those of the batch of every rank together.

    Per channel ``c``, over all ranks' ``n = Σ_r n_r`` values (``n_r`` = batch × pixels of
    rank r)::

        μ = Σ_r n_r μ_r / n        σ² = Σ_r n_r (σ_r² + μ_r²) / n − μ²

    with ``μ_r, σ_r²`` from :func:`torch.var_mean` on each rank's part (accurate in float32)
    and the combination in float64 (no cancellation at float32 precision). The running
    statistics take the unbiased ``σ² n / (n − 1)``, as BatchNorm2d's. A rank with an empty
    part adds nothing and still takes part in the all-reduce. In evaluation mode, or outside
    a process group, it is BatchNorm2d.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_available() and dist.is_initialized()):
            return super().forward(x)
        self._check_input_dim(x)
        channels = x.shape[1]
        n_local = x.numel() // max(channels, 1)
        if n_local:
            var, mean = torch.var_mean(x, dim=(0, 2, 3), unbiased=False)
            parts = torch.stack([mean, var + mean * mean]).double() * n_local
        else:
            parts = x.new_zeros((2, channels), dtype=torch.float64) + x.sum().double() * 0
        count = torch.full((1, channels), float(n_local), dtype=torch.float64)
        sums = all_reduce_sum_grad(torch.cat([parts, count.to(parts.device)]))
        n = sums[2, 0].detach()
        mean = sums[0] / n
        var = (sums[1] / n - mean * mean).clamp_min(0.0)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                momentum = (
                    1.0 / float(self.num_batches_tracked)
                    if self.momentum is None
                    else self.momentum
                )
                unbiased = var * (n / (n - 1)) if n > 1 else var
                self.running_mean.lerp_(mean.to(self.running_mean.dtype), momentum)
                self.running_var.lerp_(unbiased.to(self.running_var.dtype), momentum)
        scale = torch.rsqrt(var + self.eps).to(x.dtype)
        shift = mean.to(x.dtype)
        y = (x - shift[None, :, None, None]) * scale[None, :, None, None]
        if self.affine:
            y = y * self.weight[None, :, None, None] + self.bias[None, :, None, None]
        return y


def _global_batchnorm(module: nn.Module) -> nn.Module:
    """``module`` with every BatchNorm2d replaced by a :class:`GlobalBatchNorm2d` holding the
    same parameter and buffer objects (an optimizer built on them still trains them)."""
    for name, child in module.named_children():
        if type(child) is nn.BatchNorm2d:
            bn = GlobalBatchNorm2d(
                child.num_features,
                eps=child.eps,
                momentum=child.momentum,
                affine=child.affine,
                track_running_stats=child.track_running_stats,
            )
            for key, value in [*child._parameters.items(), *child._buffers.items()]:
                setattr(bn, key, value)
            bn.train(child.training)
            setattr(module, name, bn)
        else:
            _global_batchnorm(child)
    return module


def sum_gradients(state, bucket):  # unannotated: DDP checks real annotations, not strings
    """DDP communication hook ``(None, GradBucket) -> Future[Tensor]``: the sum of the
    ranks' gradients (DDP's default divides it by the number of ranks)."""
    work = dist.all_reduce(bucket.buffer(), async_op=True)
    return work.get_future().then(lambda fut: fut.value()[0])


def wrap_model(model: nn.Module, world: World, device: torch.device) -> nn.Module:
    """``model`` (on ``device``) for training on the ranks of ``world``: itself for one
    process; else wrapped in DistributedDataParallel, with global batch statistics and
    summed gradients (module doc). Every rank starts from rank 0's parameters and buffers."""
    if not world.active:
        return model
    if device.type == "cuda":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        ddp = DistributedDataParallel(model, device_ids=[device.index], output_device=device.index)
    else:
        ddp = DistributedDataParallel(_global_batchnorm(model))
    ddp.register_comm_hook(None, sum_gradients)
    return ddp


def unwrap(model: nn.Module) -> nn.Module:
    """The module inside a DistributedDataParallel wrapper (``model`` itself otherwise)."""
    return model.module if isinstance(model, DistributedDataParallel) else model
