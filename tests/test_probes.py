"""superinfo_lib.probes: held-out ridge R^2 and the augmentation-parameter probe."""

import pytest
import torch
import torch.nn as nn

from superinfo_lib.data import synthetic_images
from superinfo_lib.probes import PROBED_PARAMS, augmentation_probe, fit_ridge, ridge_r2


def test_ridge_r2_linear_and_independent_targets():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2000, 10, generator=g)
    linear = x @ torch.randn(10, 2, generator=g) + 3.0  # exactly linear (with an offset)
    independent = torch.randn(2000, 1, generator=g)
    targets = torch.cat([linear, independent], 1)
    r2 = ridge_r2(x[:1500], targets[:1500], x[1500:], targets[1500:], ridge=1e-6)
    assert r2.shape == (3,)
    assert r2[0] > 0.999 and r2[1] > 0.999
    assert abs(r2[2]) < 0.05


def test_ridge_r2_partial_signal():
    # y = signal + equal-variance noise: R^2 close to 1/2.
    g = torch.Generator().manual_seed(1)
    x = torch.randn(4000, 5, generator=g)
    y = x[:, :1] + torch.randn(4000, 1, generator=g)
    r2 = ridge_r2(x[:3000], y[:3000], x[3000:], y[3000:], ridge=1e-6)
    assert r2.item() == pytest.approx(0.5, abs=0.06)


def test_large_ridge_predicts_the_training_mean():
    # Only the weights shrink: with an enormous penalty the fit is the mean of the training
    # targets (R^2 about 0 on new rows), not 0 (R^2 far below 0 for a target centred at 5).
    g = torch.Generator().manual_seed(3)
    x = torch.randn(400, 4, generator=g)
    y = 5.0 + x[:, :1] + 0.1 * torch.randn(400, 1, generator=g)
    predict = fit_ridge(x[:300], y[:300], ridge=1e9)
    torch.testing.assert_close(predict(x[300:]).float(), y[:300].mean(0).expand(100, 1), atol=1e-4, rtol=0)
    assert abs(ridge_r2(x[:300], y[:300], x[300:], y[300:], ridge=1e9).item()) < 0.05


def test_selected_ridge_does_not_overfit_few_rows_many_features():
    # 300 rows, 200 noise features: a near-zero penalty fits noise (R^2 far below 0 on new
    # rows); the penalty chosen on the training rows keeps the estimate near chance (0),
    # and still finds a real signal.
    g = torch.Generator().manual_seed(2)
    x = torch.randn(400, 200, generator=g)
    y = torch.cat([torch.randn(400, 1, generator=g), x[:, :1] + 0.3 * torch.randn(400, 1, generator=g)], 1)
    naive = ridge_r2(x[:300], y[:300], x[300:], y[300:], ridge=1e-6)
    chosen = ridge_r2(x[:300], y[:300], x[300:], y[300:])
    assert naive[0] < -0.5
    assert chosen[0] > -0.1
    assert chosen[1] > 0.6


class ColourStats(nn.Module):
    """A fixed 'encoder' of colour statistics: mean and spread per channel, and how far the
    channels are apart (zero for a grey image)."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, x):
        apart = (x - x.roll(1, dims=1)).abs().mean(dim=(2, 3))
        return self.scale * torch.cat([x.mean(dim=(2, 3)), x.std(dim=(2, 3)), apart], 1)


def test_augmentation_probe_reads_parameters_from_pixels():
    images = synthetic_images(400, 1, seed=0).train_x
    scores = augmentation_probe(ColourStats(), images, seed=0)
    assert set(scores) == set(PROBED_PARAMS) | {"mean_r2"}
    # Colour statistics reveal the grey-scale coin flip; a constant encoder would give R^2 <= 0.
    assert scores["grayscale"] > 0.3 and scores["brightness"] > 0.1
    # ...but not the flip, which leaves every colour statistic unchanged.
    assert abs(scores["flip"]) < 0.1
    with pytest.raises(ValueError, match="images"):
        augmentation_probe(ColourStats(), images[:3])


def test_other_view_control_reads_nothing():
    # The same colour statistics cannot predict a second, independent view's parameters.
    # 1,000 images: 300 held-out rows keep the sampling noise of R^2 near +-0.05.
    images = synthetic_images(1000, 1, seed=0).train_x
    own = augmentation_probe(ColourStats(), images, seed=0)
    control = augmentation_probe(ColourStats(), images, seed=0, other_view=True)
    assert own["grayscale"] > 0.3 and abs(control["grayscale"]) < 0.1 and abs(control["brightness"]) < 0.1
    assert abs(control["mean_r2"]) < 0.05


def test_sample_encoder_draws_z_around_mu_with_sigma():
    from superinfo_lib.features import MuEncoder, SampleEncoder
    from superinfo_lib.models import SuperInfoModel

    torch.manual_seed(0)
    model = SuperInfoModel("small", latent_dim=8, proj_hidden=16, proj_out=4).eval()
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        mu, logvar = model.head(model.backbone(x))
        z = torch.stack([SampleEncoder(model, seed=s)(x) for s in range(2000)])
        again = SampleEncoder(model, seed=5)(x)
    assert torch.equal(again, z[5])  # a seed gives the same sample
    assert not torch.equal(z[0], z[1])
    sigma = torch.exp(0.5 * logvar)
    assert torch.allclose(z.mean(0), mu, atol=4 * sigma.max().item() / 2000**0.5)
    assert torch.allclose(z.std(0), sigma, rtol=0.1)
    assert torch.equal(MuEncoder(model)(x), mu)
