"""superinfo_lib.explorer_cifar: the stored sweep's encoders evaluated live, on a stand-in set
(random-init small encoders published like the real ones) and synthetic images."""

import base64
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from superinfo_lib import explorer_cifar, plots, pretrained
from superinfo_lib.data import synthetic_images
from superinfo_lib.models import SuperInfoModel
from superinfo_lib.pictures import encode
from superinfo_lib.probes import PROBED_PARAMS

ROOT = Path(__file__).resolve().parent.parent
# The CPU study's sweep, in the order the slider shows it (beta_12 + beta_21, then beta_12).
SWEEP = ((0.0, 0.0), (1e-4, 1e-4), (1e-3, 1e-3), (1e-2, 1e-2), (2e-2, 0.0), (3e-2, 3e-2))
LABELS = ["0", "0.0001", "0.001", "0.01", "0.02 / 0", "0.03"]
SIZES = dict(holdout=300, reference=400, heldout=200, probe=80, queries=6)


def sweep_name(b12: float, b21: float) -> str:
    return f"sweep-superinfo-b{b12:g}-{b21:g}"


def publish_sweep(folder: Path) -> Path:
    """Random-init small encoders saved as the sweep is published (plus one main run, which the
    explorer must leave out), listed in scrambled order; returns the manifest's path."""
    entries = []
    for i, (b12, b21) in enumerate(reversed(SWEEP)):
        name = sweep_name(b12, b21)
        torch.manual_seed(i)
        info = pretrained.save_encoder(SuperInfoModel("small"), folder / f"{name}.safetensors")
        entries.append(
            {
                "name": name,
                "file": f"{name}.safetensors",
                "method": "superinfo",
                "seed": 0,
                "beta_12": b12,
                "beta_21": b21,
                "epochs": 8,
                "arch": "small",
                "latent_dim": 128,
                "evaluated_on": "validation",
                "run_file": f"results/cpu/run-{name}.json",
                **info,
            }
        )
    info = pretrained.save_encoder(SuperInfoModel("small"), folder / "main-superinfo-s0.safetensors")
    entries.append(
        {"name": "main-superinfo-s0", "file": "main-superinfo-s0.safetensors", "method": "superinfo"}
        | {"beta_12": 1e-3, "beta_21": 1e-3, "arch": "small", "latent_dim": 128, **info}
    )
    manifest = folder / "manifest.json"
    manifest.write_text(json.dumps({"format": 1, "encoders": entries}))
    return manifest


def stand_in_data() -> explorer_cifar.LiveData:
    return explorer_cifar.load_live_data(synthetic_images(SIZES["holdout"] + 600, 10), **SIZES)


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    folder = tmp_path_factory.mktemp("encoders")
    return explorer_cifar.load_sweep(folder, publish_sweep(folder))


@pytest.fixture(scope="module")
def live():
    return stand_in_data()


@pytest.fixture(scope="module")
def result(sweep, live):
    return explorer_cifar.recompute(1e-3, sweep, live)


def test_the_sweep_is_listed_in_slider_order_without_the_main_runs(sweep):
    assert [(e["beta_12"], e["beta_21"]) for e in sweep.settings] == list(SWEEP)
    assert sweep.labels == LABELS
    # the asymmetric pair sits beside the symmetric setting of the same total KL weight
    i = sweep.labels.index("0.02 / 0")
    total = [sweep.settings[j]["beta_12"] + sweep.settings[j]["beta_21"] for j in (i - 1, i)]
    assert total == pytest.approx([0.02, 0.02])


