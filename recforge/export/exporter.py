"""Export a saved model's scoring path and check it against the saved model on the test split.

The check runs the exported file (onnxruntime for ONNX, ``torch.jit.load`` for TorchScript)
on every row of the model's test split (re-prepared from its config, as ``recforge eval``
does) and compares with ``model.predict``; the largest absolute difference is reported and
must stay within ``tolerance``.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from recforge.core.errors import ArtifactError, ConfigError
from recforge.core.model import RecModel
from recforge.export.wrappers import PairScorer, RowScorer
from recforge.plugins.rankers.mf import MatrixFactorization
from recforge.serving.vectors import retrieval_of

FORMATS = ("onnx", "torchscript")
VERIFY_ROWS = 20000


@dataclass
class ExportResult:
    path: Path
    format: str
    inputs: list[str]
    rows_checked: int
    max_abs_diff: float

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "format": self.format, "inputs": self.inputs,
                "rows_checked": self.rows_checked, "max_abs_diff": self.max_abs_diff}


def _scorer(loaded: Any) -> tuple[torch.nn.Module, list[str]]:
    model = loaded.model
    if isinstance(model, RecModel):
        names = sorted(model.pair_batch(torch.tensor([2]), torch.tensor([2])).keys())
        return RowScorer(model, names).eval(), names
    retrieval = retrieval_of(model)
    if retrieval is None:
        raise ConfigError(f"model '{type(model).__name__}' has no exportable scoring path",
                          fix="export a composed (CTR) model or an embedding model (two-tower, MF, BPR, LightGCN)")
    data = loaded.data
    n_users, n_items = int(data.fields[data.user_field].vocab_size), int(data.fields[data.item_field].vocab_size)
    sigmoid = isinstance(model, MatrixFactorization) and model.params.objective == "ctr"
    return PairScorer(retrieval, n_users, n_items, sigmoid).eval(), [data.user_field, data.item_field]


def _test_rows(loaded: Any, inputs: list[str], limit: int) -> dict[str, torch.Tensor]:
    from recforge.core.data import prepare_data

    prepared = prepare_data(loaded.config["data"])
    split = "test" if "test" in prepared.splits else next(iter(prepared.splits))
    table = prepared.splits[split]
    batch = table.batch(torch.arange(min(table.num_rows, limit)))
    missing = [n for n in inputs if n not in batch]
    if missing:
        raise ConfigError(f"the test split has no column '{missing[0]}'", fix="export a model trained on this data")
    return batch


def export_model(loaded: Any, fmt: str, out_dir: str | Path, tolerance: float = 1e-5,
                 verify_rows: int = VERIFY_ROWS) -> ExportResult:
    """Write ``model.onnx`` or ``model.pt`` (+ ``export.json``) to ``out_dir`` and verify it.

    Raises:
        ArtifactError: the exported scores differ from the saved model's by more than ``tolerance``.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"export format '{fmt}' is unknown", fix="use onnx or torchscript")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    scorer, inputs = _scorer(loaded)
    batch = _test_rows(loaded, inputs, verify_rows)
    args = tuple(batch[n].long() if not batch[n].is_floating_point() else batch[n] for n in inputs)
    with torch.no_grad():
        expected = loaded.model.predict({n: batch[n] for n in batch}).float().numpy()
        sample = tuple(a[:8] for a in args)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if fmt == "onnx":
                path = out / "model.onnx"
                torch.onnx.export(scorer, sample, str(path), input_names=inputs, output_names=["score"],
                                  dynamic_axes={**{n: {0: "rows"} for n in inputs}, "score": {0: "rows"}},
                                  dynamo=False, opset_version=17)
                got = _run_onnx(path, inputs, args)
            else:
                path = out / "model.pt"
                traced = torch.jit.trace(scorer, sample, check_trace=False)
                traced.save(str(path))
                got = torch.jit.load(str(path))(*args).float().numpy()
    diff = float(np.abs(got - expected).max()) if expected.size else 0.0
    result = ExportResult(path, fmt, inputs, int(expected.size), diff)
    (out / "export.json").write_text(json.dumps(result.to_dict(), indent=2))
    if diff > tolerance:
        raise ArtifactError(f"the exported {fmt} scores differ from the saved model's by {diff:.2e} (> {tolerance:g})",
                            fix="report the model's components; serve the saved model instead")
    return result


def _run_onnx(path: Path, inputs: list[str], args: tuple[torch.Tensor, ...]) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    wanted = {i.name for i in session.get_inputs()}
    feed = {n: a.numpy() for n, a in zip(inputs, args) if n in wanted}
    return np.asarray(session.run(None, feed)[0], dtype=np.float32)
