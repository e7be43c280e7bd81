"""Files fetched over http(s) or copied from a folder, verified by sha256, then renamed into place.

A file is written next to its destination under a temporary name, hashed, and only then moved
to its final name (an atomic rename): a download that is cut short, or whose bytes differ from
the pinned hash, leaves nothing behind under the final name, so a later run never finds it.

    from superinfo_lib.download import fetch_verified, sha256_file
    fetch_verified("https://example.org/pack.npz", "data/pack.npz", sha256="ab12...")
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import shutil
import sys
import urllib.request
from pathlib import Path

CHUNK = 1 << 20


class VerificationError(ValueError):
    """A file's bytes are not the ones its sha256 promises."""


def check_sha256(sha256: str, name: str = "sha256") -> str:
    """`sha256` in lower case; ValueError naming `name` unless it is 64 hex digits."""
    if not isinstance(sha256, str) or not re.fullmatch(r"[0-9a-fA-F]{64}", sha256):
        raise ValueError(f"{name} must be 64 hex digits (a sha256), got {sha256!r}")
    return sha256.lower()


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def is_url(source: str | Path) -> bool:
    return str(source).startswith(("http://", "https://"))


def _copy_stream(response, out, total: int | None, desc: str, progress: bool) -> int:
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, unit="B", unit_scale=True, desc=desc, file=sys.stderr, leave=False)
    written = 0
    try:
        for block in iter(lambda: response.read(CHUNK), b""):
            out.write(block)
            written += len(block)
            if bar is not None:
                bar.update(len(block))
    finally:
        if bar is not None:
            bar.close()
    return written


def fetch_verified(
    source: str | Path, dest: str | Path, sha256: str, progress: bool = True, timeout_s: float = 60.0
) -> Path:
    """Fetch `source` (an http(s) URL or a local file) to `dest`, keeping it only if its sha256
    is `sha256`.

    Raises VerificationError naming the source and the expected hash when the bytes differ or
    the download stops early (a truncated or altered file), OSError (urllib.error.URLError for
    a URL) when it cannot be read, ValueError naming `sha256` when that is not 64 hex digits;
    in every case nothing is left at `dest` or beside it (an earlier file at `dest` is kept).
    """
    sha256 = check_sha256(sha256)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(f".{dest.name}.{os.getpid()}.partial")
    try:
        with open(partial, "wb") as out:
            if is_url(source):
                _download(str(source), out, sha256, dest.name, progress, timeout_s)
            else:
                with open(source, "rb") as fh:
                    shutil.copyfileobj(fh, out, CHUNK)
        got = sha256_file(partial)
        if got != sha256:
            raise VerificationError(
                f"{source}: sha256 is {got}, expected {sha256} (a truncated or altered file); it was not kept"
            )
        os.replace(partial, dest)
    finally:
        partial.unlink(missing_ok=True)
    return dest


def _download(url: str, out, sha256: str, desc: str, progress: bool, timeout_s: float) -> None:
    """Write the body at `url` to the open file `out`. A body cut short is a VerificationError
    (http.client reports it as IncompleteRead with chunked encoding, as a short read with a
    Content-Length); any other broken HTTP exchange is an OSError naming the URL."""
    request = urllib.request.Request(url, headers={"User-Agent": "superinfo-course"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            written = _copy_stream(response, out, total, desc, progress)
    except http.client.IncompleteRead as err:
        raise VerificationError(
            f"{url}: the download stopped early ({err!r}); expected sha256 {sha256}; it was not kept"
        ) from err
    except http.client.HTTPException as err:  # a malformed response: not an OSError of its own
        raise OSError(f"{url}: broken HTTP response ({err!r})") from err
    if total is not None and written != total:
        raise VerificationError(
            f"{url}: the download stopped after {written} of {total} bytes; expected sha256 {sha256}; "
            "it was not kept"
        )
