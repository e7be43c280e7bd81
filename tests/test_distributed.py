"""Multi-process training on CPU: two processes, the gloo backend, the loopback address.

What a multi-GPU run relies on, checked against one process on the same data:
gathered InfoNCE negatives (loss and gradients), synchronised batch norm, DDP's
gradient averaging, kNN over sharded features; then the real trainer under
torchrun: identical weights on both ranks, only rank 0 writes, and a run
interrupted and resumed continues exactly like an uninterrupted one.

Process start-up dominates the cost, so two launches serve every test: one spawn
(the maths, then a run stopped and resumed) and one `torchrun` of the CLI.
"""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn as nn

from superinfo_lib import distributed
from superinfo_lib import train as train_module
from superinfo_lib.data import synthetic_images
from superinfo_lib.eval import extract_features, knn_accuracy
from superinfo_lib.losses import info_nce, superinfo_loss
from superinfo_lib.models import SuperInfoModel

REPO = Path(__file__).resolve().parent.parent
WORLD = 2
PAIRS_PER_RANK = 4
LOSS_KW = dict(lambda_pred=1.0, beta_12=0.01, beta_21=0.02, temperature=0.5)
# The trainer runs: 63 images -> shards of 32 and 31 -> both ranks must agree on 3 steps of
# 8 pairs per epoch; 2 epochs; stopped mid-way through the second epoch.
TRAIN_ARGS = dict(
    loss="superinfo",
    arch="small",
    synthetic=True,
    train_limit=63,
    test_limit=32,
    batch_size=8,
    epochs=2,
    knn_every=1,
    linear_epochs=0,
    log_every=1,
    device="cpu",
    seed=0,
)
TOTAL_STEPS, STOP_AT = 6, 4


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _entry(rank: int, fn, port: int, args: tuple) -> None:
    """Runs in each spawned process: join a gloo group the way torchrun would, then call fn."""
    torch.set_num_threads(1)
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(WORLD),
        OMP_NUM_THREADS="1",
    )
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    try:
        fn(rank, *args)
    finally:
        dist.destroy_process_group()


def run_in_processes(fn, *args, timeout_s: float = 300) -> None:
    """fn(rank, *args) in WORLD spawned processes; a worker's exception fails the test."""
    context = mp.spawn(_entry, args=(fn, free_port(), args), nprocs=WORLD, join=False)
    deadline = time.monotonic() + timeout_s
    while not context.join(timeout=1):
        if time.monotonic() > deadline:  # mismatched collectives can hang instead of failing
            for process in context.processes:
                process.kill()
            pytest.fail(f"the {WORLD} processes did not finish within {timeout_s} s")


# ----------------------------------------------------------------------------- the maths


def small_model() -> SuperInfoModel:
    torch.manual_seed(0)
    return SuperInfoModel("small", latent_dim=16, proj_hidden=64, proj_out=32).double()


class NoiseGiven(nn.Module):
    """SuperInfoModel's forward with the latent noise passed in, so that one process
    and two processes draw the same eps for the same pair."""

    def __init__(self, model: SuperInfoModel):
        super().__init__()
        self.model = model

    def forward(self, x, eps):
        mu, logvar = self.model.head(self.model.backbone(x))
        return self.model.projector(mu + torch.exp(0.5 * logvar) * eps), mu, logvar


def batch(total_pairs: int):
    """Float64 views x1, x2 (P, 3, 16, 16), noise eps1, eps2 (P, 16), projections p1, p2 (P, 32)."""
    g = torch.Generator().manual_seed(1)
    x1, x2 = torch.randn(2, total_pairs, 3, 16, 16, generator=g, dtype=torch.float64)
    eps1, eps2 = torch.randn(2, total_pairs, 16, generator=g, dtype=torch.float64)
    p1, p2 = torch.randn(2, total_pairs, 32, generator=g, dtype=torch.float64)
    return x1, x2, eps1, eps2, p1, p2


