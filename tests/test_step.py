"""superinfo_lib.step: the one training step and the choice of precision."""

import pytest
import torch

from superinfo_lib import step as step_mod
from superinfo_lib.data import synthetic_images, two_views
from superinfo_lib.losses import PRESETS, superinfo_loss
from superinfo_lib.models import SuperInfoModel
from superinfo_lib.step import choose_precision, make_scaler, training_step


def test_precision_follows_the_device(monkeypatch):
    monkeypatch.setattr(step_mod, "cpu_has_native_bf16", lambda: False)
    assert choose_precision("cpu") == "fp32"
    monkeypatch.setattr(step_mod, "cpu_has_native_bf16", lambda: True)
    assert choose_precision("cpu") == "bf16"
    assert choose_precision("cpu", "fp32") == "fp32"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (7, 5))  # T4
    assert choose_precision("cuda") == "fp16"
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (9, 0))  # H100
    assert choose_precision("cuda") == "bf16"
    assert choose_precision("cuda", "fp32") == "fp32"  # an explicit choice wins
    with pytest.raises(ValueError, match="precision"):
        choose_precision("cpu", "fp8")


@pytest.mark.parametrize(
    ("flags", "native"),
    [
        ("fpu sse avx2 avx512f avx512_bf16 avx512_vnni", True),  # AMD Zen 4, Intel Cooper Lake
        ("fpu sse avx2 avx512f amx_bf16 amx_tile", True),  # Intel Sapphire Rapids
        ("fpu sse avx2 avx512f avx512bw", False),  # AVX-512 without bf16: emulated, slower
        ("fpu sse avx2 avx512_bf16x", False),  # a flag that merely starts the same
    ],
)
def test_native_bf16_is_read_from_the_cpu_flags(tmp_path, flags, native):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: {flags}\n")
    assert step_mod.cpu_has_native_bf16(cpuinfo) is native
    assert step_mod.cpu_has_native_bf16(tmp_path / "missing") is False


def test_only_fp16_scales_the_loss():
    assert make_scaler("cpu", "fp16").is_enabled()
    assert not make_scaler("cpu", "bf16").is_enabled() and not make_scaler("cpu", "fp32").is_enabled()


def small_setup(seed=0):
    torch.manual_seed(seed)
    model = SuperInfoModel("small", latent_dim=16, proj_hidden=32, proj_out=8)
    return model, torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)


def test_step_equals_the_loss_written_out():
    """One step = the library's loss on the model's outputs, then an SGD step on its gradient."""
    batch = synthetic_images(n_train=16, n_test=2).train_x
    views = two_views(batch, torch.Generator().manual_seed(0))
    model, optimizer = small_setup()
    reference, ref_opt = small_setup()
    terms = training_step(
        model, optimizer, views, PRESETS["mib"], (0.01, 0.02), generator=torch.Generator().manual_seed(1)
    )
    out = reference(views, generator=torch.Generator().manual_seed(1))
    (p1, p2), (m1, m2), (l1, l2) = out["p"].chunk(2), out["mu"].chunk(2), out["logvar"].chunk(2)
    expected = superinfo_loss(p1, p2, m1, l1, m2, l2, beta_12=0.01, beta_21=0.02, temperature=0.5)
    assert terms["loss"].item() == pytest.approx(expected["loss"].item(), rel=1e-6)
    expected["loss"].backward()
    ref_opt.step()
    for (name, a), b in zip(model.named_parameters(), reference.parameters()):
        assert torch.allclose(a, b, atol=1e-6), name


@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
def test_steps_lower_the_loss_in_every_precision(precision):
    batch = synthetic_images(n_train=16, n_test=2, size=16).train_x  # small: CPU bf16/fp16 convs are slow
    views = two_views(batch, torch.Generator().manual_seed(0))
    model, optimizer = small_setup()
    scaler = make_scaler("cpu", precision)
    losses = [
        training_step(
            model,
            optimizer,
            views,
            PRESETS["superinfo"],
            precision=precision,
            scaler=scaler,
            generator=torch.Generator().manual_seed(1),
        )["nce"].item()
        for _ in range(10)
    ]
    assert all(map(torch.isfinite, map(torch.tensor, losses)))
    assert losses[-1] < losses[0] - 0.05, losses


def test_step_uses_no_finiteness_check(monkeypatch):
    """The step must not read values back to the host: it asks the loss to skip its checks."""
    seen = {}
    real = step_mod.superinfo_loss

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(step_mod, "superinfo_loss", spy)
    model, optimizer = small_setup()
    views = two_views(synthetic_images(n_train=8, n_test=2).train_x)
    training_step(model, optimizer, views, PRESETS["simclr"])
    assert seen["check_finite"] is False
