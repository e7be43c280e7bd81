"""Execute every course notebook with papermill (profile "smoke") and check the key figures it writes.

Each notebook runs in a fresh kernel with cwd = notebooks/ and writes <output_dir>/<name>.json.
The notebooks share one output folder, so notebook 6 evaluates the checkpoints notebook 5 wrote
(run alone, it trains tiny ones itself).

The full runs use solutions=True: every exercise's check must pass. The notebooks as shipped
(solutions=False) run in the browser test; here a cheap pass runs only the exercise, solution and
check cells, in this process, and every exercise must fall back to the library's version.
"""
import json
import math
import re
import sys
import time
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
SMOKE_LIMIT_S = 180          # per notebook, 2 CPU cores, kernel start included
EXERCISE_TAGS = ("exercise", "solution", "check")
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


def tagged(nb, *tags):
    return [c for c in nb.cells if set(c.metadata.get("tags", [])) & set(tags)]


def check_exercises(name, f):
    """Every exercise solved (the run uses solutions=True); what the notebooks then do with them."""
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    outcomes = f.get("exercises", {})
    assert len(outcomes) == len(tagged(nb, "exercise")), (outcomes, "one outcome per exercise cell")
    assert all(v == "solved" for v in outcomes.values()), outcomes
    if name == "01_setup_and_data":
        # Your crop + flip rebuild the library's views (colour jitter off).
        assert f["crop_flip_rebuild"]["max_abs_diff"] < 1e-4
    if name == "04_superinfo_objective" and outcomes:
        # Your exponential_warmup draws the mib preset's own beta schedule.
        assert f["beta_warmup"]["points"] > 100 and f["beta_warmup"]["max_abs_diff"] < 1e-12
    if name == "05_training_cifar10":
        # Your lr_at gives the learning rate the trainer logged at every logged step.
        sched = f["lr_schedule"]
        assert sched["logged_steps"] >= sum(m["steps"] for m in f["methods"].values())
        assert sched["max_abs_diff"] < 1e-12
    if name == "06_evaluation":
        # With every label, your kNN reproduces the library's kNN accuracy.
        assert len(f["knn_by_hand"]) == 1 and set(f["knn_by_hand"]) <= set(f["evaluated"])
        for method, k in f["knn_by_hand"].items():
            assert abs(k["all_labels"] - f["evaluated"][method]["knn_top1"]) < 1e-9, method
            assert 0 < k["10_per_class_images"] <= 10 * 10      # at most 10 of each of the 10 classes


@pytest.mark.parametrize("name", COURSE)
def test_notebook_smoke(name, output_dir):
    elapsed = execute(name, output_dir, profile="smoke", solutions=True)
    TIMINGS[name] = elapsed
    print(f"{name}: {elapsed:.1f} s")
    figures = json.loads((output_dir / f"{name}.json").read_text())
    assert figures["notebook"] == name and figures["profile"] == "smoke"
    CHECKS[name](figures)
    check_exercises(name, figures)
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


NOTEBOOK_NAMES = [f[:-len(".ipynb")] for f in ALL_NOTEBOOKS]


@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
def test_notebook_opens_with_what_it_needs(name):
    """What you will learn, the prerequisites (linked), the time; a link to the README's references."""
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    first = nb.cells[0]
    assert first.cell_type == "markdown"
    for words in ("What you will learn", "Prerequisites", "How long it takes"):
        assert words in first.source, f"{name}: the first cell does not say {words!r}"
    assert "](../README.md#references)" in first.source, f"{name}: no link to the README's references"
    prerequisites = next(p for p in first.source.split("\n\n") if "Prerequisites" in p)
    linked = re.findall(r"\]\((\d\d_\w+)\.ipynb\)", prerequisites)
    earlier = [n for n in NOTEBOOK_NAMES if n < name]
    assert set(linked) <= set(earlier), f"{name}: prerequisites link {set(linked) - set(earlier)}"
    if earlier:
        assert linked, f"{name}: the prerequisites link none of the earlier notebooks"
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    assert "output_dir" in params.source


@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
def test_notebook_ends_with_a_recap_and_the_next_notebook(name):
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    last = nb.cells[-1]
    assert last.cell_type == "markdown" and "Recap" in last.source, f"{name}: the last cell is not a recap"
    later = [n for n in NOTEBOOK_NAMES if n > name]
    if later:
        assert f"]({later[0]}.ipynb)" in last.source, f"{name}: the recap does not link {later[0]}.ipynb"


# ----------------------------------------------------------------------------- exercises

@pytest.mark.parametrize("solutions", [False, True], ids=["as-shipped", "solutions"])
@pytest.mark.parametrize("name", COURSE)
def test_exercise_cells_alone(name, solutions, capsys):
    """The exercise, solution and check cells in order, in this process (no kernel, no data):
    shipped stubs fall back to the library, each saying so in one line; the solutions pass."""
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    cells = tagged(nb, *EXERCISE_TAGS)
    exercises = tagged(nb, "exercise")
    assert exercises, f"{name} has no exercise cells"
    namespace = {"solutions": solutions, "FIGURES": {}}
    for cell in cells:
        exec(compile(cell.source, f"<{name} {'/'.join(cell.metadata['tags'])} cell>", "exec"), namespace)
    outcomes = namespace["FIGURES"]["exercises"]
    assert len(outcomes) == len(exercises)
    assert set(outcomes.values()) == {"solved" if solutions else "fallback"}, outcomes
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(exercises), lines
    if not solutions:
        for line in lines:
            assert "not solved yet: using superinfo_lib." in line
            assert line.endswith("for the rest of the notebook")


@pytest.mark.parametrize("name", COURSE)
def test_exercise_cells_are_short_and_in_order(name):
    """exercise -> solution (collapsed, only with solutions=True) -> check; lines a learner can read."""
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    kinds = [next(t for t in EXERCISE_TAGS if t in c.metadata["tags"]) for c in tagged(nb, *EXERCISE_TAGS)]
    assert kinds and kinds == ["exercise", "solution", "check"] * (len(kinds) // 3), kinds
    for cell in tagged(nb, *EXERCISE_TAGS):
        for line in cell.source.splitlines():
            assert len(line) <= 100, f"{name}: a line of {len(line)} characters: {line!r}"
    for cell in tagged(nb, "exercise"):
        assert "raise NotImplementedError" in cell.source
    for cell in tagged(nb, "solution"):
        assert cell.metadata.get("jupyter", {}).get("source_hidden") is True
        code = [line for line in cell.source.splitlines() if line.strip() and not line.startswith("#")]
        assert code[0] == "if solutions:", f"{name}: a solution cell must define nothing unless solutions"
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    assert "solutions = False" in params.source
