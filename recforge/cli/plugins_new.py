"""``recforge plugins new NAME --kind KIND``: scaffold an installable plugin package.

The package is rendered from the templates in ``recforge/cli/plugin_templates`` (shipped as
package data): a ``pyproject.toml`` with the ``recforge`` entry point, one component with typed
Params and an Args/Example docstring, a README, and a test file running recforge's
conformance suite, so ``pip install -e DIR && pytest DIR`` passes before the author edits
anything. ``--kind model`` scaffolds a whole model (a ``WholeModel`` registered through
``register_models``).
"""

from __future__ import annotations

import keyword
import re
from importlib import resources
from pathlib import Path

import click

from recforge.core.errors import ConfigError
from recforge.core.plugin_api import API_VERSION

NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
#: kind -> (hook, params, bad params, usage snippet in the README)
KINDS: dict[str, tuple[str, str, str, str]] = {
    "interaction": ("register_interactions", '{"rank": 4}', '[{"rank": 0}, {"dropout": 1.5}]',
                    "model:\n  interaction: {stack: [{name: NAME, params: {rank: 8}}, mlp]}"),
    "encoder": ("register_encoders", '{"init_std": 0.05}', '[{"init_std": 0.0}]',
                "model:\n  encoders:\n    user_id: {name: NAME}"),
    "ranker": ("register_rankers", '{"gamma": 1.0}', '[{"gamma": -1.0}]',
               "model:\n  interaction: deepfm\n  ranker: {name: NAME, params: {gamma: 2.0}}"),
    "model": ("register_models", '{"init_std": 0.05}', '[{"init_std": 0.0}]',
              "model:\n  embedding_dim: 32\n  ranker: {name: NAME}"),
    "dataset": ("register_datasets", '{"rows": 1500}', '[{"rows": 0}]',
                "data: {recipe: NAME, params: {rows: 5000}, split: {method: random, seed: 2024}}"),
}


def names_for(name: str) -> dict[str, str]:
    """Distribution, package, component and class names derived from NAME (e.g. my-cross)."""
    if not NAME.match(name):
        raise ConfigError(f"plugin name '{name}' is not lower-case words joined by '-'",
                          fix="use a name such as my-cross")
    package = name.replace("-", "_")
    if keyword.iskeyword(package):
        raise ConfigError(f"plugin name '{name}' is a Python keyword", fix="pick another name")
    return {"dist": name, "package": package, "component": name,
            "class": "".join(part.capitalize() for part in name.split("-"))}


def render(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    return text


def scaffold(name: str, kind: str, out: Path) -> list[Path]:
    """Write the plugin package for ``name`` into ``out``; returns the files written."""
    values = names_for(name)
    hook, params, bad, usage = KINDS[kind]
    values.update(kind=kind, hook=hook, params=params, bad_params=bad, api=f">={API_VERSION},<{int(float(API_VERSION)) + 1}",
                  usage=usage.replace("NAME", values["component"]))
    if out.exists() and any(out.iterdir()):
        raise ConfigError(f"{out} already exists and is not empty", fix="pass -o with a new or empty folder")
    templates = resources.files("recforge.cli") / "plugin_templates"
    package = values["package"]
    layout = {
        "common/pyproject.toml.tmpl": "pyproject.toml",
        "common/README.md.tmpl": "README.md",
        "common/__init__.py.tmpl": f"{package}/__init__.py",
        f"{kind}/component.py.tmpl": f"{package}/component.py",
        "common/test_conformance.py.tmpl": f"tests/test_{package}_conformance.py",
    }
    written = []
    for source, target in layout.items():
        path = out / target
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render((templates / source).read_text(encoding="utf-8"), values), encoding="utf-8")
        written.append(path)
    return written


@click.command("new")
@click.argument("name")
@click.option("--kind", type=click.Choice(list(KINDS)), required=True, help="What the plugin provides.")
@click.option("-o", "--output", "output", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder to create (default: ./NAME).")
def new_plugin(name: str, kind: str, output: Path | None) -> None:
    """Scaffold an installable plugin package NAME providing one component of KIND."""
    out = output if output is not None else Path(name)
    files = scaffold(name, kind, out)
    click.echo(f"created {len(files)} files in {out}:")
    for path in files:
        click.echo(f"  {path.relative_to(out)}")
    click.echo(f"next: pip install -e '{out}[test]' && pytest {out} && recforge components show {name}")
