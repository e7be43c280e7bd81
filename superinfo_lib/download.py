"""Files fetched over http(s) or copied from a folder, verified by sha256, then renamed into place.

A file is written next to its destination under a temporary name, hashed, and only then moved
to its final name (an atomic rename): a download that is cut short, or whose bytes differ from
the pinned hash, leaves nothing behind under the final name, so a later run never finds it.

    from superinfo_lib.download import fetch_verified, sha256_file
    fetch_verified("https://example.org/pack.npz", "data/pack.npz", sha256="ab12...")
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import urllib.request
from pathlib import Path

CHUNK = 1 << 20


class VerificationError(ValueError):
    """A file's bytes are not the ones its sha256 promises."""


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

    Raises VerificationError naming the source and both hashes when the bytes differ (a truncated
    or altered file), OSError (urllib.error.URLError for a URL) when it cannot be read; in both
    cases nothing is left at `dest` or beside it.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(f".{dest.name}.{os.getpid()}.partial")
    try:
        with open(partial, "wb") as out:
            if is_url(source):
                request = urllib.request.Request(str(source), headers={"User-Agent": "superinfo-course"})
                with urllib.request.urlopen(request, timeout=timeout_s) as response:
                    length = response.headers.get("Content-Length")
                    total = int(length) if length and length.isdigit() else None
                    written = _copy_stream(response, out, total, dest.name, progress)
                if total is not None and written != total:
                    raise VerificationError(
                        f"{source}: the download stopped after {written} of {total} bytes; "
                        f"expected sha256 {sha256}"
                    )
            else:
                with open(source, "rb") as fh:
                    shutil.copyfileobj(fh, out, CHUNK)
        got = sha256_file(partial)
        if got != sha256.lower():
            raise VerificationError(
                f"{source}: sha256 is {got}, expected {sha256.lower()} (a truncated or altered file); "
                "it was not kept"
            )
        os.replace(partial, dest)
    finally:
        partial.unlink(missing_ok=True)
    return dest
