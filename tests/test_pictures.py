"""superinfo_lib.pictures: an encoder's codes, its nearest neighbours, a 2-D map and how well
classes separate there."""

import pytest
import torch

from superinfo_lib.features import MuEncoder, extract_features
from superinfo_lib.models import SuperInfoModel
from superinfo_lib.pictures import encode, map_2d, map_separation, nearest


def test_encode_gives_the_features_the_evaluation_reads():
    torch.manual_seed(0)
    model = SuperInfoModel("small", latent_dim=16).eval()
    images = torch.randint(0, 256, (40, 3, 32, 32), dtype=torch.uint8)
    codes = encode(model, images, batch_size=16, precision="fp32")
    assert torch.allclose(codes["h"], extract_features(model.backbone, images, precision="fp32"), atol=1e-5)
    assert torch.allclose(
        codes["mu"], extract_features(MuEncoder(model), images, precision="fp32"), atol=1e-5
    )
    with torch.no_grad():
        _, logvar = model.head(codes["h"])
    assert torch.allclose(codes["sigma"], torch.exp(0.5 * logvar), atol=1e-5)


def test_nearest_matches_a_naive_loop():
    g = torch.Generator().manual_seed(1)
    database, queries = torch.randn(50, 6, generator=g), torch.randn(5, 6, generator=g)
    similarity, index = nearest(database, queries, k=4)
    for q, row, sims in zip(queries, index, similarity):
        cos = [float(q @ d / (q.norm() * d.norm())) for d in database]
        assert row.tolist() == sorted(range(50), key=lambda j: -cos[j])[:4]
        assert sims.tolist() == pytest.approx([cos[j] for j in row.tolist()], abs=1e-6)
        assert all(a >= b for a, b in zip(sims.tolist(), sims.tolist()[1:]))


def test_map_separation_known_values():
    g = torch.Generator().manual_seed(2)
    labels = torch.arange(2).repeat_interleave(30)
    apart = torch.randn(60, 2, generator=g) * 0.1 + labels[:, None] * 10.0
    assert map_separation(apart, labels, k=5) == 1.0
    mixed = torch.randn(60, 2, generator=g)  # labels say nothing about position
    assert 0.2 < map_separation(mixed, labels, k=5) < 0.8


def test_map_2d_keeps_separated_classes_separated():
    g = torch.Generator().manual_seed(3)
    labels = torch.arange(3).repeat_interleave(40)
    centres = torch.randn(3, 20, generator=g) * 5
    features = centres[labels] + torch.randn(120, 20, generator=g)
    points = map_2d(features, seed=0, perplexity=15)
    assert points.shape == (120, 2) and torch.isfinite(points).all()
    assert map_separation(points, labels, k=5) > 0.95
    assert torch.equal(points, map_2d(features, seed=0, perplexity=15))  # the seed fixes the map
