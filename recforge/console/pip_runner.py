"""Run pip in the console's own interpreter, streaming its output line by line.

Plugins are ordinary Python packages with a ``recforge`` entry point, so installing one is
``python -m pip install NAME`` in the same environment (as ``llm install`` does); the
console shows each output line as it arrives and reloads the registry afterwards.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable

from recforge.core.errors import PluginError

#: a requirement, a local path or a URL; no shell metacharacters or option injection
_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-\[\],<>=!~+/:@ ]*$")


def pip_command(action: str, package: str) -> list[str]:
    """argv for ``pip install|uninstall`` of ``package`` in this interpreter."""
    package = package.strip()
    if action not in ("install", "uninstall"):
        raise PluginError(f"unknown pip action '{action}'", fix="use install or uninstall")
    if not package or not _SAFE.match(package):
        raise PluginError(
            f"'{package}' is not a package name, path or URL pip accepts here",
            fix="give a name like recforge-myplugin (options are not allowed)",
        )
    argv = [sys.executable, "-m", "pip", action]
    if action == "uninstall":
        argv.append("-y")
    return [*argv, package]


def run_streaming(argv: list[str], on_line: Callable[[str], None]) -> int:
    """Run ``argv``, calling ``on_line`` for each output line (stderr merged); the exit code."""
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        on_line(line.rstrip("\n"))
    return proc.wait()
