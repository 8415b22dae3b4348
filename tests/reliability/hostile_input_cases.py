"""Round two of the bad-input catalogue: the red-team classes of issue 17 (not a test file).

``ALL_CASES`` is :data:`bad_input_cases.CASES` plus the rows below; ``test_bad_inputs.py``
runs them all with the same contract (one ``error:`` line naming the input and the fix, no
"report it", the exit code, the store unchanged). The config range rows are answered by the
typed experiment config (``recforge.core.config_schema``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from bad_input_cases import CASES, Case, _cfg, _plugin, _train
from reliability_kit import Workspace


def _registered(stage: str) -> Callable[[Workspace], list[str]]:
    """Register the workspace run's model (promoted to ``stage``), then delete the run."""
    def make(ws: Workspace) -> list[str]:
        from recforge.core.store import Store

        with Store.open() as store:
            mv = store.register_model("ranker", ws.run_id)
            if stage != "none":
                store.promote("ranker", mv.version, stage)
        return ["runs", "delete", str(ws.run_id), "-y"]
    return make


def alias_bomb(levels: int = 9, key: str = "name") -> str:
    """The "billion laughs" YAML: each level an anchored list of nine aliases of the last."""
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]")
    lines.append(f"{key}: *a{levels - 1}")
    return "\n".join(lines) + "\n"


def _yaml(name: str, text: Callable[[Workspace], str]) -> Callable[[Workspace], list[str]]:
    return lambda ws: ["train", str(ws.write(name, text(ws)))]


def _valid_yaml(ws: Workspace) -> str:
    return open(ws.config_file(), encoding="utf-8").read()