def test_snapping_lands_on_stored_settings(sweep):
    for b12, b21 in SWEEP:  # a stored pair is its own nearest
        assert sweep.snap((b12, b21))["name"] == sweep_name(b12, b21)
    for beta, label in ((0.0, "0"), (3e-4, "0.0001"), (3e-3, "0.001"), (1.0, "0.03"), (0.1, "0.03")):
        assert explorer_cifar.setting_label(sweep.snap(beta)) == label, beta  # a number: both directions
    assert explorer_cifar.setting_label(sweep.snap((1e-2, 0.0))) == "0.02 / 0"
    # Euclidean on asinh(beta / 1e-4): (1e-3, 0) is nearest to (1e-4, 1e-4), where summed absolute
    # differences put it at about the same distance (3.0) from four stored settings
    assert explorer_cifar.beta_distance((0, 0), (1e-4, 1e-4)) == pytest.approx(math.sqrt(2) * math.asinh(1))
    assert explorer_cifar.setting_label(sweep.snap((1e-3, 0.0))) == "0.0001"
    assert explorer_cifar.setting_label(sweep.snap((3e-2, 0.0))) == "0.02 / 0"
    # the nearest by the documented distance, checked against every stored setting
    for pair in ((1e-3, 0.0), (0.0, 2e-2), (3e-3, 1e-2), (5e-3, 5e-4)):
        distances = [explorer_cifar.beta_distance((b12, b21), pair) for b12, b21 in SWEEP]
        assert sweep.snap(pair)["name"] == sweep_name(*SWEEP[int(np.argmin(distances))]), pair
    with pytest.raises(ValueError, match="beta"):
        sweep.snap("large")


def test_missing_encoders_say_so(tmp_path):
    with pytest.raises(FileNotFoundError, match=explorer_cifar.NOT_HERE):
        explorer_cifar.load_sweep(tmp_path, tmp_path / "manifest.json")
    manifest = publish_sweep(tmp_path)
    (tmp_path / f"{sweep_name(1e-4, 1e-4)}.safetensors").unlink()
    sweep = explorer_cifar.load_sweep(tmp_path, manifest)
    assert "0.0001" not in sweep.labels and len(sweep.settings) == len(SWEEP) - 1
    assert sweep_name(1e-4, 1e-4) in sweep.note
    for e in sweep.settings:
        (tmp_path / e["file"]).unlink()
    with pytest.raises(FileNotFoundError, match=explorer_cifar.NOT_HERE):
        explorer_cifar.load_sweep(tmp_path, manifest)


def test_each_encoder_is_loaded_once(sweep, live, monkeypatch):
    calls = []
    real = pretrained.load_encoder
    monkeypatch.setattr(pretrained, "load_encoder", lambda name, **kw: calls.append(name) or real(name, **kw))
    fresh = explorer_cifar.Sweep(sweep.settings, sweep.source, sweep.manifest)
    for _ in range(2):
        fresh.encoder(sweep_name(3e-2, 3e-2))
    assert calls == [sweep_name(3e-2, 3e-2)]


def test_the_live_data_is_the_sweeps_validation_split():
    data = synthetic_images(SIZES["holdout"] + 600, 10)
    live = explorer_cifar.load_live_data(data, **SIZES)
    held = data.train_x[-SIZES["holdout"] :]
    assert torch.equal(live.heldout_x, held[: SIZES["heldout"]])
    assert torch.equal(live.reference_x, data.train_x[: SIZES["reference"]])
    assert torch.equal(live.probe_x, live.heldout_x[: SIZES["probe"]])
    # one query per class, classes spread over the range, each the first of its class
    labels = live.heldout_y[live.query_index].tolist()
    assert labels == [0, 2, 4, 5, 7, 9]
    for i, c in zip(live.query_index.tolist(), labels):
        assert (live.heldout_y[:i] != c).all()
    with pytest.raises(ValueError, match="reference"):
        explorer_cifar.load_live_data(data, holdout=300, reference=601)
    with pytest.raises(ValueError, match="queries"):
        explorer_cifar.load_live_data(data, **(SIZES | {"queries": 0}))


