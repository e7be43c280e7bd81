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
