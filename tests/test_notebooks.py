"""Execute every course notebook with papermill (profile "smoke") and check the key figures it writes.

Each notebook runs in a fresh kernel with cwd = notebooks/ and writes <output_dir>/<name>.json.
The notebooks share one output folder, so notebook 6 evaluates the checkpoints notebook 5 wrote
(run alone, it trains tiny ones itself).
"""
import json
import math
import sys
import time
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
SMOKE_LIMIT_S = 180          # per notebook, 2 CPU cores, kernel start included
COURSE = ("01_setup_and_data", "02_predictive_information", "03_superfluous_information",
          "04_superinfo_objective", "05_training_cifar10", "06_evaluation")
TIMINGS: dict[str, float] = {}


def execute(name: str, output_dir: Path, **parameters) -> float:
    import papermill
    start = time.perf_counter()
    papermill.execute_notebook(
        str(NOTEBOOKS / f"{name}.ipynb"), str(output_dir / f"{name}.out.ipynb"),
        parameters={"output_dir": str(output_dir), **parameters}, cwd=str(NOTEBOOKS),
        kernel_name="python3", progress_bar=False)
    return time.perf_counter() - start


@pytest.fixture(scope="module")
def output_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("notebook_outputs")


# ----------------------------------------------------------------------------- per-notebook checks

def check_01(f):
    env = f["environment"]
    # The kernel papermill started is this interpreter (the venv), not some other Python.
    assert Path(env["python_executable"]).resolve() == Path(sys.executable).resolve()
    assert env["device"] in ("cpu", "cuda")
    import torch
    assert env["torch"] == torch.__version__
    assert "JPEG pack" in f["data"]["source"] or "torchvision" in f["data"]["source"] or "synthetic" in f["data"]["source"]
    assert len(f["data"]["classes"]) == 10 and sum(f["data"]["train_class_counts"]) == f["data"]["n_train"]
    aug = f["augmentation"]
    assert aug["distinct_crop_widths"] == aug["gallery_images"], "augmentation parameters are not drawn per sample"
    assert aug["views_differ_fraction"] == 1.0
    assert aug["view_shape"] == [3, 32, 32]
    corr = f["corruptions"]
    # The text: averaged over corruptions every severity step changes the image more; so does each
    # corruption on its own, except saturate, whose severity 3 changes it less than its severity 2.
    mean = corr["mean_abs_diff_by_severity"]
    assert len(mean) == corr["severities"] == 6 and mean[0] == 0
    assert all(b > a for a, b in zip(mean, mean[1:])), mean
    for name in corr["names"]:
        d = corr["mean_abs_diff"][name]
        if name == "saturate":
            assert d[0] == 0 < d[1] < d[2] and d[3] < d[2] and d[3] < d[4] < d[5], d
        else:
            assert d[0] == 0 and all(b > a for a, b in zip(d, d[1:])), (name, d)


def check_02(f):
    assert f["scratch_vs_library_max_abs_diff"] < 1e-10
    assert f["identical_bound"] <= f["identical_ceiling"] + 1e-9
    assert f["identical_bound"] > f["identical_ceiling"] - 0.2      # near-perfect critic reaches the ceiling
    assert f["unrelated_bound"] < 0.1
    for p in f["gaussian_sweep"]:
        assert p["bound"] <= p["ceiling"] + 1e-9
        # A lower bound in expectation: above the truth only by sampling noise.
        assert p["bound"] <= p["true_mi"] + 4 * p["stderr"] + 0.02, p
    # Stated margin: at the largest batch, where I <= 1 nat, the bound is within 0.1 nat of the truth.
    assert f["large_batch_low_mi_max_gap"] < 0.1
    sat = f["saturation"]
    assert sat["true_mi"] > sat["ceiling"] + 1 and sat["bound"] > sat["ceiling"] - 0.2
    learned = f["learned"]
    assert learned["final_bound"] > learned["initial_bound"] + 0.2
    assert 0.5 < learned["final_bound"] <= learned["true_mi"] + 0.05


def check_03(f):
    assert f["kl_scratch_vs_library_max_abs_diff"] < 1e-10
    mc = f["kl_monte_carlo"]
    assert abs(mc["closed_form"] - mc["monte_carlo"]) < 0.02 * mc["closed_form"] + 0.1
    assert f["kl_random_min"] >= 0
    t = f["training"]
    assert t["final_step"] > 0 and t["steps"] >= 2
    assert t["kl_min"] >= 0
    assert t["mi_lower_bound_last"] <= t["ceiling"] + 1e-6
    assert t["mi_lower_bound_last"] > t["mi_lower_bound_first"], "the InfoNCE bound did not rise in training"
    probe = f["aug_probe"]
    # Augmentation parameters are readable from a view's own representation at beta = 0 ...
    assert probe["trained"]["mean_r2"] > 0.05
    assert max(probe["trained"][p] for p in ("brightness", "contrast", "crop_w", "crop_h")) > 0.2
    # ... but not from the other view's: the probe does not leak.
    assert probe["cross_view_control"]["mean_r2"] < 0.02
    assert probe["trained"]["mean_r2"] > probe["cross_view_control"]["mean_r2"] + 0.08