def test_a_recompute_gives_finite_numbers_of_the_right_shapes(result, live):
    q, k = len(live.query_index), explorer_cifar.LIVE_SIZES["neighbours"]
    assert result["name"] == sweep_name(1e-3, 1e-3) and result["label"] == "0.001"
    assert 0 <= result["knn_top1"] <= 1 and result["sigma_median"] > 0
    assert set(result["aug_probe_z"]) == set(PROBED_PARAMS) | {"mean_r2"}
    assert all(math.isfinite(v) for v in result["aug_probe_z"].values())
    assert result["aug_probe_z_mean_r2"] == result["aug_probe_z"]["mean_r2"] <= 1
    assert result["sizes"] == {"reference": 400, "heldout": 200, "probe": 80, "queries": q, "neighbours": k}
    r = result["retrieval"]
    assert np.array(r["neighbour_index"]).shape == np.array(r["similarity"]).shape == (q, k)
    assert r["query_labels"] == live.heldout_y[live.query_index].tolist()
    assert r["neighbour_labels"] == live.reference_y[torch.tensor(r["neighbour_index"])].tolist()
    assert all(a >= b for row in r["similarity"] for a, b in zip(row, row[1:]))  # most similar first
    # stored figures come from the run file the manifest names (the study's 5,000 held-out images)
    stored = json.loads((ROOT / "results/cpu/run-sweep-superinfo-b0.001-0.001.json").read_text())
    assert result["stored"]["knn_top1"] == stored["knn_top1"] and result["stored"]["n_test"] == 5000
    json.dumps({k: v for k, v in result.items() if k != "figures"})  # the figures' data is JSON-ready


def test_the_neighbours_are_the_true_cosine_top_k(result, sweep, live):
    encoder = sweep.encoder(result["name"])
    reference = encode(encoder, live.reference_x)["h"].double()
    queries = encode(encoder, live.heldout_x)["h"][live.query_index].double()
    k = result["sizes"]["neighbours"]
    for q, query in enumerate(queries):  # a plain loop over every reference image
        cosines = [float(query @ ref / (query.norm() * ref.norm())) for ref in reference]
        order = sorted(range(len(cosines)), key=lambda i: -cosines[i])[:k]
        assert result["retrieval"]["neighbour_index"][q] == order, q
        assert result["retrieval"]["similarity"][q] == pytest.approx([cosines[i] for i in order], abs=1e-5)


def test_sigma_is_the_held_out_images_posterior(sweep, live):
    """In fp32 the median sigma is that of a plain forward pass over the held-out images."""
    result = explorer_cifar.recompute((2e-2, 0.0), sweep, live, precision="fp32")
    encoder = sweep.encoder(result["name"])
    from superinfo_lib.data import normalize

    with torch.no_grad():
        logvar = encoder(normalize(live.heldout_x))["logvar"]
    assert result["sigma_median"] == pytest.approx(torch.exp(0.5 * logvar).median().item(), rel=1e-5)


def test_the_same_queries_for_every_setting(sweep, live, result):
    other = explorer_cifar.recompute(3e-2, sweep, live)
    assert other["name"] == sweep_name(3e-2, 3e-2)
    assert other["retrieval"]["query_index"] == result["retrieval"]["query_index"]
    assert other["retrieval"]["neighbour_index"] != result["retrieval"]["neighbour_index"]


def decode_png(source: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1]))))


def test_the_retrieval_figure_has_one_row_per_query(result, live):
    fig = result["figures"]["retrieval"]
    q, k = len(live.query_index), result["sizes"]["neighbours"]
    assert list(fig.layout.yaxis.ticktext) == [live.classes[c] for c in result["retrieval"]["query_labels"]]
    assert len(fig.layout.yaxis.tickvals) == q and len(fig.layout.xaxis.tickvals) == k + 1
    texts = [a.text for a in fig.layout.annotations]
    assert len(texts) == q * (k + 1) and texts[:: k + 1] == ["query"] * q
    for row, (labels, sims) in enumerate(
        zip(result["retrieval"]["neighbour_labels"], result["retrieval"]["similarity"])
    ):
        got = texts[row * (k + 1) + 1 : (row + 1) * (k + 1)]
        assert got == [f"{live.classes[c]} {s:.2f}" for c, s in zip(labels, sims)]
    # the query's own class in blue, another class in orange (a colour each way, never both)
    colours = [a.font.color for a in fig.layout.annotations]
    for row, labels in enumerate(result["retrieval"]["neighbour_labels"]):
        same = [c == result["retrieval"]["query_labels"][row] for c in labels]
        want = [plots.retrieval.SAME_CLASS_COLOR if s else plots.retrieval.OTHER_CLASS_COLOR for s in same]
        assert colours[row * (k + 1) + 1 : (row + 1) * (k + 1)] == want
    picture = decode_png(fig.data[0].source)
    assert picture.ndim == 3 and picture.shape[2] == 3
    assert min(fig.layout.yaxis.tickvals) > 0 and max(fig.layout.yaxis.tickvals) < picture.shape[0]


