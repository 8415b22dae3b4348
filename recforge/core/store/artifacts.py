"""Artifact files on disk: checksums, sizes and each run's folder.

A run's artifacts live under ``paths.artifacts_dir()/runs/<run id>``; deleting the run removes
that folder. Artifacts logged from elsewhere are recorded by path and never deleted by the
store (it does not own them).
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from recforge.core import paths
from recforge.core.errors import ArtifactError

_CHUNK = 1 << 20


def run_dir(run_id: int, create: bool = True) -> Path:
    """The folder for a run's artifacts (created on demand)."""
    path = paths.artifacts_dir() / "runs" / str(int(run_id))
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def checksum(path: Path) -> tuple[str, int]:
    """``(sha256, size in bytes)`` of a file, or of a folder's files in sorted relative order.

    A folder's digest covers each file's relative path and content digest, so renaming or
    editing any file inside changes it.
    """
    if path.is_file():
        return _file_digest(path), path.stat().st_size
    if path.is_dir():
        digest = hashlib.sha256()
        size = 0
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            rel = file.relative_to(path).as_posix()
            digest.update(f"{rel}\0{_file_digest(file)}\n".encode())
            size += file.stat().st_size
        return digest.hexdigest(), size
    raise ArtifactError(f"artifact path {path} does not exist", fix="save the file before logging it")


def confined(folder: Path, name: str) -> Path:
    """``folder / name``, refusing names that leave ``folder`` (``../x``, absolute paths, links).

    Artifact names may come from users or from edited files; they must never make recforge
    read or write outside the folder they belong to.
    """
    root = Path(folder).resolve()
    if not isinstance(name, str) or not name.strip() or "\x00" in name or Path(name).is_absolute():
        raise ArtifactError(f"artifact name {name!r} is not a plain relative name",
                            fix="use a file name inside the run's folder")
    path = (root / name).resolve()
    if path == root or root not in path.parents:
        raise ArtifactError(f"artifact name {name!r} points outside {root}",
                            fix="use a file name inside the run's folder (no '..', links or absolute paths)")
    return path


def remove_run_dir(run_id: int) -> None:
    """Delete a run's artifact folder if it exists."""
    path = run_dir(run_id, create=False)
    if path.exists():
        shutil.rmtree(path)
