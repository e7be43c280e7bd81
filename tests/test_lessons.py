"""superinfo_lib.lessons: the notebooks' bookkeeping, on the stored study and on tiny runs."""

import json

import pytest
import torch

from superinfo_lib import lessons, study
from superinfo_lib.data import synthetic_images
from superinfo_lib.losses import PRESETS
from superinfo_lib.profiles import TRAINING
from superinfo_lib.train import CPU_RECIPE


def test_train_config_follows_the_profile():
    cpu = lessons.train_config(TRAINING["cpu"], "mib", "runs/cpu/mib").resolve()
    assert (cpu.arch, cpu.epochs, cpu.batch_size) == ("small", 5, 256)
    assert cpu.preset.temperature == CPU_RECIPE["temperature"] == 0.2  # the CPU study's recipe
    assert cpu.preset.beta_12 == PRESETS["mib"].beta_12 and cpu.resume and cpu.seed == 0
    # The smoke profile keeps the loss preset's own temperature.
    smoke = lessons.train_config(TRAINING["smoke"], "simclr", "x", device="cpu").resolve()
    assert smoke.train_limit == 1024 and smoke.preset.temperature == PRESETS["simclr"].temperature


def test_train_methods_and_run_summary_on_a_tiny_run(tmp_path):
    settings = dict(TRAINING["smoke"], methods=["simclr", "mib"], train_limit=128, test_limit=64)
    settings.update(batch_size=32, knn_every=1, linear_epochs=5)
    data = synthetic_images(128, 64)
    finals = lessons.train_methods(settings, tmp_path, data, progress=False)
    assert set(finals) == {"simclr", "mib"}
    for method, final in finals.items():
        s = lessons.run_summary(tmp_path / method, final)
        assert s["final_step"] == s["total_steps"] == 4 and s["steps"] == 4  # 128 / 32, one epoch
        assert s["all_finite"] and s["knn_top1"] == final["knn_top1"]
        assert s["data_source"].startswith("synthetic")
    mib = lessons.run_summary(tmp_path / "mib", finals["mib"])
    assert mib["beta_12_first"] < mib["beta_12_last"]  # MIB's warm-up
    # A second call finds the finished runs and trains nothing more.
    again = lessons.train_methods(settings, tmp_path, data, progress=False)
    assert {m: f["step"] for m, f in again.items()} == {m: f["step"] for m, f in finals.items()}


def test_the_stored_study_by_method_and_seed():
    main, floor = lessons.study_runs("main"), lessons.study_runs("floor")
    assert set(main) == {"simclr", "mib", "superinfo"} and set(floor) == {"random-init"}
    for runs in (*main.values(), *floor.values()):
        assert [r["seed"] for r in runs] == [0, 1, 2] and all(r["complete"] for r in runs)
    line = lessons.provenance_line(main["simclr"])
    assert line.startswith("Measured on a CPU") and main["simclr"][0]["commit"][:10] in line


def test_comparison_summary_keeps_each_difference_and_its_words():
    main = lessons.study_runs("main")
    runs = [r for rs in main.values() for r in rs]
    rows = study.difference_rows(runs)
    summary = lessons.comparison_summary(main, lessons.study_sweeps(), rows)
    assert len(summary["differences"]) == len(rows)
    knn = summary["differences"]["mib:knn_top1"]
    by_seed = study.by_method(runs, "knn_top1")
    assert knn["mean"] == pytest.approx(study.paired_difference(by_seed["simclr"], by_seed["mib"])["mean"])
    assert knn["reading"] == study.verdict(knn)
    mean = sum(r["knn_top1"] for r in main["superinfo"]) / 3
    assert summary["means"]["superinfo"]["knn_top1"] == pytest.approx(mean)


def test_curves_summary_reads_the_per_epoch_history():
    main = lessons.study_runs("main")
    curves = lessons.curves_summary(main)
    run = main["simclr"][1]
    assert curves["simclr"]["seeds"] == 3
    assert curves["simclr"]["final_nce"][1] == run["per_epoch"][-1]["nce"]
    assert curves["simclr"]["first_nce"][1] == run["per_epoch"][0]["nce"]


