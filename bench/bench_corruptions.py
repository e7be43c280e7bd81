"""How long generating the corrupted test sets takes, against one training epoch.

Corrupts the test images (all 10,000 by default) at every corruption x severity 1-5 of
superinfo_lib.corruptions on the chosen device, and prints seconds and images/s per corruption
and in total. On CUDA it also times one training epoch of the real model (ResNet-18 CIFAR stem
SuperInfoModel, batch 512 pairs, two views, the trainer's step in the device's precision,
channels_last, on a fixed pre-augmented batch: 97 steps ~ 50,000 pairs) and prints the ratio
corruption time / epoch time (target < 1: corrupting the test set on the fly costs less than an
epoch of training). The last line is the summary as JSON.

    python bench/bench_corruptions.py --device cuda
    python bench/bench_corruptions.py --device cpu --images 1000
    python bench/bench_corruptions.py --smoke          # CPU, a few images, tiny model: the code path
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from superinfo_lib.corruptions import CORRUPTIONS, corrupt, corruption_seed
from superinfo_lib.data import load_cifar10, two_views
from superinfo_lib.losses import PRESETS
from superinfo_lib.models import SuperInfoModel
from superinfo_lib.step import choose_precision, make_scaler, training_step

SEVERITIES = (1, 2, 3, 4, 5)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_corruptions(images: torch.Tensor, batch_size: int) -> dict[str, float]:
    """Seconds per corruption (all severities), `batch_size` images per call, as robustness_eval."""
    device = images.device
    for name in CORRUPTIONS:  # warm-up: kernels, caches, lazy initialisation
        corrupt(images[:batch_size], name, 1, torch.Generator(device=device).manual_seed(0))
    sync(device)
    seconds = {}
    for name in CORRUPTIONS:
        start = time.perf_counter()
        for severity in SEVERITIES:
            g = torch.Generator(device=device).manual_seed(corruption_seed(0, name, severity))
            for i in range(0, len(images), batch_size):
                corrupt(images[i : i + batch_size], name, severity, g)
        sync(device)
        seconds[name] = time.perf_counter() - start
    return seconds


def time_epoch(images: torch.Tensor, arch: str, batch_size: int, steps: int, warmup: int = 5) -> float:
    """Seconds for `steps` of the trainer's step (superinfo_lib.step.training_step) on one fixed
    batch of two views, in the device's precision."""
    device = images.device
    torch.manual_seed(0)
    model = SuperInfoModel(arch).to(device)
    cuda = device.type == "cuda"
    if cuda:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(
        model.parameters(), lr=0.12, momentum=0.9, weight_decay=5e-4, **({"fused": True} if cuda else {})
    )
    precision = choose_precision(device)
    scaler = make_scaler(device, precision)
    g = torch.Generator(device=device).manual_seed(0)
    views = two_views(images[torch.arange(batch_size, device=device) % len(images)], g, channels_last=cuda)

    def step():
        training_step(
            model, optimizer, views, PRESETS["superinfo"], precision=precision, scaler=scaler, generator=g
        )

    for _ in range(warmup):
        step()
    sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    return time.perf_counter() - start


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", choices=["cpu", "cuda"], default=None, help="default: cuda if available")
    parser.add_argument(
        "--images", type=int, default=None, help="test images to corrupt (default 10,000; 64 with --smoke)"
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=1000,
        help="images per corrupt() call (default 1000, as robustness_eval)",
    )
    parser.add_argument(
        "--data", default=None, help="CIFAR-10 pack or folder (default: the library's search)"
    )
    parser.add_argument(
        "--epoch",
        choices=["auto", "yes", "no"],
        default="auto",
        help="time a training epoch (auto: on CUDA, and a tiny one with --smoke)",
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's; 1 with --smoke)"
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="CPU-sized: 64 images, a tiny model and 2 steps; proves the code path, "
        "its numbers are not figures",
    )
    args = parser.parse_args(argv)
    if args.threads or args.smoke:
        torch.set_num_threads(args.threads or 1)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device here")
    n_images = args.images or (64 if args.smoke else 10_000)
    data = load_cifar10(args.data, train_limit=1, test_limit=n_images)
    images = data.test_x.to(device)
    if len(images) < n_images:
        parser.error(f"--images {n_images}: only {len(images)} test images found")
    batch_size = min(args.batch_size, len(images))
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(
        f"device {name}, torch threads {torch.get_num_threads()}, {len(images)} images x "
        f"{len(CORRUPTIONS)} corruptions x {len(SEVERITIES)} severities, {batch_size} images per call"
    )

    cpu_start = time.process_time()
    seconds = time_corruptions(images, batch_size)
    cpu_s = time.process_time() - cpu_start  # all threads of this process; wall time also counts waits
    per_corruption = len(images) * len(SEVERITIES)
    for corruption, s in seconds.items():
        print(f"  {corruption:<18} {s:8.3f} s  {per_corruption / s:12,.0f} images/s")
    total = sum(seconds.values())
    corrupted = per_corruption * len(CORRUPTIONS)
    print(f"  {'all':<18} {total:8.3f} s  {corrupted / total:12,.0f} images/s  (process CPU {cpu_s:.1f} s)")
    summary = {
        "device": name,
        "images": len(images),
        "corruptions": len(CORRUPTIONS),
        "severities": len(SEVERITIES),
        "batch_size": batch_size,
        "threads": torch.get_num_threads(),
        "corruption_s": total,
        "corruption_process_cpu_s": cpu_s,
        "images_per_s": corrupted / total,
        "per_corruption_s": seconds,
        "smoke": args.smoke,
        "epoch_s": None,
        "ratio_corruption_to_epoch": None,
    }

    run_epoch = args.epoch == "yes" or (args.epoch == "auto" and (device.type == "cuda" or args.smoke))
    if run_epoch:
        arch, train_batch, steps = ("small", 16, 2) if args.smoke else ("resnet18", 512, 97)
        warmup = 1 if args.smoke else 5
        epoch_s = time_epoch(images, arch, train_batch, steps, warmup)
        ratio = total / epoch_s
        print(
            f"training epoch ({arch}, {steps} steps of {train_batch} pairs, two views"
            f", {choose_precision(device)}): {epoch_s:.3f} s"
        )
        print(
            f"corruption time / epoch time: {ratio:.3f} (target < 1: "
            f"{'met' if ratio < 1 else 'NOT met'}){' [smoke: not a figure]' if args.smoke else ''}"
        )
        summary.update(
            epoch_s=epoch_s,
            ratio_corruption_to_epoch=ratio,
            epoch_arch=arch,
            epoch_steps=steps,
            epoch_batch=train_batch,
        )
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
