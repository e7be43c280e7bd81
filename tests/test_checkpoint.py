"""superinfo_lib.checkpoint: atomic saves, safe loads, wrapper prefixes."""

import pathlib

import pytest
import torch

from superinfo_lib.checkpoint import load_backbone, load_checkpoint, load_checkpoint_model, save_checkpoint
from superinfo_lib.models import SuperInfoModel


def save_small_checkpoint(tmp_path, transform_state=None):
    torch.manual_seed(0)
    model = SuperInfoModel("small", latent_dim=16, proj_hidden=32, proj_out=8)
    model(torch.randn(8, 3, 32, 32))  # move the BN running stats
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, model, optimizer, step=3, epoch=1, config={"arch": "small"})
    if transform_state is not None:
        ckpt = load_checkpoint(path)
        ckpt["model"] = transform_state(ckpt["model"])
        torch.save(ckpt, path)
    return model, path


@pytest.mark.parametrize("prefix", ["", "module.", "_orig_mod.", "module._orig_mod."])
def test_load_backbone_strips_wrapper_prefixes(tmp_path, prefix):
    model, path = save_small_checkpoint(tmp_path, lambda state: {prefix + k: v for k, v in state.items()})
    backbone = load_backbone(path)
    assert not backbone.training
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(backbone(x), model.backbone.eval()(x))


def test_load_backbone_after_torch_compile(tmp_path):
    # --compile wraps the backbone: its keys become "backbone._orig_mod.*" (prefix in the middle).
    torch.manual_seed(0)
    model = SuperInfoModel("small", latent_dim=16, proj_hidden=32, proj_out=8)
    model.backbone = torch.compile(model.backbone)  # lazy: nothing compiles here
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, model, torch.optim.SGD(model.parameters(), lr=0.1), 0, 0, {"arch": "small"})
    backbone = load_backbone(path)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(backbone(x), model.backbone._orig_mod.eval()(x))


def test_load_backbone_bad_checkpoints(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        load_backbone(tmp_path / "missing.pt")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x00not a checkpoint")
    with pytest.raises(ValueError, match="garbage.pt"):
        load_backbone(garbage)
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {}}, foreign)
    with pytest.raises(ValueError, match="foreign.pt"):
        load_backbone(foreign)


class CreatesAFile:
    """Unpickling this object would create `target`: what a malicious checkpoint could do."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.target),))


def test_a_checkpoint_that_would_run_code_is_refused(tmp_path):
    model, path = save_small_checkpoint(tmp_path)
    ckpt = load_checkpoint(path)
    target = tmp_path / "created_by_unpickling"
    ckpt["config"] = {"payload": CreatesAFile(target)}
    evil = tmp_path / "shared_by_someone.pt"
    torch.save(ckpt, evil)
    for load in (load_checkpoint, load_checkpoint_model, load_backbone):
        with pytest.raises(ValueError, match="shared_by_someone.pt.*could not be read safely"):
            load(evil)
    assert not target.exists()
    # The payload is really in the file (torch.save stores its pickle uncompressed), and it is
    # what would have run: the test can fail.
    assert b"touch" in evil.read_bytes()
    func, args = CreatesAFile(target).__reduce__()
    func(*args)
    assert target.exists()


def test_checkpoint_round_trip_is_atomic_and_complete(tmp_path):
    model, path = save_small_checkpoint(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt"]  # no .tmp left behind
    restored, ckpt = load_checkpoint_model(path)
    assert ckpt["step"] == 3 and ckpt["epoch"] == 1 and ckpt["config"] == {"arch": "small"}
    assert ckpt["scaler"] is None and isinstance(ckpt["torch_version"], str)
    for key, value in model.state_dict().items():
        assert torch.equal(restored.state_dict()[key], value), key


def test_the_model_lands_on_the_requested_device(tmp_path):
    """The model is built, loaded and moved to `map_location` (a model left on the CPU while the
    results said "cuda" was a real defect). The meta device stands in for a GPU here."""
    _, path = save_small_checkpoint(tmp_path)
    model, _ = load_checkpoint_model(path, map_location="meta")
    assert {p.device.type for p in model.parameters()} == {"meta"}
    assert {b.device.type for b in model.buffers()} == {"meta"}
