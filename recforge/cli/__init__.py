"""The ``recforge`` command line.

Built-in commands are listed in :data:`BUILTIN_COMMANDS` (one line each: name, where it lives,
its one-line help) and imported only when they run, so ``recforge --help`` and the commands
that do not train start without importing torch. A module in this package that defines a
``COMMANDS`` list but is not named there is still found and loaded (slower start, same
commands). Plugins add commands through the ``register_commands`` hook; their modules are
imported only when a third-party plugin is installed or an unknown command is asked for.

Errors: a :class:`~recforge.core.errors.RecforgeError` prints ``error: <message>`` on one line
and exits with its exit code; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import os
import pkgutil
import re
import sys
from typing import Any

import click

import recforge
from recforge.cli._output import echo
from recforge.cli._lazy import LazyGroup
from recforge.core import progress
from recforge.core.errors import RecforgeError

#: name -> ("module:attribute", one-line help); register a new command with ONE line here
BUILTIN_COMMANDS: dict[str, tuple[str, str]] = {
    "analyze": ("recforge.cli.analyze:analyze_command", "Which fields and field pairs drive MODEL's predictions;..."),
    "components": ("recforge.cli.components:components", "Browse encoders, interactions, rankers and dataset recipes."),
    "config": ("recforge.cli.config:config_group", "Experiment configs: JSON Schema and validation without..."),
    "console": ("recforge.cli.console:console", "Open the terminal console: runs, models, datasets,..."),
    "data": ("recforge.cli.data:data", "List dataset recipes, show a dataset's schema and counts,..."),
    "db": ("recforge.cli.db:db", "Create, upgrade and inspect the run store's database schema."),
    "eval": ("recforge.cli.train:eval_cmd", "Evaluate MODEL (run id, name@stage, name/version or its run's..."),
    "export": ("recforge.cli.export:export", "Export MODEL's scoring path (CTR and embedding models) and..."),
    "items": ("recforge.cli.items:items", "The live catalogue of a saved model (what `recforge serve`..."),
    "models": ("recforge.cli.models:models", "Register finished runs as named model versions and move..."),
    "plugins": ("recforge.cli.plugins:plugins", "List, install and uninstall recforge plugins."),
    "predict": ("recforge.cli.predict:predict", "Score every row of FILE (same columns as the training..."),
    "quickstart": ("recforge.cli.train:quickstart", "Train a text-aware DeepFM (MiniLM over titles and genres)..."),
    "recommend": ("recforge.cli.predict:recommend", "Top-K items for one user (--user) or for everyone..."),
    "resume": ("recforge.cli.train:resume", "Continue an interrupted or failed RUN from its last..."),
    "runs": ("recforge.cli.runs:runs", "List, inspect, compare and delete runs."),
    "serve": ("recforge.cli.serve:serve", "Serve MODEL (run id, name@stage, name/version or saved-model..."),
    "similar": ("recforge.cli.predict:similar", "The K items closest to ITEM (cosine over the model's item..."),
    "studies": ("recforge.cli.studies:studies", "Hyperparameter searches and their trials."),
    "text": ("recforge.cli.text:text", "Language-model text vectors: fill the text cache before training."),
    "train": ("recforge.cli.train:train", "Train the model a CONFIG.yaml describes, evaluate it and..."),
    "tune": ("recforge.cli.tune:tune", "Search CONFIG's settings over SPACE on the validation metric;..."),
}


def _third_party_plugins() -> bool:
    """Whether a plugin besides the built-in ones would load (entry points, no import).

    Honours the registry's allowlist (``RECFORGE_LOAD_PLUGINS``; empty loads none), read here
    without importing the registry, which imports torch.
    """
    allow = os.environ.get("RECFORGE_LOAD_PLUGINS")
    allowed = None if allow is None else {a.strip() for a in allow.split(",") if a.strip()}
    for ep in importlib.metadata.entry_points(group="recforge"):
        dist = ep.dist.metadata["Name"] if ep.dist is not None else ep.name
        if allowed is None or ep.name in allowed or dist in allowed:
            return True
    return False


class RecforgeGroup(LazyGroup):
    """Root group: built-in commands resolve lazily; other modules and plugins load on demand."""

    _modules_loaded = False
    _plugins_loaded = False

    def _load_modules(self) -> None:
        """Command modules not listed in BUILTIN_COMMANDS (loaded eagerly, as before)."""
        if self._modules_loaded:
            return
        self._modules_loaded = True
        listed = {target.split(":")[0] for target, _ in self.lazy.values()}
        package = sys.modules[__name__]
        for mod in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
            name = f"{__name__}.{mod.name}"
            if mod.name.startswith("_") or name in listed:
                continue
            for command in getattr(importlib.import_module(name), "COMMANDS", []):
                if command.name not in self.lazy:
                    self.add_command(command)

    def _load_plugins(self) -> None:
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        from recforge.core.registry import get_registry

        get_registry().add_commands(self)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_modules()
        if _third_party_plugins():
            self._load_plugins()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        self._load_modules()
        found = super().get_command(ctx, cmd_name)
        if found is None:
            self._load_plugins()
            found = super().get_command(ctx, cmd_name)
        return found

    def invoke(self, ctx: click.Context) -> Any:
        """Apply the one-line error contract here too, so click's CliRunner sees it."""
        try:
            return super().invoke(ctx)
        except RecforgeError as err:
            if (ctx.obj or {}).get("debug"):
                raise
            echo(f"error: {err}", err=True)
            ctx.exit(err.exit_code)


