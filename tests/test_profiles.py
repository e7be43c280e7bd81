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


@pytest.mark.parametrize("profile", ["smoke", "gpu", "full"])
def test_evaluation_reads_what_training_of_the_same_profile_wrote(profile):
    train, evaluate = TRAINING[profile], EVALUATION[profile]
    assert evaluate["methods"] == train["methods"] and set(train["methods"]) <= set(PRESETS)
    for key, value in evaluate["train"].items():
        assert train[key] == value, key  # a smoke checkpoint trained in notebook 6 is notebook 5's
    assert (evaluate["train_limit"], evaluate["test_limit"]) == (train["train_limit"], train["test_limit"])
    assert evaluate["train_missing"] == (profile == "smoke")  # only tiny runs are trained on the spot


@pytest.mark.parametrize("profile", ["smoke", "gpu", "full"])
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