def find(picture: np.ndarray, image: np.ndarray) -> tuple[int, int]:
    """(row, column) of the top-left pixel where uint8 image (3, h, w) lies in picture (H, W, 3)."""
    _, h, w = image.shape
    windows = np.lib.stride_tricks.sliding_window_view(picture, (h, w, 3))[:, :, 0]
    hits = np.argwhere((windows == image.transpose(1, 2, 0)).all(axis=(2, 3, 4)))
    assert len(hits) == 1, f"found {len(hits)} times"
    return tuple(int(v) for v in hits[0])


def test_retrieval_figure_rows_follow_the_queries_and_bad_shapes_are_named():
    rng = np.random.default_rng(0)
    queries = rng.integers(0, 256, (3, 3, 8, 8), dtype=np.uint8)
    neighbours = rng.integers(0, 256, (3, 2, 3, 8, 8), dtype=np.uint8)
    fig = plots.retrieval_figure(queries, neighbours, [0, 1, 2], [[0, 1], [1, 1], [0, 0]], "abc", "t")
    picture = decode_png(fig.data[0].source)
    # each query's pixels start its row, left of its neighbours'; rows go down in query order
    at = [find(picture, queries[i]) for i in range(3)]
    assert at[0][0] < at[1][0] < at[2][0] and at[0][1] == at[1][1] == at[2][1]
    for i in range(3):
        first, second = find(picture, neighbours[i, 0]), find(picture, neighbours[i, 1])
        assert first[0] == second[0] == at[i][0] and at[i][1] < first[1] < second[1]
    assert list(fig.layout.yaxis.ticktext) == ["a", "b", "c"]
    taller = plots.retrieval_figure(
        np.concatenate([queries, queries]),
        np.concatenate([neighbours, neighbours]),
        [0, 1, 2] * 2,
        [[0, 1], [1, 1], [0, 0]] * 2,
        "abc",
    )
    assert decode_png(taller.data[0].source).shape[0] > picture.shape[0]
    with pytest.raises(ValueError, match="neighbour_images"):
        plots.retrieval_figure(queries, neighbours[:2], [0, 1, 2], [[0, 1]] * 3, "abc")
    with pytest.raises(ValueError, match="neighbour_labels"):
        plots.retrieval_figure(queries, neighbours, [0, 1, 2], [[0, 1, 2]] * 3, "abc")
    with pytest.raises(ValueError, match="query_images"):
        plots.retrieval_figure(queries[:, 0], neighbours, [0, 1, 2], [[0, 1]] * 3, "abc")


def test_the_scores_figure_holds_what_was_computed(sweep, result):
    fig = explorer_cifar.scores_figure(sweep, {result["name"]: result}, result["name"])
    for col, (key, *_) in enumerate(explorer_cifar.PANELS):
        live, stored, current = fig.data[3 * col : 3 * col + 3]
        assert list(live.x) == LABELS
        assert list(live.y) == [result[key] if label == "0.001" else None for label in LABELS]
        assert list(current.x) == ["0.001"] and list(current.y) == [result[key]]
        want = [explorer_cifar.stored_figures(e)[key] for e in sweep.settings]
        assert list(stored.y) == want
