"""The results format: round trip, tables, CPU marking, missing and corrupt files, bundles."""

import json
import tarfile

import pytest

from superinfo_lib import results


def run_payload(method="simclr", knn=0.8512, **extra):
    return {
        "label": method,
        "method": method,
        "epochs": 100,
        "epochs_done": 100,
        "complete": True,
        "batch_size": 512,
        "beta_12": 0.0,
        "beta_21": 0.0,
        "knn_top1": knn,
        "linear_top1": 0.874,
        "few_label": {"10": 0.41, "100": 0.62},
        "aug_probe_mean_r2": 0.31,
        "per_epoch": [
            {
                "epoch": 1,
                "loss": 5.1,
                "nce": 5.1,
                "kl_12": 30.0,
                "kl_21": 31.0,
                "mi_lower_bound": 1.8,
                "epoch_time_s": 2.0,
            }
        ],
        "epoch_times_s": [2.0],
        **extra,
    }


def as_gpu(path, name="NVIDIA H100 80GB HBM3"):
    """Rewrite a CPU-written file as if a GPU had written it (these tests run on a CPU)."""
    record = json.loads(path.read_text())
    record.update(device=name, device_type="cuda")
    path.write_text(json.dumps(record))


def test_round_trip_adds_provenance(tmp_path):
    path = results.write_result("run", run_payload(), tmp_path, seed=3, command="python x.py --flag")
    (record,) = results.load_results(tmp_path)
    for key in ("device", "device_type", "torch", "commit", "seed", "command", "timestamp", "format"):
        assert key in record, key
    assert record["kind"] == "run" and record["seed"] == 3 and record["command"] == "python x.py --flag"
    assert record["per_epoch"] == run_payload()["per_epoch"]
    assert record["_path"] == str(path)
    assert record["cpu"] is True  # written on this CPU machine: flagged


def test_rewriting_the_same_name_updates_in_place(tmp_path):
    results.write_result("run", run_payload(knn=0.5), tmp_path, "run-a.json")
    results.write_result("run", run_payload(knn=0.6), tmp_path, "run-a.json")
    loaded = results.load_results(tmp_path)
    assert len(loaded) == 1 and loaded[0]["knn_top1"] == 0.6
    assert not list(tmp_path.glob("*.tmp"))


def test_kind_filter_and_table_leave_out_cpu(tmp_path):
    gpu = results.write_result("run", run_payload("superinfo", knn=0.8613), tmp_path, "run-gpu.json")
    as_gpu(gpu)
    results.write_result("run", run_payload("simclr", knn=0.1), tmp_path, "run-cpu.json")
    results.write_result(
        "sweep",
        {"epochs": 20, "rows": [{"beta_12": 1e-3, "beta_21": 1e-3, "knn_top1": 0.7}]},
        tmp_path,
        "sweep-cpu.json",
    )
    runs = results.load_results(tmp_path, kind="run")
    assert sorted(r["method"] for r in runs) == ["simclr", "superinfo"]
    assert "1 of them from a CPU" in runs.message
    rows = results.results_table(runs, "run")
    assert [r["method"] for r in rows] == ["superinfo"]  # the CPU run is not a GPU figure
    assert rows[0]["kNN top-1 %"] == "86.13" and rows[0]["10/class %"] == "41.00"
    with_cpu = results.results_table(runs, "run", include_cpu=True)
    assert any("not a GPU figure" in r["device"] for r in with_cpu)
    assert results.load_results(tmp_path, kind="run", include_cpu=False)[0]["method"] == "superinfo"
    sweep_rows = results.results_table(results.load_results(tmp_path, "sweep"), "sweep", include_cpu=True)
    assert sweep_rows[0]["beta_12"] == "0.001" and sweep_rows[0]["kNN top-1 %"] == "70.00"


def test_markdown_table():
    md = results.markdown_table([{"a": "1", "b": "x"}, {"a": "2", "b": "y"}])
    assert md.splitlines() == ["| a | b |", "| --- | --- |", "| 1 | x |", "| 2 | y |"]
    assert results.markdown_table([], empty="nothing") == "nothing"


def test_missing_folder_gives_empty_list_with_message(tmp_path):
    loaded = results.load_results(tmp_path / "nope")
    assert loaded == [] and "does not exist" in loaded.message
    (tmp_path / "empty").mkdir()
    assert "no results" in results.load_results(tmp_path / "empty").message


