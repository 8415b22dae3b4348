"""Bounded YAML (measured in a subprocess), terminal-safe output, delete cascade, divergence,
and safetensors-only language models, each through the real CLI or loader."""

from __future__ import annotations

import json
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hostile_input_cases import alias_bomb
from reliability_kit import REPO, run_cli, store_snapshot

MEASURE = """
import re, sys, time
sys.path.insert(0, {repo!r})
from recforge.core.config import parse_yaml
from recforge.core.errors import ConfigError
text = open({path!r}).read()
start = time.perf_counter()
try:
    parse_yaml(text, {path!r})
    print("ACCEPTED")
except ConfigError as err:
    seconds = time.perf_counter() - start
    # VmHWM: this process's peak RSS (ru_maxrss would include the forking pytest's pages)
    peak_kb = re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1)
    print(f"{{seconds:.4f}} {{peak_kb}} {{err}}")
"""


def test_nine_level_alias_bomb_is_refused_fast_and_small(tmp_path: Path) -> None:
    """Bar: refused in under 1 s with peak RSS under 200 MB (a fresh interpreter, measured)."""
    path = tmp_path / "bomb.yaml"
    path.write_text(alias_bomb(9))
    done = subprocess.run([sys.executable, "-c", MEASURE.format(repo=str(REPO), path=str(path))],
                          capture_output=True, text=True, timeout=60)
    seconds, rss_kb, message = done.stdout.strip().split(" ", 2)
    assert "alias bomb" in message and "bomb.yaml:" in message, done.stdout + done.stderr
    assert float(seconds) < 1.0 and int(rss_kb) < 200 * 1024, (seconds, rss_kb)


def test_control_characters_are_escaped_in_every_listing(workspace) -> None:  # type: ignore[no-untyped-def]
    evil = "\x1b[2J\x1b[31mprod\nfake-row\u202e"
    code, _, err = run_cli("models", "register", str(workspace.run_id), evil, "--tag", f"note={evil}")
    assert code == 0, err
    code, out, err = run_cli("models", "list")
    assert code == 0 and "\x1b" not in out and "\u202e" not in out and "fake-row" in out, err
    assert "\\x1b[2J" in out and "\\u202e" in out  # shown as escapes
    code, out, _ = run_cli("models", "list", "--json")
    assert "\u202e" not in out and json.loads(out)[0]["name"] == evil  # JSON stays exact and inert
    for argv in (["runs", "list"], ["runs", "show", str(workspace.run_id)]):
        code, out, err = run_cli(*argv)
        assert code == 0 and "\x1b" not in out, err


def test_delete_cascade_deregisters_and_says_so(workspace) -> None:  # type: ignore[no-untyped-def]
    from recforge.core.store import Store

    with Store.open() as store:
        store.promote("ranker", store.register_model("ranker", workspace.run_id).version, "production")
    code, out, err = run_cli("runs", "delete", str(workspace.run_id), "--cascade", "-y")
    assert code == 0, err
    assert out.strip() == f"deleted run {workspace.run_id} and deregistered ranker v1 (production)"
    runs, counts, files = store_snapshot(workspace.home)
    assert runs == [] and counts["registered_models"] == 0 and files == {}


def test_prompt_names_the_models(workspace, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from recforge.core.store import Store

    with Store.open() as store:
        store.register_model("ranker", workspace.run_id)
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("n\n"))
    code, out, err = run_cli("runs", "delete", str(workspace.run_id), "--cascade")
    assert "and deregister model versions ranker v1 (none)?" in out and code == 130, (out, err)


def test_diverging_training_fails_the_run(workspace) -> None:  # type: ignore[no-untyped-def]
    for extra, where in ((["--set", "train.lr=1e30"], "at epoch 1"),
                         (["--set", "train.lr=1e30", "--set", "train.stop_on_nonfinite=true"], "step")):
        code, out, err = run_cli("train", workspace.config_file(), *extra)
        line = err.strip().splitlines()[-1]
        assert code == 1 and line.startswith("error: training diverged: ") and where in line, err
        assert "lower train.lr" in line
    runs, counts, _ = store_snapshot(workspace.home)
    assert [status for _, status, _ in runs] == ["finished", "failed", "failed"]
    assert not (workspace.home / "artifacts" / "runs" / "2" / "model").exists()


def test_language_model_with_only_pickled_weights_is_refused(tmp_path: Path) -> None:
    """A local model folder with ``pytorch_model.bin`` only: refused, never unpickled."""
    from recforge.core.errors import ConfigError
    from recforge.plugins.encoders.lm_backend import LMBackend, default_model

    folder = tmp_path / "pickled-minilm"
    shutil.copytree(default_model(), folder, ignore=shutil.ignore_patterns("*.safetensors"))
    marker = tmp_path / "unpickled"

    class Payload:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (Path.write_text, (marker, "code ran"))

    (folder / "pytorch_model.bin").write_bytes(pickle.dumps(Payload()))
    with pytest.raises(ConfigError, match="has no safetensors weights") as caught:
        LMBackend(str(folder))
    assert "pytorch_model.bin" in str(caught.value) and not marker.exists()
