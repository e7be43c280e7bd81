"""superinfo_lib.pretrained: published encoders, verified by the manifest's sha256, from a folder
or from a real local HTTP server."""

import importlib.util
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from superinfo_lib import pretrained
from superinfo_lib.download import VerificationError
from superinfo_lib.models import Encoder, SuperInfoModel

ROOT = Path(__file__).resolve().parent.parent


def load_export_script():
    path = ROOT / "experiments" / "export_encoders.py"
    spec = importlib.util.spec_from_file_location("export_encoders", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def publish(folder: Path, names=("enc-a", "enc-b")) -> dict[str, SuperInfoModel]:
    """Small trained-looking models saved as a published set: files + manifest."""
    models, entries = {}, []
    for i, name in enumerate(names):
        torch.manual_seed(i)
        model = SuperInfoModel("small", latent_dim=16)
        info = pretrained.save_encoder(model, folder / f"{name}.safetensors")
        entries.append(
            {"name": name, "file": f"{name}.safetensors", "arch": "small", "latent_dim": 16, **info}
        )
        models[name] = model
    (folder / "manifest.json").write_text(json.dumps({"format": 1, "encoders": entries}))
    return models


def same_weights(encoder: Encoder, model: SuperInfoModel) -> bool:
    want = {k: v for k, v in model.state_dict().items() if not k.startswith("projector.")}
    got = encoder.state_dict()
    return set(want) == set(got) and all(torch.equal(want[k], got[k]) for k in want)


@pytest.fixture
def served(tmp_path):
    """A published set behind `python -m http.server` on a free local port."""
    site = tmp_path / "site"
    site.mkdir()
    models = publish(site)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(site)]
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.time() > deadline:
                server.kill()
                pytest.fail("the local HTTP server did not start")
            time.sleep(0.1)
    yield site, f"http://127.0.0.1:{port}", models
    server.terminate()
    server.wait(timeout=10)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_a_folder_source_loads_the_same_weights_in_eval_mode(tmp_path):
    models = publish(tmp_path)
    manifest = tmp_path / "manifest.json"
    assert [e["name"] for e in pretrained.list_encoders(manifest)] == ["enc-a", "enc-b"]
    encoder = pretrained.load_encoder("enc-b", source=tmp_path, manifest=manifest)
    assert isinstance(encoder, Encoder) and not encoder.training
    assert same_weights(encoder, models["enc-b"])
    x = torch.randn(4, 3, 32, 32)
    models["enc-b"].eval()
    assert torch.equal(encoder.features(x, "mu"), models["enc-b"].features(x, "mu"))


def test_a_download_is_verified_cached_and_loaded(served, tmp_path):
    site, url, models = served
    cache = tmp_path / "cache"
    encoder = pretrained.load_encoder(
        "enc-a", source=url, cache_dir=cache, manifest=site / "manifest.json", progress=False
    )
    assert same_weights(encoder, models["enc-a"])
    assert leftovers(cache) == ["enc-a.safetensors"]  # no partial file beside it
    # The second time it is read from the cache: the server is not needed.
    (site / "enc-a.safetensors").unlink()
    again = pretrained.load_encoder(
        "enc-a", source=url, cache_dir=cache, manifest=site / "manifest.json", progress=False
    )
    assert same_weights(again, models["enc-a"])


@pytest.mark.parametrize("damage", ["truncated", "altered"])
def test_a_bad_download_is_refused_naming_the_file_and_hash_and_nothing_stays(served, tmp_path, damage):
    site, url, _ = served
    manifest = json.loads((site / "manifest.json").read_text())
    expected = manifest["encoders"][0]["sha256"]
    path = site / "enc-a.safetensors"
    data = bytearray(path.read_bytes())
    if damage == "truncated":
        data = data[: len(data) // 2]
    else:
        data[len(data) // 2] ^= 0xFF  # one flipped byte, same length
    path.write_bytes(bytes(data))
    cache = tmp_path / "cache"
    with pytest.raises(VerificationError) as err:
        pretrained.load_encoder(
            "enc-a", source=url, cache_dir=cache, manifest=site / "manifest.json", progress=False
        )
    assert "enc-a.safetensors" in str(err.value) and expected in str(err.value)
    assert leftovers(cache) == []


def test_an_altered_local_file_is_refused(tmp_path):
    publish(tmp_path)
    path = tmp_path / "enc-b.safetensors"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(VerificationError, match="enc-b.safetensors.*manifest expects"):
        pretrained.load_encoder("enc-b", source=tmp_path, manifest=tmp_path / "manifest.json")


def test_an_unknown_name_lists_the_known_encoders(tmp_path):
    publish(tmp_path)
    with pytest.raises(KeyError, match="enc-a, enc-b"):
        pretrained.load_encoder("enc-z", source=tmp_path, manifest=tmp_path / "manifest.json")


def test_the_repositorys_encoders_verify_and_load():
    """Every published encoder of the CPU study: its file is the manifest's, it loads, it is the
    encoder of the run file it names, and all of them together stay small."""
    entries = pretrained.list_encoders()
    cpu = ROOT / "results" / "cpu"
    study_runs = {p.stem[len("run-") :] for item in ("main", "sweep") for p in cpu.glob(f"run-{item}-*.json")}
    assert len(study_runs) == 15 and {e["name"] for e in entries} == study_runs  # 9 main, 6 sweep
    assert sum(e["bytes"] for e in entries) <= 20 * 2**20
    explained = pretrained.read_manifest().get("differences_explained")
    export = load_export_script()
    for entry in entries:
        encoder = pretrained.load_encoder(entry["name"])
        assert not encoder.training and encoder.arch == entry["arch"]
        run = json.loads((ROOT / entry["run_file"]).read_text())
        assert run["label"] == entry["name"] and run["method"] == entry["method"]
        assert (run["beta_12"], run["beta_21"], run["seed"]) == (
            entry["beta_12"],
            entry["beta_21"],
            entry["seed"],
        )
        # A re-run's figure that differs from the stored run's is named, with both values, and
        # is one the manifest explains; the re-run's own file holds it.
        for key, values in entry.get("differs_from_run_file", {}).items():
            assert explained and key in explained["figures"] and values["stored"] != values["rerun"]
            rerun = json.loads((ROOT / entry["rerun_file"]).read_text())
            assert export.figure(run, key) == values["stored"]
            assert export.figure(rerun, key) == values["rerun"]