def model_loss(net, x1, x2, eps1, eps2, rank=0, gather=False):
    p, mu, logvar = net(torch.cat([x1, x2]), torch.cat([eps1, eps2]))
    (p1, p2), (mu1, mu2), (lv1, lv2) = p.chunk(2), mu.chunk(2), logvar.chunk(2)
    gathered = (distributed.gather_with_grad(p1), distributed.gather_with_grad(p2)) if gather else None
    return superinfo_loss(p1, p2, mu1, lv1, mu2, lv2, **LOSS_KW, gathered=gathered, rank=rank)["loss"]


def knn_data():
    return synthetic_images(n_train=300, n_test=60, seed=3)


def _maths_worker(rank: int, out_dir: str) -> None:
    mine = slice(rank * PAIRS_PER_RANK, (rank + 1) * PAIRS_PER_RANK)
    x1, x2, eps1, eps2, p1, p2 = (t[mine] for t in batch(WORLD * PAIRS_PER_RANK))
    result = {}

    # Embedding level: this rank's N pairs against the 2WN gathered candidates.
    p1, p2 = p1.clone().requires_grad_(), p2.clone().requires_grad_()
    nce = info_nce(
        p1,
        p2,
        LOSS_KW["temperature"],
        rank=rank,
        gathered=(distributed.gather_with_grad(p1), distributed.gather_with_grad(p2)),
    )
    nce.backward()
    result.update(nce=nce.detach(), p1_grad=p1.grad, p2_grad=p2.grad)

    # Model level: synchronised batch norm + DDP + gathered negatives, then one SGD step.
    model = distributed.convert_sync_batchnorm(small_model(), "cpu")
    ddp = nn.parallel.DistributedDataParallel(NoiseGiven(model))
    loss = model_loss(ddp, x1, x2, eps1, eps2, rank=rank, gather=True)
    loss.backward()
    result["loss"] = loss.detach()
    result["grads"] = {k: v.grad.clone() for k, v in model.named_parameters()}
    torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9).step()
    result["state_after_step"] = model.state_dict()
    result["sync_bn_layers"] = sum(isinstance(m, distributed.CPUSyncBatchNorm) for m in model.modules())

    # kNN monitor on this rank's shard of the training and test sets.
    data = knn_data()
    knn_model = small_model().float()
    result["knn"] = train_module.sharded_knn(
        knn_model.backbone,
        data.train_x[rank::WORLD],
        data.train_y[rank::WORLD],
        data.test_x[rank::WORLD],
        data.test_y[rank::WORLD],
        len(data.classes),
    )[0]
    torch.save(result, Path(out_dir) / f"maths_rank{rank}.pt")


def _worker(rank: int, out_dir: str) -> None:
    _maths_worker(rank, out_dir)
    _resume_worker(rank, out_dir)


@pytest.fixture(scope="module")
def spawned(tmp_path_factory) -> Path:
    """One spawn of two processes serves the maths tests and the stop-and-resume run."""
    out = tmp_path_factory.mktemp("spawned")
    run_in_processes(_worker, str(out))
    return out


@pytest.fixture(scope="module")
def maths(spawned):
    return [torch.load(spawned / f"maths_rank{r}.pt", weights_only=True) for r in range(WORLD)]


