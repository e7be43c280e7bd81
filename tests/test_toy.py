"""superinfo_lib.toy: the multi-view set with known factors and its CPU-fast trainer."""
import pytest
import torch

from superinfo_lib.toy import CHANCE, make_multiview, ridge_probe_accuracy, train_toy


def test_make_multiview_is_deterministic_for_a_seed():
    a, b, c = make_multiview(n=256, seed=3), make_multiview(n=256, seed=3), make_multiview(n=256, seed=4)
    for name in ("v1", "v2", "shared", "specific1", "specific2", "nuisance1", "nuisance2"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name
    assert not torch.equal(a.v1, c.v1)
    assert a.v1.shape == a.v2.shape == (256, 32)


def test_make_multiview_factors():
    d = make_multiview(n=20000, specific_agreement=0.75, seed=0)
    # The view-specific attribute agrees with the parity of the shared class 75% + 25%/2 of the time.
    assert (d.specific1 == d.shared % 2).float().mean().item() == pytest.approx(0.875, abs=0.01)
    assert (d.nuisance1 == d.nuisance2).float().mean().item() == pytest.approx(0.5, abs=0.02)
    # Each view carries its own factors linearly: a probe on the raw view reads them.
    n = 15000
    for view, nuisance in ((d.v1, d.nuisance1), (d.v2, d.nuisance2)):
        assert ridge_probe_accuracy(view[:n], nuisance[:n], view[n:], nuisance[n:], 2) > 0.9
    # ...and not the other view's nuisance.
    assert ridge_probe_accuracy(d.v1[:n], d.nuisance2[:n], d.v1[n:], d.nuisance2[n:], 2) < 0.55
    with pytest.raises(ValueError, match="specific_agreement"):
        make_multiview(specific_agreement=1.5)


def test_train_toy_is_reproducible():
    a = train_toy(beta_12=1e-3, beta_21=1e-3, steps=30, seed=5)
    b = train_toy(beta_12=1e-3, beta_21=1e-3, steps=30, seed=5)
    assert a.history == b.history and a.probes == b.probes
    assert len(a.history["loss"]) == 30 and a.diverged_at is None


@pytest.fixture(scope="module")
def beta_zero():
    return train_toy(beta_12=0.0, beta_21=0.0, steps=200, seed=0)


def test_beta_zero_keeps_the_nuisance(beta_zero):
    probes = beta_zero.probes
    assert probes["shared"] > 0.95                                       # InfoNCE keeps the shared class
    assert probes["nuisance"] > CHANCE["nuisance"] + 0.12                # and, unpenalised, the nuisance
    assert beta_zero.history["nce"][-1] < beta_zero.history["nce"][0] - 0.3


def test_large_beta_drops_the_nuisance_toward_chance(beta_zero):
    result = train_toy(beta_12=1e-2, beta_21=1e-2, steps=200, seed=0)
    assert result.probes["nuisance"] < CHANCE["nuisance"] + 0.1
    assert result.probes["nuisance"] < beta_zero.probes["nuisance"] - 0.08
    assert result.probes["shared"] > 0.9                                 # the shared class survives
    assert result.final("kl_12") < beta_zero.final("kl_12") / 10         # the KL term did its job


def test_negative_beta_needs_opt_in():
    with pytest.raises(ValueError, match="beta_12"):
        train_toy(beta_12=-1e-3, steps=2)
    result = train_toy(beta_12=-1e-3, beta_21=-1e-3, steps=5, allow_negative_beta=True)
    assert result.settings["beta_12"] == -1e-3
    assert result.diverged_at is not None or len(result.history["loss"]) == 5


def test_train_toy_bad_arguments():
    with pytest.raises(ValueError, match="steps"):
        train_toy(steps=0)
    with pytest.raises(ValueError, match="latent_dim"):
        train_toy(latent_dim=0)
    with pytest.raises(ValueError, match="temperature"):
        train_toy(temperature=0.0, steps=1)
