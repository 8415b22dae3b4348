"""Real disk faults on a real small tmpfs: a full disk for every writer, and a read-only store.

Nothing here raises the error itself: each test mounts a tmpfs of a few megabytes (the tests
run as root in CI; elsewhere they are skipped with the reason), fills it, and lets the real
writer hit ``ENOSPC`` (safetensors reports it as ``SafetensorError``, SQLite as
``OperationalError: database or disk is full``). Every writer must end with its documented
one-line message and leave no partial file behind; the read-only store is a tmpfs remounted
read-only, on which the read-only commands must still work.
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from reliability_kit import error_line, last_json, run_cli, store_snapshot

from recforge.core.errors import ArtifactError, StoreError


def _mount(path: Path, size: str, options: str = "") -> None:
    path.mkdir(parents=True, exist_ok=True)
    opts = f"size={size}" + (f",{options}" if options else "")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or 'mount failed'}); these tests need root")


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 6 MB tmpfs, unmounted afterwards."""
    mount = tmp_path / "tmpfs"
    _mount(mount, "6m")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(folder: Path, leave: int) -> Path:
    """Fill ``folder``'s file system until ``leave`` bytes are free; returns the filler file."""
    stat = os.statvfs(folder)
    free = stat.f_bavail * stat.f_frsize
    filler = folder / "filler"
    with open(filler, "wb") as handle:
        handle.write(b"\0" * max(0, free - leave))
    return filler


def leftovers(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if ".tmp" in p.name)


def test_checkpoint_write_on_a_full_disk(tmpfs: Path) -> None:
    """safetensors raises SafetensorError on ENOSPC: mapped, the half-written epoch removed."""
    from recforge.core.checkpointing import save_epoch

    model = torch.nn.Embedding(50_000, 8)  # 1.6 MB of weights
    optimizer = torch.optim.Adam(model.parameters())
    root = tmpfs / "checkpoints"
    save_epoch(root, 1, model, optimizer, {"epoch": 1}, None)  # fits: the optimizer has no state yet
    model.weight.sum().backward()
    optimizer.step()  # 3.2 MB of Adam state: epoch 2 needs 4.8 MB
    fill(tmpfs, 3_000_000)
    with pytest.raises(ArtifactError, match="No space left on device") as caught:
        save_epoch(root, 2, model, optimizer, {"epoch": 2}, None)
    assert "free disk space" in str(caught.value) and "\n" not in str(caught.value)
    assert sorted(p.name for p in root.iterdir()) == ["epoch-0001"], "the half-written epoch stays"
    assert (root / "epoch-0001" / "state.json").is_file()


def test_sqlite_write_on_a_full_disk(tmpfs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from recforge.core.store import Store

    monkeypatch.setenv("RECFORGE_DB", f"sqlite:///{tmpfs / 'recforge.db'}")
    with Store.open() as store:
        run = store.create_run("disk", config={}, plugins={})
        store.log_metrics(run.id, {"auc": 0.5}, step=1)
        filler = fill(tmpfs, 0)
        with pytest.raises(StoreError, match="disk holding the store is full") as caught:
            store.log_metrics(run.id, {f"m{i}": float(i) for i in range(20_000)}, step=2)
        assert caught.value.fix and "free disk space" in caught.value.fix
        filler.unlink()
        assert [m.key for m in store.get_metrics(run.id)] == ["auc"]  # the failed write left nothing
    conn = sqlite3.connect(tmpfs / "recforge.db")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()


def test_json_write_on_a_full_disk_leaves_no_temporary_file(tmpfs: Path, template: tuple) -> None:
    from recforge.core.data import FeatureMap

    home = template[0]
    featuremap = FeatureMap.load(next(home.rglob("model/featuremap.json")))
    fill(tmpfs, 0)
    with pytest.raises(OSError) as caught:
        featuremap.save(tmpfs / "featuremap.json")
    assert caught.value.errno == errno.ENOSPC
    assert leftovers(tmpfs) == [] and not (tmpfs / "featuremap.json").exists()


def test_train_on_a_full_disk_ends_with_one_line_and_no_partial_files(tmpfs: Path, template: tuple,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """End to end: ``recforge train`` with RECFORGE_HOME on a nearly full tmpfs."""
    import yaml

    _, _, config, _ = template
    home = tmpfs / "home"
    monkeypatch.setenv("RECFORGE_HOME", str(home))
    config_file = tmpfs.parent / "config.yaml"
    config_file.write_text(yaml.safe_dump({**config, "model": {**config["model"], "embedding_dim": 512}}))
    fill(tmpfs, 400_000)
    code, out, err = run_cli("train", str(config_file))
    line = error_line(err)
    assert code == 1, err
    assert ("No space left on device" in line or "disk holding the store is full" in line), line
    assert "report it" not in line
    assert leftovers(home) == []


@pytest.fixture
def read_only_home(tmp_path: Path, template: tuple) -> Iterator[Path]:
    """The template home (one run, its model registered) on a tmpfs remounted read-only."""
    from recforge.core.store import Store

    source = tmp_path / "source"
    shutil.copytree(template[0], source)
    os.environ["RECFORGE_HOME"], previous = str(source), os.environ.get("RECFORGE_HOME")
    try:
        with Store.open() as store:
            store.register_model("ranker", template[3])
    finally:
        os.environ.pop("RECFORGE_HOME") if previous is None else os.environ.__setitem__("RECFORGE_HOME", previous)
    mount = tmp_path / "ro"
    _mount(mount, "20m")
    shutil.copytree(source, mount, dirs_exist_ok=True)
    for extra in ("recforge.db-wal", "recforge.db-shm"):
        (mount / extra).unlink(missing_ok=True)
    subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_read_only_store_still_lists_and_shows(read_only_home: Path, monkeypatch: pytest.MonkeyPatch,
                                               template: tuple) -> None:
    monkeypatch.setenv("RECFORGE_HOME", str(read_only_home))
    run_id = template[3]
    code, out, err = run_cli("runs", "list", "--json")
    assert code == 0 and [r["id"] for r in last_json(out)] == [run_id], err
    code, out, err = run_cli("runs", "show", str(run_id), "--json")
    assert code == 0 and last_json(out)["status"] == "finished", err
    code, out, err = run_cli("models", "list", "--json")
    assert code == 0 and [m["name"] for m in last_json(out)] == ["ranker"], err
    before = store_snapshot(read_only_home)
    code, out, err = run_cli("runs", "delete", str(run_id), "-y", "--cascade")
    assert code == 1 and "the store is read-only" in error_line(err), err
    assert store_snapshot(read_only_home) == before
