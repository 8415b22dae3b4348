"""The bad-input catalogue: one row per bad input a user can give recforge (not a test file).

Each :class:`Case` names the input, the command (as a user would type it, for the docs), a
function that builds the real argv inside a :class:`~reliability_kit.Workspace`, and the
fragment the one-line ``error:`` message must contain. ``test_bad_inputs.py`` runs every row;
``make_catalogue.py`` renders the table into ``docs/reliability.md``.
"""

from __future__ import annotations

import gzip
import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from reliability_kit import Workspace


@dataclass(frozen=True)
class Case:
    """One bad input: where it is given, what it is, and what the user must be told."""

    id: str
    area: str
    input: str
    command: str
    argv: Callable[[Workspace], list[str]]
    expect: str
    exit_code: int = 1
    xfail: str | None = None


def _cfg(ws: Workspace, **sections: Any) -> str:
    config = dict(ws.config)
    for name, value in sections.items():
        config[name] = value
    return ws.config_file(config)


def _model(ws: Workspace, **values: Any) -> str:
    return ws.changed("model", **values)


def _fields(ws: Workspace, extra: list[dict[str, Any]]) -> str:
    return _cfg(ws, data={**ws.config["data"], "fields": [*ws.config["data"]["fields"], *extra]})


def _train(config: Callable[[Workspace], str], *extra: str) -> Callable[[Workspace], list[str]]:
    return lambda ws: ["train", config(ws), *extra]


def _labels(values: list[Any]) -> Callable[[Workspace], str]:
    def make(ws: Workspace) -> str:
        frame = ws.frame()
        frame["label"] = frame["label"].astype(object)
        frame.loc[: len(values) - 1, "label"] = values
        return ws.with_split("train", frame)
    return make


def _tamper(ws: Workspace) -> list[str]:
    path = ws.model_dir / "model.safetensors"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    return ["recommend", str(ws.run_id), "--user", "1"]


def _manifest(ws: Workspace, change: Callable[[dict[str, Any]], None]) -> list[str]:
    path = ws.model_dir / "manifest.json"
    doc = json.loads(path.read_text())
    change(doc["files"])
    path.write_text(json.dumps(doc))
    return ["predict", str(ws.run_id), str(ws.files["test"])]


def _traversal(files: dict[str, Any]) -> None:
    files["../../../../etc/passwd"] = {"sha256": "0" * 64, "size": 1}


def _set_revision(ws: Workspace, revision: str) -> list[str]:
    conn = sqlite3.connect(ws.home / "recforge.db")
    conn.execute("UPDATE alembic_version SET version_num = ?", (revision,))
    conn.commit()
    conn.close()
    return ["runs", "list"]


def _behind(ws: Workspace) -> list[str]:
    """The code knows a newer revision than the database has (a recforge upgrade)."""
    from recforge.core.store import schema_check

    real_head = schema_check.head_revision()
    ws.monkeypatch.setattr(schema_check, "head_revision", lambda: "9999_future")
    ws.monkeypatch.setattr(schema_check, "known_revisions", lambda: {real_head, "9999_future"})
    return ["runs", "list"]


def _env(name: str, value: str, *argv: str) -> Callable[[Workspace], list[str]]:
    def make(ws: Workspace) -> list[str]:
        ws.monkeypatch.setenv(name, value.replace("{root}", str(ws.root)))
        return list(argv)
    return make


def _garbage_db(ws: Workspace) -> list[str]:
    (ws.home / "recforge.db").write_bytes(b"this is not a database\n" * 64)
    for suffix in ("-wal", "-shm"):
        (ws.home / f"recforge.db{suffix}").unlink(missing_ok=True)
    return ["runs", "list"]


def _plugin(ws: Workspace, module: Any) -> list[str]:
    """Install a fake third-party plugin (entry point) and train with its component."""
    import importlib.metadata

    from recforge.core import registry

    class EntryPoint:
        name, value, dist = "flaky-plugin", "flaky_plugin", None

        @staticmethod
        def load() -> Any:
            return module()

    real = importlib.metadata.entry_points
    ws.monkeypatch.setattr(registry.importlib.metadata, "entry_points",
                           lambda **kw: [EntryPoint()] if kw.get("group") == registry.ENTRY_POINT_GROUP else real(**kw))
    registry.reset_registry()
    ws.extra["reset_registry"] = True
    return ["train", _model(ws, interaction="flaky-cross")]