def test_corrupt_json_names_the_file(tmp_path):
    (tmp_path / "run-broken.json").write_text('{"kind": "run", ')
    with pytest.raises(ValueError, match="run-broken.json"):
        results.load_results(tmp_path)
    (tmp_path / "run-broken.json").write_text('{"kind": "something"}')
    with pytest.raises(ValueError, match="run-broken.json"):
        results.load_results(tmp_path)


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="kind"):
        results.write_result("nonsense", {}, tmp_path)
    with pytest.raises(ValueError, match="kind"):
        results.load_results(tmp_path, kind="nonsense")
    with pytest.raises(ValueError, match="results/"):
        results.write_result("run", run_payload(), results.RESULTS_DIR)  # CPU figure into results/


def test_bundle_import_refuses_cpu_and_copies_gpu(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    cpu = results.write_result("run", run_payload(), src, "run-cpu.json")
    bundle = results.write_bundle(src, tmp_path / "out" / "results.tar")
    with tarfile.open(bundle) as tar:
        assert tar.getnames() == ["run-cpu.json"]
    with pytest.raises(ValueError, match="not a GPU"):
        results.import_bundle(bundle, dst)
    assert not dst.exists()
    as_gpu(cpu)
    results.write_bundle(src, bundle)
    written = results.import_bundle(bundle, dst)
    assert [p.name for p in written] == ["run-cpu.json"]
    assert results.load_results(dst)[0]["cpu"] is False
    with pytest.raises(FileNotFoundError, match="missing.tar"):
        results.import_bundle(tmp_path / "missing.tar", dst)


def test_tables_give_time_and_peak_memory_beside_accuracy(tmp_path):
    gpu = results.write_result(
        "run", run_payload(train_s=1234.5, peak_rss_mb=3276.8, peak_gpu_mb=10240.0), tmp_path, "run-gpu.json"
    )
    as_gpu(gpu)
    old = results.write_result("run", run_payload(train_s=300.0), tmp_path, "run-old.json")  # no memory keys
    as_gpu(old)
    rows = results.results_table(results.load_results(tmp_path, "run"), "run")
    new, before = (next(r for r in rows if r["train s"] == t) for t in ("1234", "300"))
    assert new["s/epoch"] == "12.3" and new["peak RSS MB"] == "3277" and new["peak GPU MB"] == "10240"
    assert before["s/epoch"] == "3" and before["peak RSS MB"] == before["peak GPU MB"] == "not recorded"
    md = results.markdown_table(rows).splitlines()
    assert (
        "| train s | s/epoch | peak RSS MB | peak GPU MB |" in md[0]
        and "| 1234 | 12.3 | 3277 | 10240 |" in md[2]
    )

    sweep_row = {"beta_12": 1e-3, "beta_21": 1e-3, "knn_top1": 0.7, "epochs_done": 20, "train_s": 500.0}
    results.write_result("sweep", {"epochs": 20, "rows": [sweep_row]}, tmp_path, "sweep-cpu.json")
    (row,) = results.results_table(results.load_results(tmp_path, "sweep"), "sweep", include_cpu=True)
    assert row["train s"] == "500" and row["s/epoch"] == "25" and row["peak RSS MB"] == "not recorded"
    assert "peak GPU MB" not in row  # no GPU among the rows: no GPU-memory column


def test_the_stored_cpu_study_says_its_memory_was_not_recorded():
    """The CPU study's files predate peak_rss_mb: their time shows, their memory is "not recorded"."""
    stored = results.load_results(results.CPU_RESULTS_DIR, "run")
    main = [r for r in stored if str(r.get("label", "")).startswith("main-")]
    assert main, "no CPU-study runs in results/cpu/"
    rows = results.results_table(main, "run", include_cpu=True)
    for record, row in zip(main, rows):
        assert float(row["train s"]) == pytest.approx(record["train_s"], rel=5e-3)
        assert float(row["s/epoch"]) == pytest.approx(record["train_s"] / record["epochs_done"], rel=5e-3)
        if "peak_rss_mb" not in record:  # a run the study makes now records it
            assert row["peak RSS MB"] == "not recorded"
        else:
            assert float(row["peak RSS MB"]) == pytest.approx(record["peak_rss_mb"], rel=5e-4)
