"""pip install/uninstall of plugin packages, in the interpreter recforge runs in.

Plugins are ordinary Python packages with a ``recforge`` entry point, so installing one is
``python -m pip install NAME`` in the same environment (as ``llm install`` does), whatever
``pip`` is first on ``PATH``. Both the CLI and the console build the argv with
:func:`pip_argv`, which refuses anything that is not a requirement, path or URL (no option
injection), and run it with :func:`run_pip`, which streams pip's lines to a callback and
reloads the registry afterwards.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from recforge.core.errors import PluginError

#: a requirement, a local path or a URL; no shell metacharacters or option injection
_SAFE = re.compile(r"^[A-Za-z0-9./~][A-Za-z0-9._\-\[\],<>=!~+/:@ ]*$")
ACTIONS = ("install", "uninstall")


@dataclass(frozen=True)
class PipResult:
    """How a pip run ended: its exit code, every output line and pip's first ``ERROR:``."""

    code: int
    lines: list[str]
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.code == 0


def _checked(package: str) -> str:
    package = package.strip()
    if not package or not _SAFE.match(package):
        raise PluginError(
            f"'{package}' is not a package name, path or URL pip accepts here",
            fix="give a name like recforge-myplugin (options are not allowed)",
        )
    return package


def pip_argv(action: str, packages: Sequence[str], editables: Sequence[str] = (), upgrade: bool = False) -> list[str]:
    """argv for ``pip install|uninstall`` of ``packages`` (and ``-e`` paths) in this interpreter."""
    if action not in ACTIONS:
        raise PluginError(f"unknown pip action '{action}'", fix="use install or uninstall")
    if not packages and not editables:
        raise PluginError(f"nothing to {action}", fix="pass a package name" + (" or -e PATH" if action == "install" else ""))
    if action == "uninstall" and any(p.strip().lower() == "recforge" for p in packages):
        raise PluginError("refusing to uninstall recforge itself", fix="use `pip uninstall recforge` directly")
    argv = [sys.executable, "-m", "pip", action]
    argv += ["-y"] if action == "uninstall" else (["--upgrade"] if upgrade else [])
    argv += [_checked(p) for p in packages]
    for path in editables:
        argv += ["-e", _checked(path)]
    return argv


def pip_command(action: str, package: str) -> list[str]:
    """argv for ``pip install|uninstall`` of one ``package`` (the console's form)."""
    return pip_argv(action, [package])


def run_pip(argv: list[str], on_line: Callable[[str], None] | None = None) -> PipResult:
    """Run ``argv`` (from :func:`pip_argv`), calling ``on_line`` per output line (stderr merged).

    The registry is reset afterwards so the next lookup sees the new set of entry points.
    """
    from recforge.core.registry import reset_registry

    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    except OSError as err:
        raise PluginError(f"cannot run pip: {err.strerror}", fix=f"check that {argv[0]} works") from None
    lines: list[str] = []
    error = ""
    assert proc.stdout is not None
    for raw in proc.stdout:
        line = raw.rstrip("\n")
        lines.append(line)
        if not error and line.strip().startswith("ERROR:"):
            error = line.strip()[len("ERROR:"):].strip()
        if on_line is not None:
            on_line(line)
    code = proc.wait()
    reset_registry()
    return PipResult(code, lines, error)
