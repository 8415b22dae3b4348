"""Untrusted files: no unpickling or eval anywhere, artifact names confined, checksums checked.

Saved models and checkpoints are shared between people and machines; opening one must never
run code from it, read files outside its folder, or accept changed bytes.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import pytest
from reliability_kit import Workspace

PACKAGE = Path(__file__).resolve().parents[2] / "recforge"
SOURCES = sorted(PACKAGE.rglob("*.py"))

#: (pattern, why it is banned); a line may opt out only by being one of ALLOWED
BANNED = [
    (re.compile(r"\bimport\s+(pickle|cPickle|dill|shelve|marshal|joblib)\b|\bfrom\s+(pickle|dill|shelve|marshal|joblib)\b"),
     "unpickling runs arbitrary code"),
    (re.compile(r"(?<![\w.])(eval|exec)\s*\("), "eval/exec of text"),
    (re.compile(r"allow_pickle\s*=\s*True"), "numpy unpickling"),
    (re.compile(r"\bpd\.read_pickle\b|\bread_pickle\("), "pandas unpickling"),
]


def _lines() -> list[tuple[Path, int, str]]:
    return [(path, no, line) for path in SOURCES
            for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)]


def test_the_scan_sees_the_package() -> None:
    assert len(SOURCES) > 50 and any(p.name == "saved_model.py" for p in SOURCES)


@pytest.mark.parametrize("pattern, why", BANNED, ids=[w for _, w in BANNED])
def test_no_unsafe_deserialisation(pattern: re.Pattern[str], why: str) -> None:
    hits = [f"{p.relative_to(PACKAGE.parent)}:{n}: {line.strip()}" for p, n, line in _lines()
            if pattern.search(line) and not line.lstrip().startswith("#")]
    assert not hits, f"{why}:\n" + "\n".join(hits)


def test_torch_load_only_with_weights_only() -> None:
    text = {p: p.read_text(encoding="utf-8") for p in SOURCES}
    calls = [(p, m.start()) for p, t in text.items() for m in re.finditer(r"torch\.load\(", t)]
    bad = [f"{p}:{text[p][:i].count(chr(10)) + 1}" for p, i in calls if "weights_only=True" not in text[p][i:i + 300]]
    assert not bad, f"torch.load without weights_only=True: {bad}"


def test_yaml_is_only_loaded_safely() -> None:
    bad = [f"{p}:{n}" for p, n, line in _lines()
           if re.search(r"\byaml\.(load|load_all|unsafe_load|full_load)\(", line) and "Loader=_Loader" not in line]
    assert not bad, bad


# --------------------------------------------------------------------------- confinement
@pytest.mark.parametrize("name", ["../x", "../../etc/passwd", "a/../../x", "/etc/passwd", "", "  ", "a\x00b", "."])
def test_traversal_names_are_rejected(name: str, tmp_path: Path) -> None:
    from recforge.core.errors import ArtifactError
    from recforge.core.store.artifacts import confined

    with pytest.raises(ArtifactError):
        confined(tmp_path, name)


def test_plain_names_stay_inside(tmp_path: Path) -> None:
    from recforge.core.store.artifacts import confined

    assert confined(tmp_path, "model.safetensors") == tmp_path.resolve() / "model.safetensors"
    assert confined(tmp_path, "a/./b/../c.json") == tmp_path.resolve() / "a" / "c.json"


def test_a_symlink_out_of_the_folder_is_rejected(tmp_path: Path) -> None:
    from recforge.core.errors import ArtifactError
    from recforge.core.store.artifacts import confined

    (tmp_path / "run").mkdir()
    (tmp_path / "secret").write_text("x")
    (tmp_path / "run" / "link").symlink_to(tmp_path / "secret")
    with pytest.raises(ArtifactError, match="points outside"):
        confined(tmp_path / "run", "link")


def test_store_artifact_path(workspace: Workspace) -> None:
    from recforge.core.errors import ArtifactError, NotFoundError
    from recforge.core.store import Store

    with Store.open() as store:
        run_dir = store.run_dir(workspace.run_id)
        assert store.artifact_path(workspace.run_id, "analysis.json") == run_dir.resolve() / "analysis.json"
        with pytest.raises(ArtifactError, match="points outside"):
            store.artifact_path(workspace.run_id, "../../../../etc/passwd")
        with pytest.raises(NotFoundError, match="run 999 does not exist"):
            store.run_dir(999)
    assert not (workspace.home / "artifacts" / "runs" / "999").exists()  # no stray folder


# --------------------------------------------------------------------------- checksums
def test_the_untouched_model_loads(workspace: Workspace) -> None:
    from recforge.core.saved_model import load_model

    assert load_model(workspace.model_dir).model is not None


@pytest.mark.parametrize("name", ["config.yaml", "featuremap.json", "model.safetensors", "components.json",
                                  "items.json", "seen.safetensors"])
def test_one_changed_byte_in_any_file_is_refused(name: str, workspace: Workspace) -> None:
    from recforge.core.errors import ArtifactError
    from recforge.core.saved_model import load_model

    path = workspace.model_dir / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match=f"{re.escape(name)} does not match its checksum"):
        load_model(workspace.model_dir)


class _Payload:
    """Unpickling this touches a marker file: proof that code ran."""

    marker: Path

    def __reduce__(self) -> tuple:
        return (Path.touch, (self.marker,))


def test_a_pickle_disguised_as_weights_is_never_unpickled(workspace: Workspace, tmp_path: Path) -> None:
    """Even with a consistent manifest (an attacker rewrote it), the pickle is not executed."""
    from recforge.core.errors import ArtifactError
    from recforge.core.saved_model import MODEL_FILES, load_model, write_manifest

    payload = _Payload()
    payload.marker = tmp_path / "pwned"
    (workspace.model_dir / "model.safetensors").write_bytes(pickle.dumps(payload))
    write_manifest(workspace.model_dir, list(MODEL_FILES))
    with pytest.raises(ArtifactError, match="not a valid safetensors file"):
        load_model(workspace.model_dir)
    assert not payload.marker.exists()
