"""superinfo_lib.gaussian_mi: closed forms of the superfluous information and of MIB's KL bound."""

import math

import pytest
import torch

from superinfo_lib.gaussian_mi import (
    bound_gap,
    kl_bound,
    monte_carlo_kl_bound,
    sample_covariance_mi,
    sample_views,
    superfluous_information,
)

GRID = [
    (view_noise, gain, encoder_std)
    for view_noise in (0.3, 1.0)
    for gain in (0.5, 2.0)
    for encoder_std in (0.1, 1.0)
]


@pytest.mark.parametrize("view_noise,gain,encoder_std", GRID)
def test_closed_forms_match_monte_carlo(view_noise, gain, encoder_std):
    g = torch.Generator().manual_seed(0)
    samples = sample_views(100_000, 2, view_noise, gain, encoder_std, g)
    # The truth against the samples' own covariance (no shared formula); 2 dimensions add up.
    truth = superfluous_information(view_noise, gain, encoder_std)
    assert sample_covariance_mi(samples) == pytest.approx(2 * truth, rel=0.02, abs=2e-3)
    # The bound against the library's gaussian_kl averaged over samples.
    mean, stderr = monte_carlo_kl_bound(samples, gain, encoder_std)
    assert abs(mean - 2 * kl_bound(view_noise, gain, encoder_std)) < 5 * stderr


@pytest.mark.parametrize("view_noise,gain,encoder_std", GRID)
def test_bound_is_truth_plus_a_nonnegative_gap(view_noise, gain, encoder_std):
    args = (view_noise, gain, encoder_std)
    truth, bound, gap = superfluous_information(*args), kl_bound(*args), bound_gap(*args)
    assert gap >= 0 and bound >= truth
    assert bound == pytest.approx(truth + gap, rel=1e-12)


def test_known_values():
    assert superfluous_information(0.5, 0.0, 1.0) == 0.0 == kl_bound(0.5, 0.0, 1.0)  # z ignores v
    # view_noise 1: Var(v) = 2, Var(v1 | v2) = 2 - 1/2 = 1.5
    assert superfluous_information(1.0, 1.0, 1.0) == pytest.approx(0.5 * math.log(2.5))
    assert kl_bound(1.0, 1.0, 1.0) == 1.0
    # a shrinking encoder sigma: the bound grows like 1/sigma^2, the truth like log(1/sigma)
    assert kl_bound(0.5, 1.0, 0.01) / kl_bound(0.5, 1.0, 0.1) == pytest.approx(100)
    grown = superfluous_information(0.5, 1.0, 0.01) - superfluous_information(0.5, 1.0, 0.1)
    assert grown < math.log(10) + 1e-9


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="encoder_std"):
        kl_bound(0.5, 1.0, 0.0)
    with pytest.raises(ValueError, match="view_noise"):
        superfluous_information(-1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="gain"):
        bound_gap(0.5, float("nan"), 1.0)
    with pytest.raises(ValueError, match="n must be"):
        sample_views(1, 1, 0.5, 1.0, 1.0, torch.Generator())
