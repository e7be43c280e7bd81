"""The CPU study's trained encoders: load one instead of training it.

Each encoder (backbone + Gaussian head of one run of the CPU study) is a `safetensors` file; the
repository's manifest (results/cpu/encoders/manifest.json) names each one with its method, seed,
betas, epochs, the run file whose figures it produced, its size and its sha256. A file is loaded
only if its sha256 is the manifest's: the hash comes from the repository, never from where the
file was fetched.

    from superinfo_lib.pretrained import list_encoders, load_encoder
    [e["name"] for e in list_encoders()]               # main-simclr-s0, ..., sweep-superinfo-b0.001-0.001
    encoder = load_encoder("main-superinfo-s0")        # an Encoder in eval mode
    encoder = load_encoder("main-mib-s1", source="https://github.com/OWNER/REPO/releases/download/encoders-v1")

`source` is a folder or an http(s) URL prefix (default: the repository's results/cpu/encoders/).
From a URL the file is downloaded with a progress bar into a cache folder ($SUPERINFO_CACHE or
~/.cache/superinfo/encoders), verified, then renamed into place.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from .download import VerificationError, fetch_verified, is_url, sha256_file
from .models import Encoder

REPO_ROOT = Path(__file__).resolve().parent.parent
ENCODERS_DIR = REPO_ROOT / "results" / "cpu" / "encoders"
MANIFEST_NAME = "manifest.json"


def default_cache_dir() -> Path:
    return Path(os.environ.get("SUPERINFO_CACHE", Path.home() / ".cache" / "superinfo")) / "encoders"


def read_manifest(manifest: str | Path | None = None) -> dict:
    path = Path(manifest) if manifest is not None else ENCODERS_DIR / MANIFEST_NAME
    if not path.is_file():
        raise FileNotFoundError(f"encoder manifest not found: {path}")
    return json.loads(path.read_text())


def list_encoders(manifest: str | Path | None = None) -> list[dict]:
    """Every published encoder's manifest entry (name, method, seed, beta_12, beta_21, epochs,
    arch, latent_dim, file, sha256, bytes, run_file, commit)."""
    return read_manifest(manifest)["encoders"]


def find_entry(name: str, manifest: str | Path | None = None) -> dict:
    entries = {e["name"]: e for e in list_encoders(manifest)}
    if name not in entries:
        raise KeyError(f"no encoder named {name!r}; the encoders are: {', '.join(sorted(entries))}")
    return entries[name]


def local_copy(entry: dict, source: str | Path | None, cache_dir: str | Path | None, progress: bool) -> Path:
    """The path of a verified copy of the entry's file: the folder's own file, or a download
    into the cache (kept only when it verifies)."""
    if source is None or not is_url(source):
        path = Path(source or ENCODERS_DIR) / entry["file"]
        if not path.is_file():
            raise FileNotFoundError(f"encoder file not found: {path}")
        return path
    cached = Path(cache_dir or default_cache_dir()) / entry["sha256"][:16] / entry["file"]
    if not cached.is_file():
        url = f"{str(source).rstrip('/')}/{entry['file']}"
        fetch_verified(url, cached, entry["sha256"], progress=progress)
    return cached


def load_encoder(
    name: str,
    source: str | Path | None = None,
    *,
    cache_dir: str | Path | None = None,
    manifest: str | Path | None = None,
    progress: bool = True,
    device="cpu",
) -> Encoder:
    """The published encoder `name` (see `list_encoders`), in eval mode on `device`.

    Raises KeyError naming the known encoders for an unknown name, VerificationError naming the
    file and the manifest's sha256 when the bytes differ (a truncated or altered file; a bad
    download is not kept), FileNotFoundError when the file is missing.
    """
    from safetensors.torch import load_file  # reads tensors only: no code runs from the file

    entry = find_entry(name, manifest)
    path = local_copy(entry, source, cache_dir, progress)
    got = sha256_file(path)
    if got != entry["sha256"]:
        raise VerificationError(
            f"{path}: sha256 is {got}, the manifest expects {entry['sha256']} (a truncated or altered "
            "file); not loaded"
        )
    encoder = Encoder(entry["arch"], entry["latent_dim"])
    encoder.load_state_dict(load_file(str(path)))
    return encoder.to(device).eval()


def save_encoder(model: torch.nn.Module, path: str | Path) -> dict:
    """Write the backbone and Gaussian head of `model` (a SuperInfoModel or Encoder) as fp32
    safetensors; returns {"sha256", "bytes"} of the file."""
    from safetensors.torch import save_file

    state = {
        k: v.detach().float().contiguous() if v.is_floating_point() else v.detach().contiguous()
        for k, v in model.state_dict().items()
        if k.startswith(("backbone.", "head."))
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_file(state, str(tmp))
    os.chmod(tmp, 0o644)  # readable by everyone, like any file of the repository
    os.replace(tmp, path)
    return {"sha256": sha256_file(path), "bytes": path.stat().st_size}
