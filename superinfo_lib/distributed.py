"""Helpers for torchrun / DistributedDataParallel. With one process they do nothing.

    torchrun --standalone --nproc_per_node=4 -m superinfo_lib.train --loss superinfo

Gradient bookkeeping (tests/test_distributed.py checks it against one process):
each rank's loss is the mean over its own 2N anchors, contrasted with all 2WN
gathered candidates. `gather_with_grad` sends back to every rank the *sum* of all
ranks' gradients for its rows, and DDP then *averages* the parameter gradients
over the W ranks, so the update equals one process's gradient of the mean loss
over all 2WN anchors.
"""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn as nn


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def setup(device_type: str) -> DistInfo:
    """Join the process group torchrun describes in the environment (RANK, WORLD_SIZE, ...)."""
    if "RANK" not in os.environ or int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return DistInfo()
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device_type == "cuda":
        torch.cuda.set_device(local_rank)  # before NCCL starts, so each rank uses its own GPU
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device_type == "cuda" else "gloo")
    return DistInfo(dist.get_rank(), dist.get_world_size(), local_rank)


def cleanup() -> None:
    if dist.is_initialized():
        # Collect reference cycles that may still hold the group before destroying it: left to
        # interpreter exit, a gloo rank sometimes aborted ("terminate called without an active
        # exception"). This makes that rare here, not impossible.
        gc.collect()
        dist.destroy_process_group()


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


class _GatherWithGrad(torch.autograd.Function):
    """all_gather whose backward sums every rank's gradient for this rank's rows."""

    @staticmethod
    def forward(ctx, t):
        parts = [torch.empty_like(t) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, t.contiguous())
        return torch.cat(parts)

    @staticmethod
    def backward(ctx, grad):
        world, rank = dist.get_world_size(), dist.get_rank()
        grad = grad.contiguous()
        if dist.get_backend() == "nccl":
            mine = torch.empty_like(grad[: grad.shape[0] // world])
            dist.reduce_scatter_tensor(mine, grad)
            return mine
        dist.all_reduce(grad)  # gloo has no reduce_scatter: sum everything, keep our slice
        return grad.chunk(world)[rank]


def gather_with_grad(t: torch.Tensor) -> torch.Tensor:
    """(N, D) per process -> (W*N, D), in rank order; gradients flow back to each rank's rows.

    Every rank must pass the same N (the trainer's per-process batch is fixed)."""
    return t if world_size() == 1 else _GatherWithGrad.apply(t)


class _AllReduceSum(torch.autograd.Function):
    """Sum over ranks; the gradient of a sum is every rank's gradient, summed."""

    @staticmethod
    def forward(ctx, t):
        t = t.clone()
        dist.all_reduce(t)
        return t

    @staticmethod
    def backward(ctx, grad):
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


class CPUSyncBatchNorm(nn.modules.batchnorm._BatchNorm):
    """Batch norm whose training statistics span the batches of all processes.

    torch's nn.SyncBatchNorm only runs on GPUs; this one runs anywhere (gloo), so the
    CPU tests train exactly what a multi-GPU run trains. Same maths as BatchNorm on the
    concatenated global batch; gradients flow through the all-reduces. Outside
    training, or with one process, it is plain BatchNorm. State-dict keys are BatchNorm's.
    """

    def _check_input_dim(self, x):
        if x.dim() < 2:
            raise ValueError(f"expected at least 2D input, got {x.dim()}D")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or world_size() == 1:
            return super().forward(x)
        x = x.to(torch.promote_types(x.dtype, torch.float32))  # bf16 / fp16 autocast: stats in fp32
        dims = [0, *range(2, x.dim())]  # all but the channel dimension
        shape = [1, -1] + [1] * (x.dim() - 2)
        count = torch.full((1,), x.numel() / x.shape[1], dtype=x.dtype, device=x.device)
        sum_and_count = _AllReduceSum.apply(torch.cat([x.sum(dims), count]))
        n = sum_and_count[-1]
        mean = sum_and_count[:-1] / n
        var = _AllReduceSum.apply((x - mean.view(shape)).pow(2).sum(dims)) / n  # biased, as BatchNorm
        y = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                momentum = self.momentum if self.momentum is not None else 1 / self.num_batches_tracked.item()
                self.running_mean.lerp_(mean, momentum)
                self.running_var.lerp_(var * n / (n - 1), momentum)  # unbiased, as BatchNorm
        return y


def convert_sync_batchnorm(model: nn.Module, device_type: str) -> nn.Module:
    """Every BatchNorm -> synchronised batch norm: torch's on CUDA, CPUSyncBatchNorm elsewhere."""
    if device_type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(model)
    if isinstance(model, nn.modules.batchnorm._BatchNorm) and not isinstance(model, CPUSyncBatchNorm):
        sync = CPUSyncBatchNorm(
            model.num_features, model.eps, model.momentum, model.affine, model.track_running_stats
        )
        # Share the same parameters and buffers, like torch's converter does.
        for name in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
            setattr(sync, name, getattr(model, name))
        sync.train(model.training)
        return sync
    for name, child in model.named_children():
        model.add_module(name, convert_sync_batchnorm(child, device_type))
    return model


@torch.no_grad()
def gather_rows(t: torch.Tensor) -> torch.Tensor:
    """Concatenate (N_r, ...) tensors of every rank (sizes may differ), in rank order, no grad."""
    if world_size() == 1:
        return t
    world = dist.get_world_size()
    size = torch.tensor([t.shape[0]], device=t.device)
    sizes = [torch.zeros_like(size) for _ in range(world)]
    dist.all_gather(sizes, size)
    longest = int(max(s.item() for s in sizes))
    padded = torch.zeros((longest, *t.shape[1:]), dtype=t.dtype, device=t.device)
    padded[: t.shape[0]] = t
    parts = [torch.zeros_like(padded) for _ in range(world)]
    dist.all_gather(parts, padded)
    return torch.cat([p[: int(s.item())] for p, s in zip(parts, sizes)])


def barrier() -> None:
    if world_size() > 1:
        dist.barrier()


def all_reduce_mean(t: torch.Tensor) -> torch.Tensor:
    if world_size() > 1:
        t = t.clone()
        dist.all_reduce(t)
        t /= dist.get_world_size()
    return t


def all_reduce_min(t: torch.Tensor) -> torch.Tensor:
    if world_size() > 1:
        t = t.clone()
        dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return t