def test_gathered_infonce_equals_single_process_loss_and_gradients(maths):
    x1, x2, eps1, eps2, p1, p2 = batch(WORLD * PAIRS_PER_RANK)
    p1, p2 = p1.clone().requires_grad_(), p2.clone().requires_grad_()
    reference = info_nce(p1, p2, LOSS_KW["temperature"])  # one process, 2N pairs
    reference.backward()
    # Each rank's loss is the mean over its own anchors; equal anchor counts -> the global mean.
    assert torch.allclose(sum(m["nce"] for m in maths) / WORLD, reference, rtol=1e-12, atol=0)
    # Rank r's rows receive the gradient of the *sum* of the W rank losses, i.e. W x the
    # gradient of the global mean; DDP's averaging over W ranks divides it back out.
    for rank, m in enumerate(maths):
        rows = slice(rank * PAIRS_PER_RANK, (rank + 1) * PAIRS_PER_RANK)
        assert torch.allclose(m["p1_grad"] / WORLD, p1.grad[rows], rtol=1e-10, atol=1e-14)
        assert torch.allclose(m["p2_grad"] / WORLD, p2.grad[rows], rtol=1e-10, atol=1e-14)
    # Not trivially equal: the two ranks' anchors give different losses.
    assert not torch.allclose(maths[0]["nce"], maths[1]["nce"])


def test_ddp_with_sync_batchnorm_equals_single_process_step(maths):
    x1, x2, eps1, eps2, _, _ = batch(WORLD * PAIRS_PER_RANK)
    model = small_model()  # plain BatchNorm, one process
    loss = model_loss(NoiseGiven(model), x1, x2, eps1, eps2)
    loss.backward()
    assert (
        maths[0]["sync_bn_layers"]
        == sum(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
        > 0
    )
    assert torch.allclose(sum(m["loss"] for m in maths) / WORLD, loss.detach(), rtol=1e-10, atol=0)
    for rank, m in enumerate(maths):
        for name, param in model.named_parameters():
            assert torch.allclose(m["grads"][name], param.grad, rtol=1e-8, atol=1e-12), (rank, name)
    torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9).step()
    # After the step: both ranks hold the single-process weights and batch-norm statistics.
    for name, value in model.state_dict().items():
        for m in maths:
            after = m["state_after_step"][name].to(value.dtype)
            assert torch.allclose(after, value, rtol=1e-8, atol=1e-12), name
        assert torch.equal(maths[0]["state_after_step"][name], maths[1]["state_after_step"][name]), name


def test_knn_monitor_over_shards_equals_single_process(maths):
    data = knn_data()
    model = small_model().float()
    features = [extract_features(model.backbone, x) for x in (data.train_x, data.test_x)]
    reference = knn_accuracy(features[0], data.train_y, features[1], data.test_y, len(data.classes))
    assert reference > 0.3  # well above chance (0.1): a label/feature mix-up across ranks would show
    for m in maths:
        assert m["knn"] == pytest.approx(reference, abs=1e-9)


def test_sync_batchnorm_conversion():
    torch.manual_seed(0)
    plain = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    synced = distributed.convert_sync_batchnorm(SuperInfoModel("small"), "cpu")
    assert not any(type(m) in (nn.BatchNorm1d, nn.BatchNorm2d) for m in synced.modules())
    on_gpus = distributed.convert_sync_batchnorm(SuperInfoModel("small"), "cuda")  # torch's, GPU-only
    assert sum(isinstance(m, nn.SyncBatchNorm) for m in on_gpus.modules()) == 5
    converted = distributed.convert_sync_batchnorm(nn.Sequential(*plain), "cpu")
    assert isinstance(converted[1], distributed.CPUSyncBatchNorm)
    assert converted[1].weight is plain[1].weight and converted[1].running_var is plain[1].running_var
    x = torch.randn(5, 3, 8, 8)
    assert torch.equal(converted(x), plain(x))  # no process group: plain batch norm


# ----------------------------------------------------------------------------- the trainer