def _reseal(ws: Workspace, name: str, change: Callable[[Any], Any]) -> list[str]:
    """Change one file of the saved model and rewrite the manifest to match (a careful tamperer)."""
    path = ws.model_dir / name
    if name.endswith(".json"):
        path.write_text(json.dumps(change(json.loads(path.read_text()))))
    else:
        change(path)
    manifest = ws.model_dir / "manifest.json"
    doc = json.loads(manifest.read_text())
    doc["files"][name] = {"sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "size": path.stat().st_size}
    manifest.write_text(json.dumps(doc))
    return ["recommend", str(ws.run_id), "--user", "1"]


def _huge_vocab(featuremap: dict[str, Any]) -> dict[str, Any]:
    featuremap["fields"]["user_id"]["vocab_size"] = 10**10
    return featuremap


def _wrong_shape(path: Any) -> None:
    import torch
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    tensors = load_file(path)
    with safe_open(str(path), framework="pt") as handle:
        meta = handle.metadata()
    name = next(k for k, t in tensors.items() if t.dim() == 2 and k.endswith("table.weight"))
    tensors[name] = torch.zeros(tensors[name].shape[0] + 3, tensors[name].shape[1])
    save_file(tensors, str(path), metadata=meta)


def _numeric(ws: Workspace, value: float) -> str:
    """A config with a numeric ``score`` column in every split; row 3 of train holds ``value``."""
    params = {}
    for split in ("train", "valid", "test"):
        frame = ws.frame(split)
        frame["score"] = 1.0
        if split == "train":
            frame.loc[2, "score"] = value
        params[split] = str(ws.root / f"numeric-{split}.csv")
        frame.to_csv(params[split], index=False)
    data = {**ws.config["data"], "params": params,
            "fields": [*ws.config["data"]["fields"], {"name": "score", "kind": "numeric"}]}
    return _cfg(ws, data=data)


def _nested(ws: Workspace, suffix: str, column: str, value: Any) -> str:
    frame = ws.frame()
    frame[column] = [value] * len(frame)
    path = ws.root / f"nested{suffix}"
    if suffix == ".parquet":
        frame.to_parquet(path)
    else:
        frame.to_json(path, orient="records", lines=True)
    data = {**ws.config["data"], "params": {**ws.config["data"]["params"], "train": str(path)}}
    return _cfg(ws, data=data)


def _exits_on_import() -> Any:
    raise SystemExit(3)


def _ctrl_c_on_import() -> Any:
    raise KeyboardInterrupt


def _set(key_value: str) -> Callable[[Workspace], list[str]]:
    return lambda ws: ["train", ws.config_file(), "--set", key_value]


HUGE = "99999999999999999999"
CASES_R2: list[Case] = [
    # ------------------------------------------------------------------ 1. data loss
    Case("delete-registered-run", "store", "delete a run whose model is a registered version", "recforge runs delete RUN -y",
         _registered("none"), "source of registered model versions ranker v1 (none)"),
    Case("delete-production-run", "store", "delete a run whose model is in production", "recforge runs delete RUN -y",
         _registered("production"), "ranker v1 (production); deleting it would delete their weights"),
    # ------------------------------------------------------------------ 2. unbounded inputs
    Case("yaml-alias-bomb", "config", "9-level YAML alias chain in `name:` (billion laughs)", "recforge train bomb.yaml",
         _yaml("bomb.yaml", lambda ws: alias_bomb() + _valid_yaml(ws).replace("name:", "title:", 1)), "an alias bomb?"),
    Case("yaml-recursive-alias", "config", "recursive YAML alias", "recforge train loop.yaml",
         _yaml("loop.yaml", lambda ws: "a: &a [*a]\n" + _valid_yaml(ws)), "(a recursive alias)"),
    Case("yaml-deep-nesting", "config", "YAML nested 50 000 levels deep", "recforge train deep.yaml",
         _yaml("deep.yaml", lambda ws: "x: " + "[" * 50_000 + "]" * 50_000 + "\n"), "nests deeper than 64 levels"),
    Case("yaml-huge-document", "config", "2 MB config file", "recforge train huge.yaml",
         _yaml("huge.yaml", lambda ws: _valid_yaml(ws) + "description: " + "x" * 2_000_000 + "\n"), "over the limit of 1,000,000"),
    Case("run-name-too-long", "store", "300-character run name", "recforge train CONFIG --name xxx...",
         lambda ws: ["train", ws.config_file(), "--name", "x" * 300], "the run name is 300 characters long"),
    Case("description-too-long", "store", "20 000-character description", "recforge train CONFIG (description: ...)",
         _train(lambda ws: _cfg(ws, description="d" * 20_000)), "the config's description is 20,000 characters"),
    Case("model-name-too-long", "store", "300-character model name", "recforge models register RUN xxx...",
         lambda ws: ["models", "register", str(ws.run_id), "m" * 300], "the model name is 300 characters long"),
    Case("tag-too-long", "store", "20 000-character tag value", "recforge models register RUN m --tag k=xxx...",
         lambda ws: ["models", "register", str(ws.run_id), "m", "--tag", "k=" + "v" * 20_000], "the value of tag 'k'"),
    Case("model-vocab-tampered", "model", "featuremap vocab_size 10^10, manifest rewritten to match",
         "recforge recommend RUN --user 1", lambda ws: _reseal(ws, "featuremap.json", _huge_vocab),
         "describes 40,000,000,"),
    # ------------------------------------------------------------------ 7. silent acceptance
    Case("yaml-duplicate-section", "config", "a second `train:` section in one YAML", "recforge train twice.yaml",
         _yaml("twice.yaml", lambda ws: _valid_yaml(ws) + "train:\n  epochs: 50\n"), "duplicate key 'train' (first given on line"),
    Case("csv-short-row", "data", "CSV row with too few fields", "recforge train CONFIG (short row)",
         _train(lambda ws: ws.with_split("train", ws.files["train"].read_text() + "1,2\n")), "fields, the header has"),
    Case("csv-unterminated-quote", "data", "CSV with an unterminated quote", "recforge train CONFIG (\"F,... never closed)",
         _train(lambda ws: ws.with_split("train", ws.files["train"].read_text() + '1,5,5,"F,Comedy\n0,6,6,M,Drama\n')),
         "has a quote that is never closed"),
    Case("csv-duplicate-column", "data", "valid file with a repeated column name", "recforge train CONFIG (gender twice in valid)",
         _train(lambda ws: ws.with_split("valid", ws.files["valid"].read_text().replace("genres", "gender", 1))),
         "bad-valid.csv; rename or drop"),
    Case("numeric-overflow", "data", "numeric value 1e308", "recforge train CONFIG (score 1e308)",
         _train(lambda ws: _numeric(ws, 1e308)), "holds 1e+308 at row 3, too large"),
    Case("numeric-infinite", "data", "numeric value inf", "recforge train CONFIG (score inf)",
         _train(lambda ws: _numeric(ws, float("inf"))), "holds inf at row 3"),
    # ------------------------------------------------------------------ 8. unexpected -> proper messages
    Case("jsonl-nested-list", "data", "JSON lines with a list value", "recforge train CONFIG (train.jsonl, genres: [..])",
         _train(lambda ws: _nested(ws, ".jsonl", "genres", ["Comedy", "Drama"])), "holds a nested value (a list) at row 1"),
    Case("parquet-nested-struct", "data", "Parquet with a struct value", "recforge train CONFIG (train.parquet, user_id: {..})",
         _train(lambda ws: _nested(ws, ".parquet", "user_id", {"id": 1})), "holds a nested value (a dict) at row 1"),
    Case("model-weights-wrong-shape", "model", "weights of another shape, manifest rewritten to match",
         "recforge recommend RUN --user 1", lambda ws: _reseal(ws, "model.safetensors", _wrong_shape),
         "does not fit the model its config builds (size mismatch"),
    Case("model-components-list", "model", "components.json that is a JSON list (checksums rewritten)",
         "recforge recommend RUN --user 1", lambda ws: _reseal(ws, "components.json", lambda doc: [doc]),
         "components.json holds a JSON list, not an object"),
    Case("model-items-wrong-kind", "model", "items.json whose ids is a number (checksums rewritten)",
         "recforge recommend RUN --user 1", lambda ws: _reseal(ws, "items.json", lambda doc: {**doc, "ids": 5}),
         "'ids' in"),
    Case("run-id-beyond-sqlite", "cli", "run id beyond SQLite's integer range", f"recforge runs show {HUGE}",
         lambda ws: ["runs", "show", HUGE], "beyond the largest possible id"),
    Case("delete-id-beyond-sqlite", "cli", "delete a run id beyond the integer range", f"recforge runs delete {HUGE} -y",
         lambda ws: ["runs", "delete", HUGE, "-y"], "beyond the largest possible id"),
    Case("model-version-beyond-sqlite", "cli", "model version beyond the integer range",
         f"recforge models promote m {HUGE} production", lambda ws: ["models", "promote", "m", HUGE, "production"],
         "beyond the largest possible id"),
    Case("similar-k-negative", "cli", "negative neighbour count", "recforge similar RUN --item 1 -k -3",
         lambda ws: ["similar", str(ws.run_id), "--item", "1", "-k", "-3"], "k must be at least 1, got -3"),
    Case("analyze-seed-huge", "cli", "analysis seed beyond 2^32", f"recforge analyze RUN --seed {HUGE}",
         lambda ws: ["analyze", str(ws.run_id), "--seed", HUGE], "is not in the range", 2),
    # ------------------------------------------------------------------ 4. plugin isolation
    Case("plugin-sys-exit-at-import", "plugin", "plugin that calls sys.exit at import, then used",
         "recforge train CONFIG (interaction: flaky-cross)", lambda ws: _plugin(ws, _exits_on_import),
         "called sys.exit(3)"),
    Case("plugin-ctrl-c-at-import", "plugin", "plugin that raises KeyboardInterrupt at import, then used",
         "recforge train CONFIG (interaction: flaky-cross)", lambda ws: _plugin(ws, _ctrl_c_on_import),
         "raised KeyboardInterrupt itself"),
    # ------------------------------------------------------------------ 3./7./8. numeric ranges (typed config)
    Case("lr-infinite", "config", "learning rate .inf", "recforge train CONFIG --set train.lr=.inf",
         _set("train.lr=.inf"), "train.lr"),
    Case("lr-nan", "config", "learning rate .nan", "recforge train CONFIG --set train.lr=.nan", _set("train.lr=.nan"), "train.lr"),
    Case("patience-negative", "config", "patience -1", "recforge train CONFIG --set train.patience=-1",
         _set("train.patience=-1"), "train.patience"),
    Case("embedding-dim-fraction", "config", "embedding_dim 2.5", "recforge train CONFIG --set model.embedding_dim=2.5",
         _set("model.embedding_dim=2.5"), "model.embedding_dim"),
    Case("embedding-dim-huge", "config", "embedding_dim 50 000 000", "recforge train CONFIG --set model.embedding_dim=50000000",
         _set("model.embedding_dim=50000000"), "model.embedding_dim"),
    Case("eval-k-negative", "config", "eval.k -5", "recforge train CONFIG --set eval.k=-5", _set("eval.k=-5"), "eval.k"),
    Case("grad-clip-negative", "config", "grad_clip -1", "recforge train CONFIG --set train.grad_clip=-1",
         _set("train.grad_clip=-1"), "train.grad_clip"),
    Case("monitor-unknown", "config", "monitor valid.nope", "recforge train CONFIG --set train.monitor=valid.nope",
         _set("train.monitor=valid.nope"), "valid.nope"),
    Case("seed-negative", "config", "seed -1", "recforge train CONFIG --set train.seed=-1", _set("train.seed=-1"), "train.seed"),
    Case("seed-huge", "config", "seed 10^20", f"recforge train CONFIG --set train.seed={HUGE}", _set(f"train.seed={HUGE}"),
         "train.seed"),
    Case("epochs-huge", "config", "epochs 10^20", f"recforge train CONFIG --set train.epochs={HUGE}",
         _set(f"train.epochs={HUGE}"), "train.epochs"),
    Case("threads-negative", "config", "threads -2", "recforge train CONFIG --set train.threads=-2",
         _set("train.threads=-2"), "train.threads"),
    Case("fields-wrong-type", "config", "data.fields given as a number", "recforge train CONFIG --set data.fields=7",
         _set("data.fields=7"), "data.fields"),
    Case("stop-on-nonfinite-wrong-type", "config", "train.stop_on_nonfinite: sometimes",
         "recforge train CONFIG --set train.stop_on_nonfinite=sometimes", _set("train.stop_on_nonfinite=sometimes"),
         "train.stop_on_nonfinite"),
]

ALL_CASES: list[Case] = [*CASES, *CASES_R2]