@click.group(cls=RecforgeGroup, lazy=BUILTIN_COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(recforge.__version__, prog_name="recforge")
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """recforge: recommender systems from plug-in components."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


_DID_YOU_MEAN = re.compile(r"\.?\s*\(?Did you mean (?:one of: )?(.+?)\??\)?$")


def _usage_line(err: click.ClickException) -> str:
    """Click's usage/parameter errors as the one-line ``error: problem; fix`` contract.

    Click's "No such command 'trian'. Did you mean 'train'?" becomes
    "No such command 'trian' (did you mean 'train'?)": one sentence, no doubled punctuation.
    """
    message = " ".join(err.format_message().split())
    message = _DID_YOU_MEAN.sub(lambda m: f" (did you mean {m.group(1)}?)", message).rstrip(" .")
    ctx = getattr(err, "ctx", None)
    command = ctx.command_path if ctx is not None else "recforge"
    if isinstance(err, click.UsageError):
        return f"error: {message}; see `{command} --help`"
    return f"error: {message}"


def _os_error_line(err: OSError) -> str:
    """An operating-system failure (disk full, permission denied) without a traceback."""
    reason = err.strerror or type(err).__name__
    where = f": {err.filename}" if getattr(err, "filename", None) else ""
    return f"error: {reason}{where}; check the path, its permissions and the free disk space"


def quiet_third_party_bars(as_json: bool) -> None:
    """No tqdm bars from transformers / huggingface_hub ("Loading weights") with ``--json`` or
    when stderr is not a terminal (they would fill a log with carriage returns).

    Set before those libraries are imported (commands import them lazily); a user's own
    setting of the variables wins.
    """
    if as_json or not sys.stderr.isatty():
        for name in ("HF_HUB_DISABLE_PROGRESS_BARS", "TQDM_DISABLE", "TRANSFORMERS_NO_ADVISORY_WARNINGS"):
            os.environ.setdefault(name, "1")


def main(argv: list[str] | None = None) -> Any:
    """Console-script entry point with the one-line error contract.

    Every failure ends as exactly one ``error: ...`` line on stderr and a non-zero exit:
    RecforgeError (exit 1), usage errors (exit 2), Ctrl-C (exit 130), operating-system
    errors and, as a last resort, unexpected exceptions (exit 1, with a hint to rerun with
    ``--debug``, which shows the traceback instead).
    """
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    quiet_third_party_bars(as_json="--json" in args)
    was_enabled = progress.enabled()
    progress.set_enabled("--json" not in args)
    try:
        return _main(args, debug)
    finally:  # the switch is for this command only (main() may be called in process)
        progress.set_enabled(was_enabled)


def _main(args: list[str], debug: bool) -> Any:
    try:
        return cli.main(args=args, prog_name="recforge", standalone_mode=False)
    except click.exceptions.Abort:  # click turns Ctrl-C into Abort
        echo("error: aborted (Ctrl-C or a declined prompt); run the command again to redo it", err=True)
        sys.exit(130)
    except click.ClickException as err:
        echo(_usage_line(err), err=True)
        sys.exit(err.exit_code)
    except click.exceptions.Exit as err:
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        echo("error: interrupted (Ctrl-C); run the command again to redo it", err=True)
        sys.exit(130)
    except RecforgeError as err:
        if debug:
            raise
        echo(f"error: {err}", err=True)
        sys.exit(err.exit_code)
    except OSError as err:
        if debug:
            raise
        echo(_os_error_line(err), err=True)
        sys.exit(1)
    except Exception as err:
        if debug:
            raise
        text = " ".join(f"{type(err).__name__}: {err}".split())[:300]
        echo(f"error: unexpected {text}; rerun with --debug for the traceback and report it", err=True)
        sys.exit(1)
