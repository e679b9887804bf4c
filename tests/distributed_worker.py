"""A torchrun worker for the distributed tests: the ``diffsolvers`` command line, with an
optional failure on purpose, or the BatchNorm check.

``torchrun ... tests/distributed_worker.py train warcraft ...`` runs the command as
``python -m diffsolvers`` would. ``DIFFSOLVERS_TEST_FAULT="rank=1,call=5,how=kill"`` makes
rank 1 fail as its 5th training step begins (the steps of every epoch counted together;
the moment is printed as ``injected HOW at UNIX-TIME``):
``kill`` (SIGKILL, as the out-of-memory killer would), ``stop`` (SIGSTOP: alive but silent,
as a hung process) or ``raise`` (a Python error). ``torchrun ... distributed_worker.py
batchnorm`` compares the global BatchNorm of two ranks with one BatchNorm2d on the whole
batch and prints ``OK``.
"""

from __future__ import annotations

import os
import signal
import sys
import time


def _inject(spec: str) -> None:
    from diffsolvers.experiments import warcraft

    fields = dict(item.split("=", 1) for item in spec.split(","))
    if int(os.environ["RANK"]) != int(fields["rank"]):
        return
    real, calls, how = warcraft._part_loss, [0], fields["how"]

    def part_loss(*args, **kwargs):
        calls[0] += 1
        if calls[0] == int(fields["call"]):
            print(f"injected {how} at {time.time():.3f}", file=sys.stderr, flush=True)
            if how == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            elif how == "stop":
                os.kill(os.getpid(), signal.SIGSTOP)
            else:
                raise RuntimeError("failure injected by the test")
        return real(*args, **kwargs)

    warcraft._part_loss = part_loss


def _batchnorm() -> None:
    """Two ranks with parts of 7 and 0 maps (then 4 and 3) of one batch: outputs, gradients
    and running statistics of the global BatchNorm against BatchNorm2d on all 7 maps."""
    import torch
    from torch import nn

    from diffsolvers.experiments.data_parallel import wrap_model
    from diffsolvers.experiments.distributed import setup, shard

    world = setup(torch.device("cpu"), timeout=60)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(7, 4, 5, 5, generator=generator) * 3 + 2
    target = torch.randn(7, 4, 5, 5, generator=generator)

    def net() -> nn.Module:
        torch.manual_seed(1)
        return nn.Sequential(
            nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.BatchNorm2d(4)
        )

    reference = net()
    out = reference(x)
    ((out - target) ** 2).mean().backward()
    for part in (slice(0, 7) if world.rank == 0 else slice(7, 7), shard(7, world)):
        model = net()
        ddp = wrap_model(model, world, torch.device("cpu"))
        mine = ddp(x[part])
        (((mine - target[part]) ** 2).sum() / target.numel()).backward()
        assert torch.allclose(mine, out[part], atol=1e-5), (mine - out[part]).abs().max()
        for (name, p), q in zip(reference.named_parameters(), model.parameters()):
            assert torch.allclose(p.grad, q.grad, rtol=1e-4, atol=1e-6), name
        for (name, b), c in zip(reference.named_buffers(), model.buffers()):
            assert torch.allclose(b.double(), c.double(), rtol=1e-5, atol=1e-7), name
        assert any(type(m).__name__ == "GlobalBatchNorm2d" for m in model.modules())
    print("OK", flush=True)


if __name__ == "__main__":
    if sys.argv[1:] == ["batchnorm"]:
        _batchnorm()
        sys.exit(0)
    if os.environ.get("DIFFSOLVERS_TEST_FAULT"):
        _inject(os.environ["DIFFSOLVERS_TEST_FAULT"])
    from diffsolvers.experiments.cli import main

    sys.exit(main())