def check_04(f):
    from superinfo_lib.toy import CHANCE
    assert f["objective_recompose_abs_diff"] < 1e-6
    sweep = {r["beta_12"]: r for r in f["sweep"] if r["seed"] == 0}
    zero, largest = sweep[0.0], sweep[max(sweep)]
    # beta = 0 keeps every factor, the nuisance included (superfluous information exists).
    assert zero["probes"]["shared"] > CHANCE["shared"] + 0.5
    assert zero["probes"]["nuisance"] > CHANCE["nuisance"] + 0.1
    assert zero["probes"]["specific"] > CHANCE["specific"] + 0.15
    # A larger beta means a smaller KL.
    assert largest["final_kl_12"] < zero["final_kl_12"]
    # Some positive beta (symmetric or not) discards the nuisance while keeping part of the
    # non-shared task-relevant factor and the shared one: the paper's claim, on known factors.
    penalised = [r for r in list(sweep.values()) + f["asymmetric"] if r["beta_12"] > 0 or r["beta_21"] > 0]
    assert any(r["probes"]["nuisance"] < CHANCE["nuisance"] + 0.1 and r["probes"]["specific"] > CHANCE["specific"] + 0.15
               and r["probes"]["shared"] > CHANCE["shared"] + 0.5 for r in penalised)
    assert f["negative_refused_without_opt_in"] is True
    neg = f["negative"]
    assert neg["diverged_at"] is not None or neg["final_kl_12"] > 100 * zero["final_kl_12"] or not math.isfinite(neg["final_kl_12"])


def check_05(f):
    methods = f["methods"]
    assert set(methods) == {"simclr", "mib", "superinfo"}
    for name, m in methods.items():
        assert m["final_step"] == m["total_steps"] > 0, name
        assert m["all_finite"] and m["kl_min"] >= 0, name
        assert 0.1 < m["knn_top1"] <= 1 and 0 < m["linear_top1"] <= 1, name
        assert Path(m["run_dir"], "checkpoint.pt").is_file()
    assert methods["simclr"]["beta_12_last"] == 0
    # MIB's exponential warm-up: beta starts at 1e-3 and rises.
    assert methods["mib"]["beta_12_first"] < methods["mib"]["beta_12_last"]
    # Penalising the KL keeps it below SimCLR's unpenalised KL.
    assert methods["mib"]["kl_12_last"] < methods["simclr"]["kl_12_last"]


def check_06(f):
    evaluated = f["evaluated"]
    assert set(evaluated) == {"simclr", "mib", "superinfo"}
    for name, e in evaluated.items():
        assert "notebook 5" in e["origin"] or "trained here" in e["origin"], e["origin"]
        for key in ("knn_top1", "linear_top1"):
            assert 0.1 < e[key] <= 1, (name, key)
        assert set(e["few_label"]) == {"10", "100"} and all(0 < v <= 1 for v in e["few_label"].values())
        assert math.isfinite(e["aug_probe_mean_r2"]) and e["aug_probe_mean_r2"] <= 1
    for r in f["stored_results"]:
        assert r["method"] and r["device"]


CHECKS = {"01_setup_and_data": check_01, "02_predictive_information": check_02,
          "03_superfluous_information": check_03, "04_superinfo_objective": check_04,
          "05_training_cifar10": check_05, "06_evaluation": check_06}


@pytest.mark.parametrize("name", COURSE)
def test_notebook_smoke(name, output_dir):
    elapsed = execute(name, output_dir, profile="smoke")
    TIMINGS[name] = elapsed
    print(f"{name}: {elapsed:.1f} s")
    figures = json.loads((output_dir / f"{name}.json").read_text())
    assert figures["notebook"] == name and figures["profile"] == "smoke"
    CHECKS[name](figures)
    assert elapsed < SMOKE_LIMIT_S, f"{name} took {elapsed:.0f} s under the smoke profile (limit {SMOKE_LIMIT_S} s)"


def test_unknown_profile_is_refused(tmp_path):
    import papermill
    with pytest.raises(papermill.PapermillExecutionError, match="profile"):
        execute("01_setup_and_data", tmp_path, profile="nonsense")


# ----------------------------------------------------------------------------- stored notebooks are clean

ALL_NOTEBOOKS = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb") if not p.name.endswith(".out.ipynb"))


def test_course_notebooks_exist():
    for name in COURSE:
        assert (NOTEBOOKS / f"{name}.ipynb").is_file(), name


@pytest.mark.parametrize("filename", ALL_NOTEBOOKS)
def test_notebook_is_clean(filename):
    nb = nbformat.read(NOTEBOOKS / filename, as_version=4)
    nbformat.validate(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{filename}: cell {i} has stored outputs"
            assert cell.execution_count is None, f"{filename}: cell {i} has an execution count"
    tagged = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{filename}: {len(tagged)} cells tagged 'parameters', expected exactly 1"
    assert "profile" in tagged[0].source, f"{filename}: the parameters cell does not set profile"


@pytest.mark.parametrize("name", COURSE)
def test_notebook_opens_with_what_it_needs(name):
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    first = nb.cells[0]
    assert first.cell_type == "markdown"
    for words in ("What it teaches", "What it needs", "How long it takes"):
        assert words in first.source, f"{name}: the first cell does not say {words!r}"
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    assert "output_dir" in params.source
