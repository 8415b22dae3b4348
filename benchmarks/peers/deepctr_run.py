"""DeepCTR-Torch on ml100k-ctr: one model, the peers' settings, one JSON result line.

    .peers-venv/bin/python benchmarks/peers/deepctr_run.py --model deepfm [--epochs N]

Data preparation follows DeepCTR-Torch's own multi-value MovieLens example: LabelEncoder per
sparse field (fitted on all rows, as the example does), genres split on ``|`` into a padded
index matrix with a ``mean`` VarLenSparseFeat. Models are the library's classes with the
network sizes of recforge's presets (see fuxictr_run.py); DeepCTR-Torch has no pure LR or FM class, so LR is
``WDL`` without a DNN (its linear part alone) and FM is ``DeepFM`` without a DNN (linear +
FM), both the library's own code paths. ``fit(verbose=0)`` so per-batch training metrics
(sklearn AUC on each batch) are not computed: the peer's fastest loop.
"""

from __future__ import annotations

import time
from importlib import metadata

import _common as c
import numpy as np
import pandas as pd
import torch

LIBRARY = "deepctr-torch"
#: network sizes of recforge's presets (as in fuxictr_run.py), so equal networks are compared
DNN = {"deepfm": (300, 300, 300), "dcnv2": (500, 500, 500), "xdeepfm": (500, 500, 500), "autoint": (400, 400)}


def build(model: str, linear, dnn, seed: int):  # type: ignore[no-untyped-def]
    from deepctr_torch.models import DCN, WDL, AutoInt, DeepFM, xDeepFM

    kw = {"task": "binary", "device": "cpu", "seed": seed}
    if model == "lr":
        return WDL(linear, dnn, dnn_hidden_units=(), **kw), "WDL(dnn_hidden_units=())"
    if model == "fm":
        return DeepFM(linear, dnn, use_fm=True, dnn_hidden_units=(), **kw), "DeepFM(dnn_hidden_units=())"
    if model == "deepfm":
        return DeepFM(linear, dnn, dnn_hidden_units=DNN["deepfm"], **kw), f"DeepFM(dnn_hidden_units={DNN['deepfm']})"
    if model == "dcnv2":
        return (DCN(linear, dnn, cross_num=3, cross_parameterization="matrix", dnn_hidden_units=DNN["dcnv2"], **kw),
                f"DCN(cross_num=3, cross_parameterization='matrix', dnn_hidden_units={DNN['dcnv2']})")
    if model == "autoint":
        return (AutoInt(linear, dnn, att_layer_num=3, att_head_num=2, dnn_hidden_units=DNN["autoint"], **kw),
                f"AutoInt(att_layer_num=3, att_head_num=2, dnn_hidden_units={DNN['autoint']})")
    return (xDeepFM(linear, dnn, dnn_hidden_units=DNN["xdeepfm"], cin_layer_size=(32, 32, 32), cin_split_half=False, **kw),
            f"xDeepFM(dnn_hidden_units={DNN['xdeepfm']}, cin_layer_size=(32, 32, 32), cin_split_half=False)")


def main() -> None:
    args = c.parse_args(LIBRARY)
    from deepctr_torch.callbacks import Callback, EarlyStopping
    from deepctr_torch.inputs import SparseFeat, VarLenSparseFeat, get_feature_names
    from sklearn.preprocessing import LabelEncoder

    start = time.perf_counter()
    frames = {s: pd.read_csv(args.csv(s), dtype=str, keep_default_na=False) for s in ("train", "valid", "test")}
    full = pd.concat(frames.values(), keys=list(frames))
    for feat in c.CATEGORICAL:
        full[feat] = LabelEncoder().fit_transform(full[feat])
    split = full[c.MULTI].str.split(c.MULTI_SEP)
    key2index: dict[str, int] = {}
    for values in split:
        for v in values:
            key2index.setdefault(v, len(key2index) + 1)
    max_len = int(split.map(len).max())
    genres = np.zeros((len(full), max_len), dtype=np.int64)
    for row, values in enumerate(split):
        genres[row, : len(values)] = [key2index[v] for v in values]
    columns = [SparseFeat(f, vocabulary_size=int(full[f].max()) + 1, embedding_dim=c.EMBEDDING_DIM) for f in c.CATEGORICAL]
    columns.append(VarLenSparseFeat(SparseFeat(c.MULTI, vocabulary_size=len(key2index) + 1,
                                               embedding_dim=c.EMBEDDING_DIM), maxlen=max_len, combiner="mean"))
    names = get_feature_names(columns)
    offsets = np.cumsum([0] + [len(frames[s]) for s in frames])
    inputs, labels = {}, {}
    for i, s in enumerate(frames):
        part = full.xs(s)
        inputs[s] = {f: part[f].values for f in c.CATEGORICAL}
        inputs[s][c.MULTI] = genres[offsets[i]:offsets[i + 1]]
        labels[s] = part[c.LABEL].astype(np.float32).values
        assert set(inputs[s]) == set(names)

    model, built_as = build(args.model, columns, columns, args.seed)
    model.compile(torch.optim.Adam(model.parameters(), lr=c.LR), "binary_crossentropy", metrics=["auc"])
    clock = c.LoopClock()
    rows = len(labels["train"])

    class Clock(Callback):
        def on_epoch_begin(self, epoch, logs=None):  # type: ignore[no-untyped-def]
            clock.begin_epoch()

        def on_epoch_end(self, epoch, logs=None):  # type: ignore[no-untyped-def]
            clock.end_epoch(rows)

    model.evaluate = clock.wrap_excluded(model.evaluate)
    callbacks = [Clock()]
    if not args.fixed_epochs:
        callbacks.append(EarlyStopping(monitor="val_auc", patience=c.PATIENCE, mode="max", restore_best_weights=True))
    model.fit(inputs["train"], labels["train"], batch_size=c.BATCH_SIZE, epochs=args.max_epochs, verbose=0,
              validation_data=(inputs["valid"], labels["valid"]), shuffle=True, callbacks=callbacks)
    pred = model.predict(inputs["test"], batch_size=16384)
    auc = c.roc_auc(labels["test"], pred)
    wall = time.perf_counter() - start
    # valid AUC of the tested weights (the best epoch's, restored by EarlyStopping), off the clock
    valid_auc = c.roc_auc(labels["valid"], model.predict(inputs["valid"], batch_size=16384))
    c.emit(LIBRARY, args, clock=clock, auc=auc, wall_s=wall, version=metadata.version("deepctr-torch"),
           valid_auc=valid_auc, built_as=built_as)


if __name__ == "__main__":
    main()
