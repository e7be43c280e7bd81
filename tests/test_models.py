"""superinfo_lib.models: the CIFAR stem, the Gaussian head, deterministic features."""

import subprocess
import sys

import pytest
import torch
import torch.nn as nn

from superinfo_lib.models import GaussianHead, SuperInfoModel, resnet18_cifar


def test_resnet18_cifar_stem_keeps_32px():
    net = resnet18_cifar()
    assert net.conv1.kernel_size == (3, 3) and net.conv1.stride == (1, 1)
    assert isinstance(net.maxpool, nn.Identity)
    net.eval()
    with torch.no_grad():
        out = net(torch.randn(2, 3, 32, 32))
        assert out.shape == (2, 512)
        # After the stem the feature map is still 32x32 (ImageNet's stem would give 8x8).
        assert net.relu(net.bn1(net.conv1(torch.randn(1, 3, 32, 32)))).shape[-1] == 32
        assert net.layer1(net.maxpool(torch.zeros(1, 64, 32, 32))).shape[-1] == 32


def test_gaussian_head_bounds_logvar():
    head = GaussianHead(8, 4, logvar_min=-8.0, logvar_max=4.0)
    mu, logvar = head(torch.randn(16, 8) * 1e4)  # drive the logits far out
    assert mu.shape == logvar.shape == (16, 4)
    assert logvar.min() >= -8.0 and logvar.max() <= 4.0


def test_forward_samples_but_features_are_deterministic():
    torch.manual_seed(0)
    model = SuperInfoModel("small", latent_dim=16, proj_hidden=32, proj_out=8).eval()
    x = torch.randn(4, 3, 32, 32)
    out = model(x, generator=torch.Generator().manual_seed(1))
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        "h": (4, 128),
        "mu": (4, 16),
        "logvar": (4, 16),
        "z": (4, 16),
        "p": (4, 8),
    }
    again = model(x, generator=torch.Generator().manual_seed(2))
    assert not torch.allclose(out["z"], again["z"])  # training uses a sample...
    mu = model.features(x, "mu")
    assert torch.equal(mu, model.features(x, "mu"))  # ...evaluation does not
    assert torch.allclose(mu, out["mu"]) and torch.allclose(model.features(x), out["h"])
    with pytest.raises(ValueError, match="which"):
        model.features(x, "z")


def test_cpu_course_modules_do_not_import_torchvision():
    # torchvision costs ~160 MB of a 2 GB Binder session; only ResNet-18 and the download need it.
    code = (
        "import sys\n"
        "import superinfo_lib.train, superinfo_lib.eval, superinfo_lib.probes, superinfo_lib.widgets\n"
        "superinfo_lib.models.SuperInfoModel('small')\n"
        "assert 'torchvision' not in sys.modules, 'imported torchvision'\n"
        "superinfo_lib.models.resnet18_cifar()\n"
        "assert 'torchvision' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
