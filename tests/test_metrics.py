"""superinfo_lib.metrics: the one reader of metrics.jsonl."""

import json

import pytest

from superinfo_lib.metrics import MetricsLog, epoch_history, read_metrics


def test_epoch_history_averages_the_epoch(tmp_path):
    lines = [
        {"kind": "config"},
        {
            "kind": "step",
            "epoch": 0,
            "step": 2,
            "lr": 0.1,
            "beta_12": 0,
            "beta_21": 0,
            "loss": 4.0,
            "nce": 4.0,
            "kl_12": 2.0,
            "kl_21": 3.0,
            "mi_lower_bound": 1.0,
        },
        {
            "kind": "step",
            "epoch": 0,
            "step": 4,
            "lr": 0.2,
            "beta_12": 0,
            "beta_21": 0,
            "loss": 2.0,
            "nce": 2.0,
            "kl_12": 4.0,
            "kl_21": 5.0,
            "mi_lower_bound": 3.0,
        },
        {"kind": "epoch", "epoch": 0, "step": 4, "epoch_time_s": 1.5, "complete": True, "knn_top1": 0.25},
    ]
    path = tmp_path / "metrics.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    (row,) = epoch_history(path)
    assert row == {
        "epoch": 1,
        "epoch_time_s": 1.5,
        "loss": 3.0,
        "nce": 3.0,
        "kl_12": 3.0,
        "kl_21": 4.0,
        "mi_lower_bound": 2.0,
        "lr": 0.2,
        "beta_12": 0,
        "beta_21": 0,
        "knn_top1": 0.25,
    }


def test_log_then_read_by_kind(tmp_path):
    log = MetricsLog(tmp_path / "metrics.jsonl")
    log.write({"kind": "config", "loss": "simclr"})
    log.write({"kind": "step", "step": 1})
    log.close()
    assert [r["kind"] for r in read_metrics(tmp_path)] == ["config", "step"]
    assert read_metrics(tmp_path / "metrics.jsonl", kind="step") == [{"kind": "step", "step": 1}]
    MetricsLog(None).write({"kind": "ignored"})  # other ranks write nothing
    with pytest.raises(FileNotFoundError, match="nowhere"):
        read_metrics(tmp_path / "nowhere")
