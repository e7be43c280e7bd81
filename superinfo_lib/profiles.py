"""The settings each CIFAR-10 notebook runs with, by profile; the notebook chooses the profile.

    smoke  a CPU check of the code path (what CI and Binder run): a small convnet, a few steps;
    gpu    sized for a free Colab T4 session (what "auto" picks on a GPU);
    full   the real run, for a large GPU.

`course.resolve_profile` turns "auto" into smoke or gpu; `describe_training` and
`describe_evaluation` say in one line what the chosen profile will do and how long it takes.
"""

from __future__ import annotations

METHODS = ("simclr", "mib", "superinfo")


def _training(arch, epochs, batch_size, train_limit, test_limit, knn_every, linear_epochs, log_every):
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
    }


# Notebook 5. Smoke trains in batches of 64 pairs: the activations of 128 pairs would cost
# ~150 MB more of a 2 GB Binder session.
TRAINING = {
    "smoke": _training("small", 1, 64, 1024, 500, knn_every=1, linear_epochs=50, log_every=1),
    "gpu": _training("resnet18", 15, 512, None, None, knn_every=5, linear_epochs=100, log_every=20),
    "full": _training("resnet18", 100, 512, None, None, knn_every=10, linear_epochs=100, log_every=20),
}
TRAINING_TIME = {
    "smoke": "about 1 minute on 2 CPU cores (measured)",
    "gpu": "an ESTIMATED 30-45 minutes on a free Colab T4 (not measured)",
    "full": "an ESTIMATED 10-20 minutes per method on an H100-class GPU (not yet timed)",
}

_TRAINING_KEYS_FOR_EVALUATION = ("arch", "epochs", "batch_size", "knn_every", "linear_epochs", "log_every")


def _evaluation(profile, robustness_images, probe_images, train_missing):
    t = TRAINING[profile]
    return {
        "methods": list(METHODS),
        "train_limit": t["train_limit"],
        "test_limit": t["test_limit"],
        "linear_epochs": 100,
        "robustness_images": robustness_images,
        "few_label": [10, 100],
        "probe_images": probe_images,
        # Smoke: a missing checkpoint is trained on the spot with notebook 5's settings.
        "train_missing": train_missing,
        "train": {k: t[k] for k in _TRAINING_KEYS_FOR_EVALUATION},
    }


# Notebook 6: evaluates notebook 5's checkpoints of the same profile.
EVALUATION = {
    "smoke": _evaluation("smoke", robustness_images=64, probe_images=500, train_missing=True),
    "gpu": _evaluation("gpu", robustness_images=10000, probe_images=10000, train_missing=False),
    "full": _evaluation("full", robustness_images=10000, probe_images=10000, train_missing=False),
}
EVALUATION_TIME = {
    "smoke": "about 1 minute on 2 CPU cores (measured)",
    "gpu": "an ESTIMATED 2-4 minutes on a T4 (not measured)",
    "full": "an ESTIMATED 2-4 minutes on an H100-class GPU (not measured)",
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
    s = settings
    return (
        f"Profile {profile!r}: {', '.join(s['methods'])} evaluated on {_images(s)}; augmentation probe on "
        f"{s['probe_images']:,} test images, corruptions on {s['robustness_images']:,}; "
        f"{EVALUATION_TIME[profile]}."
    )
