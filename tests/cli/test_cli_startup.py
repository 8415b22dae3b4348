"""Fast start: ``recforge --help`` and the commands that do not train import no torch.

The probes run with ``RECFORGE_LOAD_PLUGINS=""`` (no third-party plugins): other tests of the
session install and remove plugin packages in the same environment, and listing an installed
plugin's commands imports that plugin (and whatever it imports).

Measured on the shared 2-core machine under load: ``recforge --help`` 0.18-0.35 s wall (was ~6 s
when every command module, and with them torch, were imported up front).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys

import pytest

from recforge.cli import BUILTIN_COMMANDS
from recforge.cli._lazy import resolve

NO_PLUGINS = {**os.environ, "RECFORGE_LOAD_PLUGINS": ""}

PROBE = """
import sys
from recforge.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
heavy = sorted(m for m in ("torch", "transformers", "pandas", "sklearn") if m in sys.modules)
print("HEAVY=" + ",".join(heavy), file=sys.stderr)
"""


def _heavy_modules(*args: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120,
                         env=NO_PLUGINS, check=False)
    line = next(li for li in out.stderr.splitlines() if li.startswith("HEAVY="))
    return [m for m in line[len("HEAVY="):].split(",") if m]


@pytest.mark.parametrize("args", [("--help",), ("runs", "list"), ("models", "list", "--json"), ("train", "--help")])
def test_commands_that_do_not_train_import_no_torch(args: tuple[str, ...]) -> None:
    heavy = _heavy_modules(*args)
    if args == ("train", "--help"):
        assert "torch" in heavy  # the probe sees imports: a training module does load torch
    else:
        assert heavy == [], f"recforge {' '.join(args)} imported {heavy}"


def test_help_starts_fast() -> None:
    """``recforge --help`` costs under 0.5 s: the CPU time (user + system) the real console
    script's process spends, best of three. CPU time, not wall time: on a shared machine the
    wall clock mostly measures the other processes (the wall figure lives in the CLI's
    startup benchmark numbers quoted in docs), while the CPU a start-up burns is what grows
    when someone adds an import of torch or transformers on the way to ``--help``."""
    exe = os.path.join(os.path.dirname(sys.executable), "recforge")
    argv = [exe, "--help"] if os.path.exists(exe) else [sys.executable, "-m", "recforge", "--help"]
    costs = []
    for _ in range(3):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=NO_PLUGINS, check=False)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        costs.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
        assert done.returncode == 0 and "train" in done.stdout
    assert min(costs) < 0.5, f"recforge --help used {min(costs):.2f} s of CPU (best of 3)"


def test_declared_help_matches_each_command() -> None:
    """The one-line help listed without importing is the start of the command's own help."""
    for name, (target, short) in BUILTIN_COMMANDS.items():
        command = resolve(target)
        assert command.name == name
        full = command.get_short_help_str(limit=1000)
        assert full.startswith(short.removesuffix("...")), (name, short, full)


def test_lazy_runs_rerun_is_still_a_subcommand() -> None:
    from click.testing import CliRunner

    from recforge.cli import cli

    result = CliRunner().invoke(cli, ["runs", "rerun", "--help"])
    assert result.exit_code == 0 and "--set" in result.output
    listed = CliRunner().invoke(cli, ["runs", "--help"])
    assert "rerun" in listed.output


@pytest.mark.parametrize(("argv", "line"), [
    (["trian"], "error: No such command 'trian' (did you mean 'train'?); see `recforge --help`"),
    (["runs", "lst"], "error: No such command 'lst' (did you mean 'list'?); see `recforge runs --help`"),
    (["train", "--nam", "x"], "error: No such option '--nam' (did you mean '--name'?); see `recforge train --help`"),
])
def test_one_error_style_without_doubled_punctuation(argv: list[str], line: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from recforge.cli import main

    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2 and capsys.readouterr().err.strip() == line


def test_docstrings_show_rest_roles_as_plain_text() -> None:
    from recforge.services.text import plain_doc

    text = "Uses :class:`~recforge.core.model.RecModel` and :func:`recforge.x.y`; ``a[b]`` stays."
    assert plain_doc(text) == "Uses RecModel and recforge.x.y; a[b] stays."