def _raises_on_import() -> Any:
    raise ImportError("No module named 'flaky_dependency'")


def _raises_in_hook() -> Any:
    import types

    from recforge.core.hookspecs import hookimpl

    module = types.ModuleType("flaky_plugin")

    @hookimpl
    def register_interactions(register: Any) -> None:
        raise RuntimeError("hook exploded")

    module.register_interactions = register_interactions  # type: ignore[attr-defined]
    return module


def _finished(ws: Workspace) -> list[str]:
    return ["resume", str(ws.run_id)]


def _gzip_truncated(ws: Workspace) -> str:
    blob = gzip.compress(ws.files["train"].read_bytes())
    return ws.with_split("train", blob[: len(blob) // 2], suffix=".csv.gz")


CASES: list[Case] = [
    # ------------------------------------------------------------------ command line
    Case("cli-unknown-command", "cli", "misspelt command", "recforge trian CONFIG",
         lambda ws: ["trian", ws.config_file()], "No such command 'trian'", 2),
    Case("cli-missing-argument", "cli", "train without a config", "recforge train",
         lambda ws: ["train"], "Missing argument 'CONFIG'", 2),
    Case("cli-unknown-option", "cli", "option that does not exist", "recforge train CONFIG --epochs 3",
         lambda ws: ["train", ws.config_file(), "--epochs", "3"], "No such option '--epochs'", 2),
    Case("cli-run-id-not-int", "cli", "run id that is not a number", "recforge runs show abc",
         lambda ws: ["runs", "show", "abc"], "'abc' is not a valid integer", 2),
    Case("cli-bad-choice", "cli", "unknown run status filter", "recforge runs list --status runing",
         lambda ws: ["runs", "list", "--status", "runing"], "'runing' is not one of", 2),
    Case("cli-nproc-zero", "cli", "zero processes", "recforge train CONFIG --nproc 0",
         lambda ws: ["train", ws.config_file(), "--nproc", "0"], "--nproc", 2),
    Case("override-no-equals", "cli", "--set without '='", "recforge train CONFIG --set train.epochs",
         lambda ws: ["train", ws.config_file(), "--set", "train.epochs"], "override 'train.epochs' has no '='"),
    Case("override-empty-key", "cli", "--set with an empty key", "recforge train CONFIG --set =3",
         lambda ws: ["train", ws.config_file(), "--set", "=3"], "has an empty key"),
    Case("override-into-scalar", "cli", "--set below a scalar", "recforge train CONFIG --set name.x=1",
         lambda ws: ["train", ws.config_file(), "--set", "name.x=1"], "'name' is not a mapping"),
    # ------------------------------------------------------------------ config files
    Case("config-missing", "config", "config file that does not exist", "recforge train nope.yaml",
         lambda ws: ["train", str(ws.root / "nope.yaml")], "config file not found"),
    Case("config-directory", "config", "a folder instead of a config file", "recforge train FOLDER",
         lambda ws: ["train", str(ws.root)], "is a directory", 2),
    Case("config-not-utf8", "config", "config that is not UTF-8 text", "recforge train latin1.yaml",
         lambda ws: ["train", str(ws.write("latin1.yaml", "name: caf\xe9\n".encode("latin-1")))], "cannot read config file"),
    Case("yaml-syntax", "config", "YAML syntax error on line 3", "recforge train broken.yaml",
         lambda ws: ["train", str(ws.write("broken.yaml", "name: x\ndata:\n  recipe: [files\n  params: {}\n"))],
         "broken.yaml:4"),
    Case("yaml-tabs", "config", "tab indentation in YAML", "recforge train tabs.yaml",
         lambda ws: ["train", str(ws.write("tabs.yaml", "name: x\ndata:\n\trecipe: files\n"))], "tabs.yaml:3"),
    Case("yaml-not-mapping", "config", "YAML list instead of a mapping", "recforge train list.yaml",
         lambda ws: ["train", str(ws.write("list.yaml", "- train\n- model\n"))], "is not a YAML mapping"),
    Case("config-no-data", "config", "config without a data section", "recforge train nodata.yaml",
         lambda ws: ["train", str(ws.write("nodata.yaml", "name: x\nmodel: {interaction: fm}\n"))],
         "config has no 'data' section"),
    Case("config-unknown-section", "config", "misspelt top-level section", "recforge train CONFIG (trian: ...)",
         lambda ws: ["train", _cfg(ws, trian={"epochs": 1})], "(did you mean 'train'?)"),
    Case("config-section-not-mapping", "config", "section given as a scalar", "recforge train CONFIG --set train=5",
         lambda ws: ["train", ws.config_file(), "--set", "train=5"], "config section 'train' must be a mapping"),
    Case("config-unknown-train-key", "config", "misspelt train key", "recforge train CONFIG --set train.epoch=3",
         lambda ws: ["train", ws.config_file(), "--set", "train.epoch=3"], "(did you mean 'epochs'?)"),
    Case("param-wrong-type", "config", "text where a number belongs", "recforge train CONFIG --set train.epochs=three",
         lambda ws: ["train", ws.config_file(), "--set", "train.epochs=three"], "train.epochs: 'three' is not an int"),
    Case("param-out-of-range", "config", "negative learning rate", "recforge train CONFIG --set train.lr=-1",
         lambda ws: ["train", ws.config_file(), "--set", "train.lr=-1"], "must be positive"),
    Case("unknown-optimizer", "config", "misspelt optimizer", "recforge train CONFIG --set train.optimizer=adamm",
         lambda ws: ["train", ws.config_file(), "--set", "train.optimizer=adamm"], "(did you mean 'adam'?)"),
    Case("unknown-interaction", "config", "misspelt interaction component", "recforge train CONFIG --set model.interaction=deepfn",
         lambda ws: ["train", ws.config_file(), "--set", "model.interaction=deepfn"], "(did you mean 'deepfm'?)"),
    Case("unknown-ranker", "config", "misspelt ranker component", "recforge train CONFIG --set model.ranker=ctrr",
         lambda ws: ["train", ws.config_file(), "--set", "model.ranker=ctrr"], "(did you mean 'ctr'?)"),
    Case("unknown-recipe", "config", "misspelt dataset recipe", "recforge train CONFIG --set data.recipe=filez",
         lambda ws: ["train", ws.config_file(), "--set", "data.recipe=filez"], "(did you mean 'files'?)"),
    Case("unknown-component-param", "config", "misspelt component parameter",
         "recforge train CONFIG --set 'model.interaction={name: mlp, params: {hidden_unit: [8]}}'",
         lambda ws: ["train", ws.config_file(), "--set", "model.interaction={name: mlp, params: {hidden_unit: [8]}}"],
         "(did you mean 'hidden_units'?)"),
    Case("component-param-wrong-type", "config", "component parameter of the wrong type",
         "recforge train CONFIG --set 'model.interaction={name: mlp, params: {dropout: lots}}'",
         lambda ws: ["train", ws.config_file(), "--set", "model.interaction={name: mlp, params: {dropout: lots}}"],
         "param 'dropout'"),
    Case("unknown-field-kind", "config", "misspelt field kind", "recforge train CONFIG (kind: categorial)",
         _train(lambda ws: _fields(ws, [{"name": "title", "kind": "categorial"}])), "(did you mean 'categorical'?)"),
    Case("model-field-not-in-data", "config", "model.fields names a field the data lacks",
         "recforge train CONFIG --set 'model.fields=[user_id, itm_id]'",
         lambda ws: ["train", ws.config_file(), "--set", "model.fields=[user_id, itm_id]"], "(did you mean 'item_id'?)"),
    Case("declared-column-missing", "config", "data.fields declares a column the files lack",
         "recforge train CONFIG ({name: rating, kind: numeric})",
         _train(lambda ws: _fields(ws, [{"name": "rating", "kind": "numeric"}])), "column 'rating' of"),
    Case("unknown-metric", "config", "misspelt evaluation metric", "recforge train CONFIG --set 'eval.metrics=[aucc]'",
         lambda ws: ["train", ws.config_file(), "--set", "eval.metrics=[aucc]"], "aucc"),
    # ------------------------------------------------------------------ data files
    Case("data-file-missing", "data", "train file that does not exist", "recforge train CONFIG (train: gone.csv)",
         lambda ws: ["train", _cfg(ws, data={**ws.config["data"], "params": {**ws.config["data"]["params"],
                                                                             "train": str(ws.root / "gone.csv")}})],
         "file not found"),
    Case("data-file-empty", "data", "empty (0-byte) train file", "recforge train CONFIG (train: empty.csv)",
         _train(lambda ws: ws.with_split("train", "")), "is empty"),
    Case("split-empty", "data", "train split with a header and no rows", "recforge train CONFIG (header only)",
         _train(lambda ws: ws.with_split("train", "label,user_id,item_id,gender,genres,title\n")), "train split of"),
    Case("valid-split-empty", "data", "valid split with a header and no rows", "recforge train CONFIG (valid: header only)",
         _train(lambda ws: ws.with_split("valid", "label,user_id,item_id,gender,genres,title\n")), "valid split of"),
    Case("column-missing", "data", "train file without the label column", "recforge train CONFIG (no label column)",
         _train(lambda ws: ws.with_split("train", ws.frame().drop(columns=["label"]))), "column 'label' is missing"),
    Case("label-nan", "data", "NaN labels", "recforge train CONFIG (label empty in 3 rows)",
         _train(_labels([np.nan, np.nan, np.nan])), "has an empty or NaN label at row 1"),
    Case("label-out-of-range", "data", "label 5 for a click (0/1) model", "recforge train CONFIG (label 5)",
         _train(_labels([5, 5])), "a ctr model needs 0/1 labels"),
    Case("label-not-number", "data", "text in the label column", "recforge train CONFIG (label 'yes')",
         _train(_labels(["yes"])), "is not numeric: row 1 holds 'yes'"),
    Case("csv-ragged", "data", "CSV row with too many fields", "recforge train CONFIG (ragged row)",
         _train(lambda ws: ws.with_split("train", ws.files["train"].read_text() + "1,2,3,4,5,6,7,8,9\n")),
         "has 9 fields, the header has 6"),
    Case("gzip-truncated", "data", "truncated .csv.gz file", "recforge train CONFIG (train.csv.gz cut in half)",
         _train(_gzip_truncated), "truncated or corrupt gzip"),
    Case("csv-not-utf8", "data", "train file that is not UTF-8", "recforge train CONFIG (latin-1 bytes)",
         _train(lambda ws: ws.with_split("train", ws.files["train"].read_bytes() + "1,1,1,F,Caf\xe9,x\n".encode("latin-1"))),
         "is not valid utf-8 text"),
    Case("data-unknown-format", "data", "file type recforge cannot read", "recforge train CONFIG (train.xlsx)",
         _train(lambda ws: ws.with_split("train", "a,b\n", suffix=".xlsx")), "cannot tell the format"),
    Case("predict-missing-column", "data", "predict file without the model's columns", "recforge predict RUN rows.csv",
         lambda ws: ["predict", str(ws.run_id), str(ws.write("rows.csv", "label,user_id\n1,3\n"))], "column 'item_id' of"),
    # ------------------------------------------------------------------ store and runs
    Case("run-missing-show", "store", "run id that does not exist", "recforge runs show 999",
         lambda ws: ["runs", "show", "999"], "run 999 does not exist"),
    Case("run-missing-resume", "store", "resume a run that does not exist", "recforge resume 999",
         lambda ws: ["resume", "999"], "run 999 does not exist"),
    Case("run-missing-eval", "store", "evaluate a run that does not exist", "recforge eval 999",
         lambda ws: ["eval", "999"], "run 999 does not exist"),
    Case("run-missing-delete", "store", "delete a run that does not exist", "recforge runs delete 999 -y",
         lambda ws: ["runs", "delete", "999", "-y"], "run 999 does not exist"),
    Case("run-missing-compare", "store", "compare with a run that does not exist", "recforge runs compare RUN 999",
         lambda ws: ["runs", "compare", str(ws.run_id), "999"], "run 999 does not exist"),
    Case("run-missing-recommend", "store", "recommend from a run that does not exist", "recforge recommend 999 --user 1",
         lambda ws: ["recommend", "999", "--user", "1"], "run 999 does not exist"),
    Case("resume-finished", "store", "resume a run that already finished", "recforge resume RUN",
         _finished, "already finished"),
    Case("db-behind", "store", "database schema behind the code", "recforge runs list (after a recforge upgrade)",
         _behind, "run `recforge db upgrade`"),
    Case("db-ahead", "store", "database written by a newer recforge", "recforge runs list (unknown revision)",
         lambda ws: _set_revision(ws, "ffffffffffff"), "is unknown to this recforge"),
    Case("db-not-a-database", "store", "store file that is not SQLite", "recforge runs list (garbage recforge.db)",
         _garbage_db, "is not a readable database"),
    Case("db-bad-url", "store", "RECFORGE_DB that is not a URL", "RECFORGE_DB=nonsense recforge runs list",
         _env("RECFORGE_DB", "nonsense", "runs", "list"), "is not a database URL"),
    Case("db-missing-driver", "store", "RECFORGE_DB for a driver that is not installed",
         "RECFORGE_DB=mysql://u@h/db recforge runs list", _env("RECFORGE_DB", "mysql://u@h/db", "runs", "list"),
         "install the driver"),
    Case("db-unwritable-home", "store", "RECFORGE_DB under a path that is a file",
         "RECFORGE_DB=sqlite:///FILE/sub/x.db recforge runs list",
         lambda ws: _env("RECFORGE_DB", f"sqlite:///{ws.write('afile', 'x')}/sub/x.db", "runs", "list")(ws),
         "cannot create the folder"),
    Case("stale-timeout-bad", "store", "RECFORGE_STALE_AFTER_S that is not a number",
         "RECFORGE_STALE_AFTER_S=soon recforge runs list", _env("RECFORGE_STALE_AFTER_S", "soon", "runs", "list"),
         "RECFORGE_STALE_AFTER_S='soon' is not a positive number"),
    # ------------------------------------------------------------------ saved models
    Case("model-tampered", "model", "saved model weights changed after saving", "recforge recommend RUN --user 1",
         _tamper, "does not match its checksum"),
    Case("model-file-missing", "model", "saved model with a file deleted", "recforge predict RUN rows.csv",
         lambda ws: ((ws.model_dir / "featuremap.json").unlink(), ["predict", str(ws.run_id), str(ws.files["test"])])[1],
         "featuremap.json is missing"),
    Case("model-manifest-corrupt", "model", "manifest.json that is not JSON", "recforge predict RUN rows.csv",
         lambda ws: ((ws.model_dir / "manifest.json").write_text("{oops"), ["predict", str(ws.run_id), str(ws.files["test"])])[1],
         "manifest.json is corrupt"),
    Case("model-manifest-traversal", "model", "manifest entry '../../../../etc/passwd'", "recforge predict RUN rows.csv",
         lambda ws: _manifest(ws, _traversal), "points outside"),
    Case("model-manifest-dropped", "model", "weights removed from the manifest (then replaced)", "recforge predict RUN rows.csv",
         lambda ws: _manifest(ws, lambda files: files.pop("model.safetensors")), "does not cover model.safetensors"),
    Case("model-wrong-checksum", "model", "manifest with a wrong sha256", "recforge predict RUN rows.csv",
         lambda ws: _manifest(ws, lambda files: files["config.yaml"].update(sha256="0" * 64)), "does not match its checksum"),
    # ------------------------------------------------------------------ plugins
    Case("plugin-import-error", "plugin", "plugin that raises on import, then used", "recforge train CONFIG (interaction: flaky-cross)",
         lambda ws: _plugin(ws, _raises_on_import), "plugin 'flaky-plugin' failed to load"),
    Case("plugin-hook-error", "plugin", "plugin whose hook raises, then used", "recforge train CONFIG (interaction: flaky-cross)",
         lambda ws: _plugin(ws, _raises_in_hook), "hook exploded"),
]