def _resume_worker(rank: int, out_dir: str) -> None:
    """Train to STOP_AT, then resume to the end, in the same two processes. Each rank saves
    the model it trained (the trainer itself lets only rank 0 write)."""
    built = []

    class Recorded(SuperInfoModel):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            built.append(self)

    train_module.SuperInfoModel = Recorded
    out = str(Path(out_dir) / "resumed")
    config = train_module.TrainConfig
    first = train_module.train(config(**TRAIN_ARGS, out=out, stop_at_step=STOP_AT), progress=False)
    resumed = train_module.train(config(**TRAIN_ARGS, out=out, resume=True), progress=False)
    torch.save(
        {"state": built[-1].state_dict(), "first_step": first["step"], "final": resumed},
        Path(out_dir) / f"trained_rank{rank}.pt",
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory, spawned):
    root = tmp_path_factory.mktemp("runs")
    # 1. The CLI, unchanged, under torchrun: uninterrupted.
    port = free_port()
    flags = []
    for name, value in TRAIN_ARGS.items():
        flags += [f"--{name.replace('_', '-')}"] + ([] if value is True else [str(value)])
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            f"--nproc_per_node={WORLD}",
            "--master_addr=127.0.0.1",
            f"--master_port={port}",
            "-m",
            "superinfo_lib.train",
            *flags,
            "--out",
            str(root / "full"),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # 2. The same run, stopped at STOP_AT and resumed in the spawned processes (_resume_worker).
    return {
        "full": root / "full",
        "resumed": spawned / "resumed",
        "stdout": proc.stdout,
        "states": [torch.load(spawned / f"trained_rank{r}.pt", weights_only=True) for r in range(WORLD)],
    }


def records(run_dir: Path, kind: str) -> list[dict]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["kind"] == kind]


def test_torchrun_cli_trains_and_only_rank_0_writes(runs):
    full = runs["full"]
    assert sorted(p.name for p in full.iterdir()) == ["checkpoint.pt", "final.json", "metrics.jsonl"]
    steps = records(full, "step")
    assert [r["step"] for r in steps] == list(range(1, TOTAL_STEPS + 1))  # each step once: one writer
    assert len(records(full, "config")) == 1 and len(records(full, "final")) == 1
    assert records(full, "config")[0]["world_size"] == WORLD
    assert records(full, "config")[0]["lr"] == pytest.approx(0.06 * 8 * WORLD / 256)  # global batch
    assert all(math.isfinite(r["loss"]) for r in steps)
    # The negatives span the global batch of 16 pairs: the bound is log(2 x 16 - 1) - nce.
    assert steps[0]["mi_lower_bound"] == pytest.approx(math.log(2 * 16 - 1) - steps[0]["nce"], abs=1e-5)
    epochs = records(full, "epoch")
    assert [e["epoch"] for e in epochs] == [0, 1] and all(0 <= e["knn_top1"] <= 1 for e in epochs)
    assert runs["stdout"].count("epoch 1/2:") == 1  # rank 0 alone prints


def test_ranks_keep_identical_weights(runs):
    a, b = (s["state"] for s in runs["states"])
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name
    assert any(name.endswith("running_mean") for name in a)  # BN statistics too


def test_interrupted_and_resumed_run_continues_like_an_uninterrupted_one(runs):
    full, resumed = runs["full"], runs["resumed"]
    assert all(s["first_step"] == STOP_AT and s["final"]["step"] == TOTAL_STEPS for s in runs["states"])
    resumed_steps = records(resumed, "step")
    assert [r["step"] for r in resumed_steps] == list(range(1, TOTAL_STEPS + 1))  # continues at STOP_AT + 1
    for a, b in zip(records(full, "step"), resumed_steps):
        for key in ("loss", "nce", "kl_12", "kl_21", "lr"):
            assert b[key] == pytest.approx(a[key], rel=1e-5, abs=1e-7), (a["step"], key)
    full_ckpt = torch.load(full / "checkpoint.pt", weights_only=True)
    resumed_ckpt = torch.load(resumed / "checkpoint.pt", weights_only=True)
    assert full_ckpt["step"] == resumed_ckpt["step"] == TOTAL_STEPS
    for name, value in full_ckpt["model"].items():
        assert torch.allclose(resumed_ckpt["model"][name].float(), value.float(), rtol=1e-4, atol=1e-6), name
