"""Downloading the JPEG pack: superinfo_lib.download.fetch_verified and load_cifar10(download=True),
against a real HTTP server on 127.0.0.1 (http.server in a thread), and the `download` CLI."""

import functools
import http.server
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch

import superinfo_lib.data as data_mod
from superinfo_lib.data import load_cifar10, read_pack, synthetic_images, write_pack
from superinfo_lib.download import VerificationError, fetch_verified, sha256_file

REPO = Path(__file__).resolve().parent.parent


class Handler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder. Two more paths cut the body of a file short and close the connection:
    /cut-length/NAME promises the whole file's Content-Length, /cut-chunked/NAME sends chunked
    encoding without the final empty chunk."""

    protocol_version = "HTTP/1.1"  # chunked encoding exists only from HTTP/1.1 on
    requests: list[str]

    def do_GET(self):
        self.requests.append(self.path)
        kind, _, name = self.path.lstrip("/").partition("/")
        if kind not in ("cut-length", "cut-chunked"):
            return super().do_GET()
        body = (Path(self.directory) / name).read_bytes()
        half = body[: len(body) // 2]
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if kind == "cut-length":
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(half)
        else:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(f"{len(half):x}\r\n".encode() + half + b"\r\n")
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture
def server(tmp_path):
    """A folder served over HTTP: (base URL, folder, list of the paths requested)."""
    folder = tmp_path / "served"
    folder.mkdir()
    requests = []
    handler = functools.partial(type("H", (Handler,), {"requests": requests}), directory=str(folder))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", folder, requests
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(10)


def write_small_pack(path: Path) -> str:
    """A 24 + 12 image pack (synthetic images); returns its sha256."""
    data = synthetic_images(n_train=24, n_test=12, seed=5)
    write_pack(
        path,
        data.train_x.permute(0, 2, 3, 1).numpy(),
        data.train_y.numpy(),
        data.test_x.permute(0, 2, 3, 1).numpy(),
        data.test_y.numpy(),
    )
    return sha256_file(path)


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/cifar10-jpeg.npz"  # nothing listens there any more


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """An empty repository root for data.py: no pack in data/, no $SUPERINFO_DATA, and a
    torchvision download that fails the test unless a test replaces it."""
    root = tmp_path / "repo"
    root.mkdir()
    monkeypatch.setattr(data_mod, "REPO_ROOT", root)
    for name in ("SUPERINFO_DATA", "SUPERINFO_DATA_URL", "SUPERINFO_DATA_SHA256"):
        monkeypatch.delenv(name, raising=False)

    def no_torchvision(root):
        raise AssertionError("torchvision's download was tried")

    monkeypatch.setattr(data_mod, "download_torchvision", no_torchvision)
    return root


def assert_same_images(a, b):
    for name in ("train_x", "train_y", "test_x", "test_y"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name


# ----------------------------------------------------------------------------- fetch_verified


def test_a_good_pack_is_downloaded_verified_found_and_loaded(server, repo, monkeypatch):
    base, folder, requests = server
    sha = write_small_pack(folder / "pack.npz")
    monkeypatch.setenv("SUPERINFO_DATA_URL", f"{base}/pack.npz")
    monkeypatch.setenv("SUPERINFO_DATA_SHA256", sha.upper())  # either case
    got = load_cifar10(download=True, train_limit=10)
    dest = repo / "data" / data_mod.PACK_NAME
    assert sha256_file(dest) == sha and [p.name for p in dest.parent.iterdir()] == [dest.name]
    assert_same_images(got, read_pack(folder / "pack.npz", train_limit=10))
    assert len(got.test_y) == 12 and str(dest) in got.source
    assert requests == ["/pack.npz"]
    # Found on disk from now on: no second request, even with download=True.
    assert_same_images(load_cifar10(download=True, train_limit=10), got)
    assert requests == ["/pack.npz"]


def test_the_pinned_hash_is_used_when_only_the_url_is_overridden(server, repo, monkeypatch):
    base, folder, _ = server
    sha = write_small_pack(folder / "pack.npz")
    monkeypatch.setattr(data_mod, "PACK_SHA256", sha)
    monkeypatch.setenv("SUPERINFO_DATA_URL", f"{base}/pack.npz")
    assert len(load_cifar10(download=True).train_y) == 24
    # And PACK_URL itself when nothing is overridden.
    (repo / "data" / data_mod.PACK_NAME).unlink()
    monkeypatch.delenv("SUPERINFO_DATA_URL")
    monkeypatch.setattr(data_mod, "PACK_URL", f"{base}/pack.npz")
    assert len(load_cifar10(download=True).train_y) == 24


def refused_url(kind: str, base: str, folder: Path) -> tuple[str, str]:
    """A URL whose bytes are not the pack's, and the pack's sha256."""
    good = folder / "pack.npz"
    sha = write_small_pack(good)
    body = good.read_bytes()
    if kind == "truncated file":
        (folder / "bad.npz").write_bytes(body[: len(body) // 2])
        return f"{base}/bad.npz", sha
    if kind == "altered file":
        middle = len(body) // 2
        (folder / "bad.npz").write_bytes(body[:middle] + bytes([body[middle] ^ 1]) + body[middle + 1 :])
        return f"{base}/bad.npz", sha
    return f"{base}/{kind}/pack.npz", sha  # cut-length, cut-chunked: the connection closes midway


REFUSED = ["truncated file", "altered file", "cut-length", "cut-chunked"]


@pytest.mark.parametrize("kind", REFUSED)
def test_a_truncated_or_altered_download_is_refused_and_leaves_nothing(server, tmp_path, kind):
    base, folder, requests = server
    url, sha = refused_url(kind, base, folder)
    out = tmp_path / "out"
    with pytest.raises(VerificationError) as err:
        fetch_verified(url, out / "pack.npz", sha256=sha, progress=False)
    assert url in str(err.value) and sha in str(err.value)
    why = {"cut-length": "stopped after", "cut-chunked": "stopped early"}.get(kind, "sha256 is")
    assert why in str(err.value)  # said as soon as it is known: a short body before any hashing
    assert list(out.iterdir()) == [], "no partial file and no final file"
    assert requests == [url.removeprefix(base)]
    # An earlier file at the destination is left as it was.
    (out / "pack.npz").write_bytes(b"earlier")
    with pytest.raises(VerificationError):
        fetch_verified(url, out / "pack.npz", sha256=sha, progress=False)
    assert [p.name for p in out.iterdir()] == ["pack.npz"] and (out / "pack.npz").read_bytes() == b"earlier"


@pytest.mark.parametrize("kind", ["altered file", "cut-chunked"])
def test_load_cifar10_names_a_refused_pack_and_keeps_nothing(server, repo, monkeypatch, kind):
    base, folder, _ = server
    url, sha = refused_url(kind, base, folder)
    monkeypatch.setenv("SUPERINFO_DATA_URL", url)
    monkeypatch.setenv("SUPERINFO_DATA_SHA256", sha)
    tried = []

    def torchvision_offline(root):
        tried.append(root)
        raise OSError("torchvision: no network")

    monkeypatch.setattr(data_mod, "download_torchvision", torchvision_offline)
    with pytest.raises(FileNotFoundError) as err:
        load_cifar10(download=True)
    message = str(err.value)
    assert "CIFAR-10 was not found" in message and url in message and sha in message
    assert "torchvision: no network" in message and tried == [repo / "data"]
    assert list((repo / "data").iterdir()) == []


def test_a_local_file_is_copied_only_if_its_hash_matches(tmp_path):
    source = tmp_path / "source.npz"
    source.write_bytes(b"pack bytes" * 1000)
    sha = sha256_file(source)
    assert fetch_verified(source, tmp_path / "a" / "copy.npz", sha256=sha).read_bytes() == source.read_bytes()
    with pytest.raises(VerificationError, match=sha256_file(source)[:12]):
        fetch_verified(source, tmp_path / "b" / "copy.npz", sha256="0" * 64)
    assert list((tmp_path / "b").iterdir()) == []
    with pytest.raises(ValueError, match="sha256 must be 64 hex digits"):
        fetch_verified(source, tmp_path / "c" / "copy.npz", sha256="abc")
    assert not (tmp_path / "c").exists()
    with pytest.raises(OSError):
        fetch_verified(tmp_path / "missing.npz", tmp_path / "d" / "copy.npz", sha256=sha)
    assert list((tmp_path / "d").iterdir()) == []


# ----------------------------------------------------------------------------- falling back


def test_an_unreachable_pack_falls_back_to_torchvision(repo, monkeypatch):
    monkeypatch.setenv("SUPERINFO_DATA_URL", closed_port_url())
    tried = []

    def fake_torchvision(root):
        """What torchvision leaves after a verified download: the pickled batches."""
        import pickle

        tried.append(root)
        folder = root / "cifar-10-batches-py"
        folder.mkdir(parents=True)
        images = synthetic_images(n_train=5, n_test=5, seed=1)
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            with open(folder / name, "wb") as fh:
                pickle.dump({"data": images.train_x.reshape(5, -1).numpy(), "labels": [1, 2, 3, 4, 5]}, fh)

    monkeypatch.setattr(data_mod, "download_torchvision", fake_torchvision)
    got = load_cifar10(download=True)
    assert tried == [repo / "data"] and "torchvision layout" in got.source
    assert got.train_x.shape == (25, 3, 32, 32) and got.train_y.tolist()[:5] == [1, 2, 3, 4, 5]
    assert not (repo / "data" / data_mod.PACK_NAME).exists()


def test_offline_ends_in_the_missing_data_message(repo, monkeypatch):
    url = closed_port_url()
    monkeypatch.setenv("SUPERINFO_DATA_URL", url)

    def torchvision_offline(root):
        raise RuntimeError("Error downloading cifar-10-python.tar.gz")

    monkeypatch.setattr(data_mod, "download_torchvision", torchvision_offline)
    with pytest.raises(FileNotFoundError) as err:
        load_cifar10(download=True)
    message = str(err.value)
    assert "CIFAR-10 was not found. Searched:" in message
    assert str(repo / "data" / data_mod.PACK_NAME) in message
    assert f"The JPEG pack's download from {url} failed" in message
    assert "refused" in message.lower()  # why: the port is closed
    assert "Error downloading cifar-10-python.tar.gz" in message and "data/README.md" in message
    assert list((repo / "data").iterdir()) == []


def test_without_download_or_with_a_missing_path_nothing_is_fetched(server, repo, monkeypatch, tmp_path):
    base, folder, requests = server
    sha = write_small_pack(folder / "pack.npz")
    monkeypatch.setenv("SUPERINFO_DATA_URL", f"{base}/pack.npz")
    monkeypatch.setenv("SUPERINFO_DATA_SHA256", sha)
    with pytest.raises(FileNotFoundError, match=r"(?s)not found.*pack\.npz"):  # names the URL too
        load_cifar10()
    missing = tmp_path / "nowhere" / "cifar10-jpeg.npz"
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_cifar10(missing, download=True)
    assert requests == [] and not (repo / "data").exists()


def test_a_malformed_sha256_override_is_named(repo, monkeypatch):
    monkeypatch.setenv("SUPERINFO_DATA_SHA256", "not-a-hash")
    with pytest.raises(ValueError, match="SUPERINFO_DATA_SHA256"):
        load_cifar10(download=True)


# ----------------------------------------------------------------------------- the CLI


def test_download_cli(server, tmp_path, capsys):
    base, folder, requests = server
    sha = write_small_pack(folder / "pack.npz")
    out = tmp_path / "out" / "cifar10-jpeg.npz"
    # A real process, URL and hash from the environment.
    env = {"SUPERINFO_DATA_URL": f"{base}/pack.npz", "SUPERINFO_DATA_SHA256": sha}
    proc = subprocess.run(
        [sys.executable, "-m", "superinfo_lib.data", "download", "--out", str(out)],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"wrote {out}" in proc.stdout and sha in proc.stdout
    assert sha256_file(out) == sha and len(read_pack(out).train_y) == 24
    assert requests == ["/pack.npz"]

    # Already there: nothing fetched. Flags instead of the environment.
    data_mod.main(["download", "--url", f"{base}/pack.npz", "--sha256", sha, "--out", str(out)])
    assert "already there" in capsys.readouterr().out and requests == ["/pack.npz"]

    # Refused: exit status 1, the URL and the expected hash named, nothing written.
    url, sha = refused_url("altered file", base, folder)
    other = tmp_path / "other" / "cifar10-jpeg.npz"
    with pytest.raises(SystemExit) as exit_:
        data_mod.main(["download", "--url", url, "--sha256", sha, "--out", str(other)])
    err = capsys.readouterr().err
    assert exit_.value.code == 1 and url in err and sha in err
    assert list(other.parent.iterdir()) == []

    # A malformed hash is a usage error naming the flag.
    with pytest.raises(SystemExit) as exit_:
        data_mod.main(["download", "--url", url, "--sha256", "xyz", "--out", str(other)])
    assert exit_.value.code == 2 and "--sha256" in capsys.readouterr().err
