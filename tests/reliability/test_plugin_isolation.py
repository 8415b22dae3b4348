"""Broken plugins installed as real packages (pip, entry points) cannot take recforge down.

The packages under ``broken_plugins/`` are built and pip-installed into a throw-away virtual
environment layered over the test environment (a ``.pth`` file), so their entry points are
real and ``recforge plugins uninstall`` (pip in the same interpreter) can really remove them,
without touching the environment the other tests use. Each command runs as its own process.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import site
import subprocess
import time
import venv
from pathlib import Path

import pytest
from reliability_kit import REPO, error_line, last_json

SOURCES = Path(__file__).with_name("broken_plugins")
BROKEN = {  # entry point -> what plugins list must say
    "exit-at-import": "SystemExit: called sys.exit(3)",
    "ctrl-c-at-import": "KeyboardInterrupt: raised KeyboardInterrupt itself",
    "exit-in-hook": "SystemExit: called sys.exit(4)",
    "runs-clash": "tried to replace the command(s) runs; the existing ones were kept",
    "recforge.plugins.encoders (from recforge-builtin-name)": "has the name of the builtin plugin 'recforge.plugins.encoders'",
}


def make_env(root: Path, packages: list[str]) -> Path:
    """A venv seeing the test environment's packages, with ``packages`` pip-installed; its python."""
    venv.create(root / "venv", with_pip=False)
    python = root / "venv" / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    Path(purelib, "outer.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    copies = []
    for name in packages:  # build from copies: the source tree stays free of build folders
        copies.append(shutil.copytree(SOURCES / name, root / "src" / name))
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-index", "--no-build-isolation", "--no-deps",
                    *map(str, copies)], check=True, capture_output=True)
    return python


def run(python: Path, home: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    full = {**os.environ, "RECFORGE_HOME": str(home), "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", **(env or {})}
    proc = subprocess.run([str(python), "-m", "recforge", *args], env=full, cwd=REPO, capture_output=True,
                          text=True, timeout=300)
    return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture(scope="module")
def broken_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("broken-plugins")
    return make_env(root, sorted(p.name for p in SOURCES.iterdir() if p.is_dir()))


def test_plugins_list_reports_every_broken_plugin_and_keeps_the_builtins(broken_env: Path, tmp_path: Path) -> None:
    code, out, err = run(broken_env, tmp_path / "home", "plugins", "list", "--json")
    assert code == 0, err
    rows = {r["name"]: r for r in json.loads(out)}
    for name, message in BROKEN.items():
        assert message in (rows[name]["error"] or ""), rows[name]
    encoders = rows["recforge.plugins.encoders"]  # not shadowed by the clashing entry point
    assert encoders["origin"] == "builtin" and encoders["error"] is None and encoders["components"]


def test_other_commands_work_and_the_builtin_runs_group_is_kept(broken_env: Path, tmp_path: Path) -> None:
    code, out, err = run(broken_env, tmp_path / "home", "runs", "list", "--json")
    assert (code, last_json(out)) == (0, []), err
    assert "HIJACKED" not in out
    code, out, err = run(broken_env, tmp_path / "home", "components", "list", "--kind", "interaction")
    assert code == 0 and "deepfm" in out, err


def test_plugins_uninstall_works_with_broken_plugins(tmp_path: Path) -> None:
    python = make_env(tmp_path, ["recforge-exit-at-import", "recforge-ctrl-c-at-import"])
    for package in ("recforge-exit-at-import", "recforge-ctrl-c-at-import"):
        code, out, err = run(python, tmp_path / "home", "plugins", "uninstall", "-y", package)
        assert code == 0, out + err
    code, out, err = run(python, tmp_path / "home", "plugins", "list", "--json")
    names = {r["name"] for r in json.loads(out)}
    assert code == 0 and not names & {"exit-at-import", "ctrl-c-at-import"}, names


def test_a_real_ctrl_c_during_plugin_import_still_interrupts(broken_env: Path, tmp_path: Path) -> None:
    # `plugins list` imports every plugin (a command like `runs list` resolves lazily and imports none)
    ready = tmp_path / "importing"
    env = {**os.environ, "RECFORGE_HOME": str(tmp_path / "home"), "PYTHONPATH": str(REPO),
           "RF_SLOW_IMPORT_READY": str(ready)}
    proc = subprocess.Popen([str(broken_env), "-m", "recforge", "plugins", "list"], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not ready.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)  # the user's Ctrl-C, while the plugin imports
    out, err = proc.communicate(timeout=60)
    assert ready.exists(), ("the slow plugin was never imported", out, err)
    assert proc.returncode == 130, (out, err)
    assert "Ctrl-C" in error_line(err), err
