"""The settings each CIFAR-10 notebook runs with, by profile; the notebook chooses the profile.

    smoke  a CPU check of the code path (what CI runs): notebook 5 trains a small convnet for a
           few steps; notebook 6 reads the stored encoders on a few thousand images;
    cpu    real, on a CPU: notebook 5 trains the CPU study's recipe for 5 epochs per method (what
           `make train` runs); notebook 6 evaluates the stored encoders on all of CIFAR-10 (what
           "auto" picks there on a CPU);
    gpu    sized for a free Colab T4 session (what "auto" picks on a GPU);
    full   the real run, for a large GPU.

`course.resolve_profile` turns "auto" into one of them; `describe_training` and
`describe_evaluation` say in one line what the chosen profile will do and how long it takes.
"""

from __future__ import annotations

METHODS = ("simclr", "mib", "superinfo")


def _training(
    arch, epochs, batch_size, train_limit, test_limit, knn_every, linear_epochs, log_every, temperature=None
):
    return {
        "methods": list(METHODS),
        "arch": arch,
        "epochs": epochs,
        "batch_size": batch_size,
        "train_limit": train_limit,
        "test_limit": test_limit,
        "knn_every": knn_every,
        "linear_epochs": linear_epochs,
        "log_every": log_every,
        "temperature": temperature,  # None: the loss preset's
    }


# Notebook 5. Smoke trains in batches of 64 pairs: the activations of 128 pairs would cost
# ~150 MB more of a 2 GB Binder session.
TRAINING = {
    "smoke": _training("small", 1, 64, 1024, 500, knn_every=1, linear_epochs=50, log_every=1),
    # The CPU study's recipe (superinfo_lib.train.CPU_RECIPE), 5 epochs: `make train`, per method.
    "cpu": _training(
        "small", 5, 256, None, None, knn_every=1, linear_epochs=100, log_every=20, temperature=0.2
    ),
    "gpu": _training("resnet18", 15, 512, None, None, knn_every=5, linear_epochs=100, log_every=20),
    # The trainer's GPU defaults (superinfo_lib.train.GPU_RECIPE).
    "full": _training("resnet18", 100, 512, None, None, knn_every=10, linear_epochs=100, log_every=20),
}
TRAINING_TIME = {
    "smoke": "about 1 minute on 2 CPU cores (measured)",
    "cpu": "about 40 minutes on 2 CPU cores (measured)",
    "gpu": "an ESTIMATED 30-45 minutes on a free Colab T4 (not measured)",
    "full": "an ESTIMATED 10-20 minutes per method on an H100-class GPU (not yet timed)",
}


def _stored(train_limit, test_limit, map_images, probe_images):
    """How notebook 6 looks at the CPU study's stored encoders (superinfo_lib.pretrained)."""
    return {
        "train_limit": train_limit,
        "test_limit": test_limit,
        "map_images": map_images,  # test images placed on each 2-D map
        "probe_images": probe_images,  # test images for the augmentation probe
        "queries": 6,  # retrieval: query images, one row each
        "neighbours": 7,
        "neighbour_queries": 1000,  # test images whose neighbours are counted (the numbers under the picture)
    }


def _own_runs(profile, robustness_images, probe_images):
    """How notebook 6 evaluates notebook 5's checkpoints of the same profile (GPU profiles)."""
    t = TRAINING[profile]
    return {
        "train_limit": t["train_limit"],
        "test_limit": t["test_limit"],
        "linear_epochs": 100,
        "robustness_images": robustness_images,
        "few_label": [10, 100],
        "probe_images": probe_images,
    }


# Notebook 6: the stored encoders on every profile; notebook 5's own checkpoints on a GPU.
EVALUATION = {
    "smoke": {"methods": list(METHODS), "stored": _stored(5000, 1000, 1000, 1000), "own_runs": None},
    "cpu": {"methods": list(METHODS), "stored": _stored(None, None, 3000, 5000), "own_runs": None},
    "gpu": {
        "methods": list(METHODS),
        "stored": _stored(None, None, 3000, 5000),
        "own_runs": _own_runs("gpu", robustness_images=10000, probe_images=10000),
    },
    "full": {
        "methods": list(METHODS),
        "stored": _stored(None, None, 3000, 5000),
        "own_runs": _own_runs("full", robustness_images=10000, probe_images=10000),
    },
}
EVALUATION_TIME = {
    "smoke": "about 1 minute on 2 CPU cores (measured)",
    "cpu": "about 3-5 minutes on 2 CPU cores (measured)",
    "gpu": "an ESTIMATED 3-5 minutes on a T4 (not measured)",
    "full": "an ESTIMATED 3-5 minutes on an H100-class GPU (not measured)",
}


def _images(settings: dict) -> str:
    if settings["train_limit"] is None:
        return "all 50,000 training images"
    return f"{settings['train_limit']:,} training images"


def describe_training(profile: str, settings: dict) -> str:
    """One line: what notebook 5 will train under `profile`, and how long it takes."""
    s = settings
    return (
        f"Profile {profile!r}: {', '.join(s['methods'])} - {s['epochs']} epoch(s) each of the "
        f"{s['arch']} encoder on {_images(s)}, batch {s['batch_size']}; {TRAINING_TIME[profile]}."
    )


def describe_evaluation(profile: str, settings: dict) -> str:
    """One line: what notebook 6 will evaluate under `profile`, and how long it takes."""
    s, own = settings["stored"], settings["own_runs"]
    line = (
        f"Profile {profile!r}: the CPU study's stored encoders ({', '.join(settings['methods'])}, seed 0) on "
        f"{_images(s)}, maps of {s['map_images']:,} test images, augmentation probe on "
        f"{s['probe_images']:,}"
    )
    if own is not None:
        line += (
            f"; notebook 5's {profile} checkpoints on {_images(own)}, corruptions on "
            f"{own['robustness_images']:,} test images"
        )
    return f"{line}; {EVALUATION_TIME[profile]}."
