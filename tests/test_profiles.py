"""superinfo_lib.profiles: notebooks 5 and 6 run consistent settings, described in one line."""

import pytest

from superinfo_lib.losses import PRESETS
from superinfo_lib.profiles import (
    EVALUATION,
    EVALUATION_TIME,
    TRAINING,
    TRAINING_TIME,
    describe_evaluation,
    describe_training,
)
from superinfo_lib.train import TrainConfig


@pytest.mark.parametrize("profile", ["smoke", "cpu", "gpu", "full"])
def test_evaluation_reads_the_stored_encoders_everywhere_and_own_runs_on_a_gpu(profile):
    train, evaluate = TRAINING[profile], EVALUATION[profile]
    assert evaluate["methods"] == train["methods"] and set(train["methods"]) <= set(PRESETS)
    stored = evaluate["stored"]
    assert stored["map_images"] <= (stored["test_limit"] or 10000)
    assert stored["probe_images"] <= (stored["test_limit"] or 10000)
    assert stored["neighbour_queries"] <= (stored["test_limit"] or 10000)
    own = evaluate["own_runs"]
    assert (own is None) == (profile in ("smoke", "cpu"))  # only GPU profiles have checkpoints to read
    if own is not None:  # the images notebook 5 trained on
        assert (own["train_limit"], own["test_limit"]) == (train["train_limit"], train["test_limit"])


def test_cpu_training_profile_is_make_train():
    """Notebook 5's cpu profile trains what `make train` trains on a CPU (the trainer's CPU defaults)."""
    cpu = TRAINING["cpu"]
    defaults = TrainConfig(loss="superinfo", device="cpu").resolve()
    assert (cpu["arch"], cpu["epochs"], cpu["batch_size"]) == (
        defaults.arch,
        defaults.epochs,
        defaults.batch_size,
    )
    assert cpu["temperature"] == defaults.preset.temperature and cpu["train_limit"] is None


def test_full_training_profile_is_a_gpu_run_with_the_trainer_defaults():
    """Notebook 5's full profile trains what `python -m superinfo_lib.train` trains on a GPU."""
    full = TRAINING["full"]
    defaults = TrainConfig(loss="superinfo", device="cuda", precision="bf16").resolve()
    assert (full["arch"], full["epochs"], full["batch_size"], full["train_limit"]) == (
        defaults.arch,
        defaults.epochs,
        defaults.batch_size,
        None,
    )


@pytest.mark.parametrize("profile", ["smoke", "cpu", "gpu", "full"])
def test_every_training_profile_is_a_valid_trainer_config(profile):
    s = TRAINING[profile]
    cfg = TrainConfig(
        loss="superinfo", device="cpu", arch=s["arch"], epochs=s["epochs"], batch_size=s["batch_size"],
        train_limit=s["train_limit"], test_limit=s["test_limit"], knn_every=s["knn_every"],
        linear_epochs=s["linear_epochs"], log_every=s["log_every"],
    ).resolve()  # fmt: skip
    assert cfg.arch == s["arch"] and cfg.epochs == s["epochs"]


def test_one_line_says_what_runs_and_how_long():
    line = describe_training("smoke", TRAINING["smoke"])
    assert "\n" not in line and "1,024 training images" in line and TRAINING_TIME["smoke"] in line
    assert "small" in line and "batch 64" in line
    assert "all 50,000 training images" in describe_training("full", TRAINING["full"])
    line = describe_evaluation("gpu", EVALUATION["gpu"])
    assert "\n" not in line and "10,000 test images" in line and EVALUATION_TIME["gpu"] in line
    assert "ESTIMATED" in line  # unmeasured times say so
    line = describe_evaluation("cpu", EVALUATION["cpu"])
    assert "stored encoders" in line and "checkpoints" not in line and EVALUATION_TIME["cpu"] in line