def test_neighbour_agreement_known_values():
    neighbours = torch.tensor([[1, 1, 2, 3], [0, 0, 0, 0]])
    assert lessons.neighbour_agreement(neighbours, torch.tensor([1, 0])) == pytest.approx(6 / 8)
    assert lessons.neighbour_agreement(neighbours, torch.tensor([2, 1])) == pytest.approx(1 / 8)


def test_details_hides_the_body_one_click_away():
    html = lessons.details("Every difference", "| a |\n|---|")
    assert html.startswith("<details><summary>Every difference</summary>") and "| a |" in html
    assert html.endswith("</details>")


def test_save_key_figures_writes_the_notebooks_json(tmp_path, capsys):
    path = lessons.save_key_figures({"notebook": "06_evaluation", "x": torch.tensor(0.5).item()}, tmp_path)
    assert path == tmp_path / "06_evaluation.json"
    assert json.loads(path.read_text()) == {"notebook": "06_evaluation", "x": 0.5}
    assert str(path) in capsys.readouterr().out


def test_stored_encoders_are_the_published_seed():
    from superinfo_lib.pretrained import load_encoder

    encoders = lessons.stored_encoders(("simclr",), seed=1)
    assert set(encoders) == {"simclr"} and not encoders["simclr"].training
    # Seed 1's published weights, not seed 0's.
    weights = encoders["simclr"].state_dict()
    for name, other in (("main-simclr-s1", True), ("main-simclr-s0", False)):
        published = load_encoder(name, progress=False).state_dict()
        floats = [k for k in published if published[k].is_floating_point()]
        same = all(torch.equal(weights[k], published[k]) for k in floats)
        assert same is other, name


def test_evaluate_own_runs_is_the_one_evaluation_and_names_a_missing_run(tmp_path, capsys):
    """Notebook 6's GPU profiles evaluate notebook 5's checkpoints: each with evaluate_model under
    the profile's own_runs settings; a method without a checkpoint is named and skipped."""
    from superinfo_lib.checkpoint import load_checkpoint_model
    from superinfo_lib.data import load_cifar10
    from superinfo_lib.eval import evaluate_model

    own = {"train_limit": 256, "test_limit": 128, "linear_epochs": 2, "robustness_images": 0}
    own.update(few_label=[2], probe_images=128)
    settings = dict(TRAINING["smoke"], methods=["simclr", "mib"], train_limit=128, test_limit=64)
    settings.update(batch_size=32, knn_every=0, linear_epochs=0)
    lessons.train_methods(
        dict(settings, methods=["simclr"]), tmp_path, synthetic_images(128, 64), progress=False
    )
    evaluated = lessons.evaluate_own_runs(dict(settings, own_runs=own), tmp_path)
    assert set(evaluated) == {"simclr"} and "mib: no checkpoint" in capsys.readouterr().out
    model, _ = load_checkpoint_model(tmp_path / "simclr" / "checkpoint.pt", map_location="cpu")
    data = load_cifar10(download=True, train_limit=256, test_limit=128)
    expected = evaluate_model(model, data, linear_epochs=2, few_label=(2,), probe_images=128, mu_knn=True)
    for key in ("knn_top1", "knn_top1_mu", "aug_probe_mean_r2"):
        assert evaluated["simclr"][key] == pytest.approx(expected[key]), key


def test_show_gpu_results_shows_gpu_runs_only(tmp_path):
    assert lessons.show_gpu_results(tmp_path) == []  # an empty folder: none, and it says so
    common = {"format": 1, "kind": "run", "timestamp": "2026-11-27T00:00:00+00:00", "seed": 0}
    gpu = dict(common, device="NVIDIA H100", device_type="cuda", method="simclr", knn_top1=0.8)
    cpu = dict(common, device="cpu", device_type="cpu", method="mib", knn_top1=0.5)
    for name, record in (("run-gpu.json", gpu), ("run-cpu.json", cpu)):
        (tmp_path / name).write_text(json.dumps(record))
    (shown,) = lessons.show_gpu_results(tmp_path)
    assert shown["file"] == "run-gpu.json" and shown["method"] == "simclr" and shown["knn_top1"] == 0.8
