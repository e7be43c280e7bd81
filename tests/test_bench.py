"""bench/ and experiments/: the GPU scripts' CPU smoke modes, ratios and the budget guard.

The smoke runs prove the code paths and the JSON they write; their numbers are not figures.
"""

import importlib.util
import math
import tarfile
from pathlib import Path

import pytest
import torch

from superinfo_lib import claim, distributed, jobs, results, train
from superinfo_lib.models import SuperInfoModel

ROOT = Path(__file__).resolve().parent.parent


def load_script(relative_path: str):
    """Import a script of the repository (not a package module) by its path."""
    spec = importlib.util.spec_from_file_location(Path(relative_path).stem, ROOT / relative_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench_gpu = load_script("bench/bench_gpu.py")
gpu_runs = load_script("experiments/gpu_runs.py")

TINY = ["--smoke", "--synthetic", "--train-limit", "128", "--test-limit", "64", "--device", "cpu"]


def dirs(tmp_path):
    return [
        "--results-dir",
        str(tmp_path / "res"),
        "--work-dir",
        str(tmp_path / "work"),
        "--out",
        str(tmp_path / "out"),
    ]


def test_ratios_and_targets_from_rows():
    rows = [
        {"name": "compute_limit", "batch_size": 512, "epoch_s": 1.0},
        {"name": "compute_limit_graph", "batch_size": 512, "epoch_s": 0.8},
        {"name": "trainer", "batch_size": 512, "epoch_s": 0.9, "projected_100_epochs_s": 95.0},
        {"name": "tutorial_all_cores", "batch_size": 512, "epoch_s": 3.6},
        {"name": "tutorial_2_workers", "batch_size": 512, "epoch_s": 9.0},
        {
            "name": "project_compiled",
            "batch_size": 512,
            "epoch_s": 0.82,
            "epoch_s_with_compile_over_100": 1.22,
        },
        {"name": "project_graph", "error": "RuntimeError: capture failed"},
    ]
    r = bench_gpu.ratios(rows, 512)
    assert r["compute_limit_row"] == "compute_limit_graph"  # the fastest fixed-batch row
    assert r["trainer_over_compute_limit"] == pytest.approx(0.9 / 0.8)
    assert r["speedup_vs_tutorial_all_cores"] == pytest.approx(4.0)
    assert r["speedup_vs_tutorial_2_workers"] == pytest.approx(10.0)
    assert r["fastest_project_row"] == "project_compiled"
    assert r["fastest_project_over_compute_limit"] == pytest.approx(1.22 / 0.8)  # compile time counted
    t = bench_gpu.check_targets(r)
    assert t["trainer_over_compute_limit"]["met"] is True  # 1.125 <= 1.15
    assert t["speedup_vs_tutorial_all_cores"]["met"] is True  # 4 >= 2.5
    assert t["speedup_vs_tutorial_2_workers"]["met"] is False  # 10 < 15
    assert t["trainer_100_epochs_s"]["met"] is True


def test_bench_smoke_writes_benchmark_json(tmp_path):
    rows = ["compute_limit", "trainer", "project", "tutorial_2_workers"]  # plan order
    assert (
        bench_gpu.main(
            TINY
            + dirs(tmp_path)
            + ["--batch-size", "16", "--steps", "1", "--trainer-epochs", "1", "--only", *rows]
        )
        == 0
    )
    (record,) = results.load_results(tmp_path / "res", kind="benchmark")
    assert record["cpu"] is True and record["smoke"] is True
    assert [r["name"] for r in record["rows"]] == rows
    for row in record["rows"]:
        assert "error" not in row, row
        assert row["epoch_s"] > 0 and row["pairs_per_s"] > 0 and math.isfinite(row["ratio_to_compute_limit"])
    assert record["rows"][3]["workers"] == 2  # a real DataLoader with 2 workers
    assert {"trainer_over_compute_limit", "speedup_vs_tutorial_2_workers"} <= set(record["ratios"])
    with tarfile.open(tmp_path / "out" / "results.tar") as tar:
        assert tar.getnames() == [Path(record["_path"]).name]


def test_tutorial_dataset_gives_two_different_views():
    images = torch.randint(0, 256, (4, 32, 32, 3), dtype=torch.uint8).numpy()
    torch.manual_seed(0)
    v1, v2 = bench_gpu.TwoViewPIL(images, bench_gpu.tutorial_transform())[0]
    assert v1.shape == v2.shape == (3, 32, 32) and not torch.equal(v1, v2)


def test_sweep_smoke_writes_runs_and_table(tmp_path):
    assert (
        gpu_runs.main(
            ["sweep"]
            + TINY
            + dirs(tmp_path)
            + ["--batch-size", "32", "--betas", "0", "--asymmetric", "1e-3,0", "--linear-epochs", "2"]
        )
        == 0
    )
    runs = results.load_results(tmp_path / "res", kind="run")
    (sweep,) = results.load_results(tmp_path / "res", kind="sweep")
    assert len(runs) == 2 and len(sweep["rows"]) == 2
    # By default a sweep evaluates on a validation split (a fifth of the 128 training images here).
    assert sweep["evaluated_on"] == "validation"
    assert all(row["evaluated_on"] == "validation" for row in sweep["rows"])
    assert all(run["evaluated_on"] == "validation" and run["n_test"] == 25 for run in runs)
    assert {(r["beta_12"], r["beta_21"]) for r in runs} == {(0.0, 0.0), (1e-3, 0.0)}
    for run in runs:
        assert (
            run["kind"] == "run"
            and run["method"] == "superinfo"
            and run["complete"]
            and run["epochs_done"] == 1
        )
        for key in (
            "knn_top1",
            "linear_top1",
            "aug_probe_mean_r2",
            "aug_probe_mu_mean_r2",
            "final_kl_12",
            "final_mi_lower_bound",
            "train_s",
        ):
            assert isinstance(run[key], float), key
        assert set(run["few_label"]) == {"10", "100"} and all(0 <= v <= 1 for v in run["few_label"].values())
        (epoch,) = run["per_epoch"]
        assert {
            "epoch",
            "loss",
            "nce",
            "kl_12",
            "kl_21",
            "mi_lower_bound",
            "knn_top1",
            "epoch_time_s",
        } <= set(epoch)
        assert run["epoch_times_s"] == [epoch["epoch_time_s"]]
    # beta = 0 leaves the KL unpenalised: the row's loss is its InfoNCE alone
    simclr_like = next(r for r in runs if r["beta_12"] == 0)
    assert simclr_like["per_epoch"][0]["loss"] == pytest.approx(simclr_like["per_epoch"][0]["nce"])
    assert sweep["best"]["beta_12"] == 1e-3  # the only row with beta > 0
    assert all(row["run_file"] for row in sweep["rows"])
    with tarfile.open(tmp_path / "out" / "results.tar") as tar:
        assert len(tar.getnames()) == 3
    assert not (tmp_path / "work").exists() or not list((tmp_path / "work").rglob("checkpoint.pt"))


def test_budget_guard_skips_runs_but_still_writes_the_sweep(tmp_path):
    assert (
        gpu_runs.main(["sweep"] + TINY + dirs(tmp_path) + ["--betas", "0", "1e-3", "--budget-s", "1e-9"]) == 0
    )
    (sweep,) = results.load_results(tmp_path / "res", kind="sweep")
    assert len(sweep["rows"]) == 3 and all("skipped" in r and not r["complete"] for r in sweep["rows"])
    assert sweep["best"] is None
    assert sweep["evaluated_on"] == "validation"
    assert results.load_results(tmp_path / "res", kind="run") == []


def test_a_sweep_on_the_test_set_says_so_and_cannot_choose_beta(tmp_path):
    args = ["--betas", "0", "1e-3", "--budget-s", "1e-9", "--val-holdout", "0"]
    assert gpu_runs.main(["sweep"] + TINY + dirs(tmp_path) + args) == 0
    (sweep,) = results.load_results(tmp_path / "res", kind="sweep")
    assert sweep["evaluated_on"] == "test" and all(r["evaluated_on"] == "test" for r in sweep["rows"])
    (path,) = (tmp_path / "res").glob("sweep-*.json")
    with pytest.raises(ValueError, match="test set"):
        gpu_runs.beta_from_sweep(str(path))


def test_long_needs_a_beta_and_reads_the_sweep(tmp_path):
    with pytest.raises(SystemExit):
        gpu_runs.main(["long"] + TINY + dirs(tmp_path))
    rows = [
        {"beta_12": 0.0, "beta_21": 0.0, "knn_top1": 0.9, "complete": True},
        {"beta_12": 3e-4, "beta_21": 3e-4, "knn_top1": 0.8, "linear_top1": 0.8, "complete": True},
        {"beta_12": 1e-3, "beta_21": 1e-3, "knn_top1": 0.8, "linear_top1": 0.85, "complete": True},
        {"beta_12": 1e-2, "beta_21": 1e-2, "knn_top1": 0.95, "complete": False},
    ]
    on_validation = [{**r, "evaluated_on": "validation"} for r in rows]
    path = results.write_result(
        "sweep", {"evaluated_on": "validation", "rows": on_validation}, tmp_path, "sweep.json"
    )
    assert gpu_runs.beta_from_sweep(str(path)) == (1e-3, 1e-3)  # complete, beta > 0, kNN then linear
    # A sweep that does not say where it was evaluated, or was evaluated on the test set, is refused.
    unmarked = results.write_result("sweep", {"rows": rows}, tmp_path, "unmarked.json")
    with pytest.raises(ValueError, match="not only on validation images"):
        gpu_runs.beta_from_sweep(str(unmarked))
    one_on_test = on_validation[:-1] + [{**on_validation[-1], "evaluated_on": "test"}]
    mixed = results.write_result(
        "sweep", {"evaluated_on": "validation", "rows": one_on_test}, tmp_path, "mixed.json"
    )
    with pytest.raises(ValueError, match="test"):
        gpu_runs.beta_from_sweep(str(mixed))
    bench = results.write_result("benchmark", {"rows": []}, tmp_path, "bench.json")
    with pytest.raises(ValueError, match="not a sweep"):
        gpu_runs.beta_from_sweep(str(bench))


def test_budget_counts_the_shared_deadline():
    import time

    assert jobs.Budget(None).allows(1e9)
    assert not jobs.Budget(1e6, deadline=time.time() - 1).allows(0)
    assert jobs.Budget(1e6, deadline=time.time() + 100).left() <= 100
    with pytest.raises(ValueError, match="budget-s"):
        jobs.Budget(0)


gpu_session = load_script("experiments/gpu_session.py")


def test_session_runs_the_next_item_and_skips_it_next_time(tmp_path, monkeypatch):
    monkeypatch.setattr(gpu_session, "METHODS", ("simclr", "mib"))  # two of the three: the test's time
    args = [
        "--smoke",
        "--synthetic",
        "--device",
        "cpu",
        "--train-limit",
        "128",
        "--test-limit",
        "64",
        "--results-dir",
        str(tmp_path / "res"),
        "--out",
        str(tmp_path / "out"),
        "--items",
        "main",
    ]
    assert gpu_session.main(args) == 0
    runs = results.load_results(tmp_path / "res", kind="run")
    assert sorted(r["method"] for r in runs) == ["mib", "simclr"]
    cpu_precision = bench_gpu.choose_precision("cpu")  # bf16 where the CPU has native bf16
    assert all(
        r["session_item"] == "main" and r["complete"] and r["precision"] == cpu_precision for r in runs
    )
    with tarfile.open(tmp_path / "out" / "results.tar") as tar:
        assert len(tar.getnames()) == 2
    assert gpu_session.done(list(runs), "main")
    assert gpu_session.main(args) == 0  # nothing left to do: no new runs
    assert len(results.load_results(tmp_path / "res", kind="run")) == 2


def test_session_reads_the_benchmark_and_refuses_what_does_not_fit(tmp_path, capsys):
    bench = {
        "kind": "benchmark",
        "smoke": False,
        "rows": [
            {"name": "trainer", "epoch_s": 2.0},
            {"name": "concurrency", "best_processes": 3, "gain_over_one": 1.4},
        ],
    }
    assert gpu_session.measured([bench]) == (2.0, 3)
    bench["rows"][1]["gain_over_one"] = 1.05  # not worth it: one at a time
    assert gpu_session.measured([bench]) == (2.0, 1)
    assert gpu_session.measured([]) == (gpu_session.DEFAULT_EPOCH_S, 1)
    # 30 s cannot hold the benchmark (~2 min): nothing starts, nothing is written.
    assert (
        gpu_session.main(["--budget-s", "30", "--results-dir", str(tmp_path / "res"), "--device", "cpu"]) == 0
    )
    assert "stopping here" in capsys.readouterr().out and not (tmp_path / "res").exists()


def test_memory_bench_sees_a_cell_allocate_and_names_the_torch_build(tmp_path):
    bench_memory = load_script("bench/bench_memory.py")
    import nbformat

    notebook = nbformat.v4.new_notebook(
        metadata={"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}}
    )
    notebook.cells = [
        nbformat.v4.new_markdown_cell("a tiny notebook"),
        nbformat.v4.new_code_cell("import torch"),
        nbformat.v4.new_code_cell("block = torch.ones(20_000_000)  # 80 MB, written so its pages count"),
    ]
    source = tmp_path / "tiny.ipynb"
    nbformat.write(notebook, source)
    (tmp_path / "work").mkdir()
    r = bench_memory.run_one(source, tmp_path / "work", tmp_path / "out", None, timeout_s=300)
    assert r["ok"], r["error"]
    assert [c["cell"] for c in r["cells"]] == [0, 1]
    assert r["cells"][1]["peak_rise_mb"] > 70
    assert r["peak_mb"] == r["cells"][1]["peak_mb"]
    assert r["torch"] == torch.__version__


cpu_study = load_script("experiments/cpu_study.py")


def study_args(tmp_path) -> list[str]:
    """The CPU study's smoke mode on synthetic images, writing under tmp_path."""
    return [
        "--smoke",
        "--synthetic",
        "--results-dir",
        str(tmp_path / "res"),
        "--work-dir",
        str(tmp_path / "w"),
    ]


def test_cpu_study_runs_the_queue_chooses_beta_on_validation_and_resumes(tmp_path, capsys):
    """Smoke: sweep (validation) -> main with the sweep's beta; a second call starts nothing."""
    args = study_args(tmp_path)
    assert cpu_study.main([*args, "--items", "sweep", "main"]) == 0
    found = {r["label"]: r for r in results.load_results(tmp_path / "res", kind="run")}
    sweep = results.load_results(tmp_path / "res", kind="sweep")[0]
    assert sweep["complete"] and sweep["evaluated_on"] == "validation"
    assert all(row["evaluated_on"] == "validation" for row in sweep["rows"])
    best = sweep["best"]
    assert best["beta_12"] + best["beta_21"] > 0
    superinfo = found["main-superinfo-s0"]
    assert (superinfo["beta_12"], superinfo["beta_21"]) == (best["beta_12"], best["beta_21"])
    for r in found.values():
        assert r["complete"] and r["device_type"] == "cpu" and r["cpu_model"] and r["cpu_threads"] >= 1
        assert r["command"].startswith("python experiments/cpu_study.py") and r["commit"]
        assert r["evaluated_on"] == ("test" if r["item"] == "main" else "validation")
        assert {"sigma_median", "aug_probe_z_mean_r2", "few_label_draws", "per_epoch"} <= set(r)
    assert "robustness" in superinfo and "robustness" not in found["sweep-superinfo-b0-0"]
    # The sweep file says what made it and when: the call's command, each row's run (its command,
    # commit and time), the sweep's training seconds, and one command that makes its runs again.
    assert sweep["command"] == " ".join(
        ["python experiments/cpu_study.py", *args, "--items", "sweep", "main"]
    )
    labels = [r["label"] for r in sweep["rows"]]
    for row in sweep["rows"]:
        run = found[row["label"]]
        assert (row["timestamp"], row["commit"], row["command"]) == (
            run["timestamp"],
            run["commit"],
            run["command"],
        )
        assert row["peak_rss_mb"] == run["peak_rss_mb"] > 0
    assert sweep["train_s"] == pytest.approx(sum(found[label]["train_s"] for label in labels))
    assert sweep["first_run_at"] == min(r["timestamp"] for r in sweep["rows"]) <= sweep["last_run_at"]
    assert sweep["rerun_command"] == "python experiments/cpu_study.py --only " + " ".join(labels)
    assert cpu_study.parse_args([*sweep["rerun_command"].split()[2:], "--synthetic"]).only == labels
    capsys.readouterr()
    stamp = Path(sweep["_path"]).stat().st_mtime_ns
    assert cpu_study.main([*args, "--items", "sweep", "main"]) == 0
    out = capsys.readouterr().out
    assert "start" not in out and "still to run: none" in out
    assert Path(sweep["_path"]).stat().st_mtime_ns == stamp  # nothing new: the sweep file is not rewritten


def test_cpu_study_never_starts_a_run_that_does_not_fit(tmp_path, capsys):
    args = study_args(tmp_path)
    assert cpu_study.main([*args, "--items", "sweep", "--budget-s", "5"]) == 0
    out = capsys.readouterr().out
    assert "not started" in out and "start sweep" not in out
    assert not (tmp_path / "res").exists() or not list((tmp_path / "res").glob("run-*.json"))


def test_cpu_study_lists_its_runs_without_data(tmp_path, capsys):
    """--list-runs prints every label --only takes, on a machine without CIFAR-10."""
    assert cpu_study.main(["--list-runs", "--data", str(tmp_path / "missing.npz")]) == 0
    labels = capsys.readouterr().out.split()
    assert len(labels) == len(set(labels)) == 6 + 9 + 4 + 3  # sweep, main, precision, floor
    assert {"sweep-superinfo-b0.0001-0.0001", "main-superinfo-s0", "floor-random-init-s2"} <= set(labels)
    assert cpu_study.parse_args(["--synthetic", "--only", *labels]).only == labels


def test_cpu_study_smoke_refuses_the_real_results_folder():
    with pytest.raises(SystemExit):
        cpu_study.parse_args(["--smoke", "--results-dir", str(cpu_study.CPU_RESULTS_DIR)])


def test_cpu_study_run_killed_mid_way_resumes_from_its_checkpoint(tmp_path):
    """SIGKILL a worker after its first checkpoint: the next call resumes, it does not restart."""
    import json
    import signal
    import subprocess
    import sys
    import time

    args = ["--smoke", "--synthetic", "--train-limit", "128", "--results-dir", str(tmp_path / "res")]
    args += ["--work-dir", str(tmp_path / "w")]
    spec = {"item": "main", "label": "main-simclr-s0", "method": "simclr", "seed": 0, "epochs": 12}
    spec["evaluated_on"] = "test"
    work = tmp_path / "w" / spec["label"]
    cmd = [sys.executable, str(ROOT / "experiments/cpu_study.py"), *args, "--run", json.dumps(spec)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not (work / "checkpoint.pt").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert (work / "checkpoint.pt").exists(), "no checkpoint was written before the kill"
    assert not list((tmp_path / "res").glob("run-*.json")) if (tmp_path / "res").exists() else True
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "resumed" in done.stdout
    record = results.load_results(tmp_path / "res", kind="run")[0]
    assert record["complete"] and record["epochs_done"] == 12
    assert [e["epoch"] for e in record["per_epoch"]] == list(range(1, 13))


cpu_claim = load_script("experiments/cpu_claim.py")


def test_cpu_claim_runs_named_runs_with_monitors_probes_and_provenance(tmp_path, capsys):
    """Smoke: two runs of the claim study (beta 0 and 1e-3, seed 0); a second call starts nothing."""
    args = study_args(tmp_path) + ["--only", "claim-b0-s0", "claim-b0.001-s0"]
    assert cpu_claim.main(args) == 0
    found = {r["label"]: r for r in results.load_results(tmp_path / "res", kind="run")}
    assert set(found) == {"claim-b0-s0", "claim-b0.001-s0"}
    launch = results.git_commit()[0]
    for r in found.values():
        assert r["complete"] and r["augment"] == "strong" and r["augment_config"]["noise_sd"] == 0.05
        assert r["beta_12"] == r["beta_21"] == r["beta"] and r["beta_warmup_fraction"] == 0
        assert r["commit"] == launch and r["commit_source"] == "env"
        assert set(r["monitor"]) == {"1", "2"} and r["n_validation"] == 64
        for split in ("validation", "test"):
            probes = r[split]["label_probes"]
            assert set(probes["linear"]) == {"1", "5", "10"} and len(probes["ncm"]["1"]["per_draw"]) == 4
            assert r[split]["linear_top1"] is not None
        assert "label_probes" in r["monitor"]["1"] and r["monitor"]["1"]["linear_top1"] is None
        assert "aug_probe_z_mean_r2" in r["test"] and "aug_probe_z_mean_r2" not in r["validation"]
    # The same label draws for every run: draw d picks the same images whatever the encoder.
    assert found["claim-b0-s0"]["label_draws"] == found["claim-b0.001-s0"]["label_draws"] == 4
    capsys.readouterr()
    assert cpu_claim.main(args) == 0
    assert "start" not in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cpu_claim.parse_args([*study_args(tmp_path), "--only", "claim-b7-s0"])


def test_cpu_claim_floor_is_the_trainers_initialisation_evaluated_like_the_runs(tmp_path):
    """The floor: no training, the model the trainer builds for that seed, the last epoch's probes."""
    assert cpu_claim.main([*study_args(tmp_path), "--only", "claim-floor-s0"]) == 0
    (floor,) = results.load_results(tmp_path / "res", kind="run")
    assert (
        floor["label"] == "claim-floor-s0" and floor["item"] == "floor" and floor["method"] == "random-init"
    )
    assert (
        floor["complete"] and floor["epochs_done"] == 0 and floor["per_epoch"] == [] and floor["train_s"] == 0
    )
    for split in ("validation", "test"):
        assert set(floor[split]["label_probes"]["linear"]) == {"1", "5", "10"}
        assert floor[split]["linear_top1"] is not None
    assert "aug_probe_z_mean_r2" in floor["test"]
    # run_floor's model is build_model's for the same seed, parameter for parameter.
    torch.manual_seed(0)
    untrained = SuperInfoModel(train.CPU_RECIPE["arch"])
    cfg = train.TrainConfig(arch=train.CPU_RECIPE["arch"], seed=0, device="cpu")
    built, _, _ = train.build_model(cfg.resolve(), distributed.DistInfo(), torch.device("cpu"))
    for (name, a), b in zip(untrained.state_dict().items(), built.state_dict().values()):
        assert torch.equal(a, b.contiguous()), name
    # The claim analysis counts claim runs only: the floor is not one of the 18.
    assert claim.count(claim.load_claim_runs(tmp_path / "res")) == 0


def test_export_encoders_compares_every_figure_and_keeps_explained_differences_apart():
    export = load_script("experiments/export_encoders.py")
    stored = {"knn_top1": 0.5, "robustness": {"mean_corruption": {"knn": 0.4983, "linear": 0.45}}}
    same = {"knn_top1": 0.5, "robustness": {"mean_corruption": {"knn": 0.4983, "linear": 0.45}}}
    assert export.compare(stored, same) == ([], {})
    jpeg = {"knn_top1": 0.5, "robustness": {"mean_corruption": {"knn": 0.4981, "linear": 0.45}}}
    unexplained, explained = export.compare(stored, jpeg)
    assert unexplained == ["robustness.mean_corruption.knn: 0.4983 -> 0.4981"] and explained == {}
    unexplained, explained = export.compare(stored, jpeg, ["robustness.mean_corruption.knn"])
    assert unexplained == []
    assert explained == {"robustness.mean_corruption.knn": {"stored": 0.4983, "rerun": 0.4981}}
    # An explained figure does not excuse another: kNN must still match.
    other = {**jpeg, "knn_top1": 0.51}
    unexplained, _ = export.compare(stored, other, ["robustness.mean_corruption.knn"])
    assert unexplained == ["knn_top1: 0.5 -> 0.51"]


def test_export_encoders_refuses_an_explanation_without_a_reason(capsys):
    export = load_script("experiments/export_encoders.py")
    with pytest.raises(SystemExit):
        export.main(["--rerun-dir", "x", "--explained", "knn_top1"])
    assert "--reason" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        export.main(["--rerun-dir", "x", "--explained", "knn", "--reason", "r"])
    assert "not a compared figure: knn" in capsys.readouterr().err
