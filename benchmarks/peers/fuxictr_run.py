"""FuxiCTR on ml100k-ctr: one model, the peers' settings, one JSON result line.

    .peers-venv/bin/python benchmarks/peers/fuxictr_run.py --model deepfm [--epochs N]

Data goes through FuxiCTR's own pipeline (``FeatureProcessor`` + ``build_dataset``: polars
CSV read, vocabularies fitted on train, parquet files, ``RankDataLoader``), training through
``BaseModel.fit`` (its clip-norm 10 and reduce-lr-on-plateau defaults kept). The pip package
ships FuxiCTR's layers and BaseModel but not its ``model_zoo``, so the six models below are
the model_zoo classes re-assembled from the package's own layers; their sizes match
recforge's presets (DeepFM DNN [300]*3; DCNv2 parallel, 3 cross layers, DNN [500]*3;
xDeepFM CIN [32]*3 + DNN [500]*3; AutoInt+ 3 layers x 2 heads of the embedding dim,
residual, DNN [400, 400]) so the speed comparison is between equal networks.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import tempfile
import time
from importlib import metadata

import _common as c
import torch
from torch import nn

LIBRARY = "fuxictr"
DNN = {"deepfm": [300, 300, 300], "dcnv2": [500, 500, 500], "xdeepfm": [500, 500, 500], "autoint": [400, 400]}


def make_models():  # type: ignore[no-untyped-def]
    """The model_zoo classes (imports deferred: this module is only run with the peers' python)."""
    from fuxictr.pytorch.layers import (
        CompressedInteractionNet,
        CrossNetV2,
        FactorizationMachine,
        FeatureEmbedding,
        LogisticRegression,
        MLP_Block,
        ScaledDotProductAttention,
    )
    from fuxictr.pytorch.models import BaseModel

    class Zoo(BaseModel):
        """Shared constructor tail: compile, reset, move (as every model_zoo class does)."""

        def finish(self, kwargs):  # type: ignore[no-untyped-def]
            self.compile(kwargs["optimizer"], kwargs["loss"], kwargs["learning_rate"])
            self.reset_parameters()
            self.model_to_device()

    class LR(Zoo):
        def __init__(self, fmap, **kw):  # type: ignore[no-untyped-def]
            super().__init__(fmap, model_id="LR", **kw)
            self.lr_layer = LogisticRegression(fmap, use_bias=True)
            self.finish(kw)

        def forward(self, inputs):  # type: ignore[no-untyped-def]
            return {"y_pred": self.output_activation(self.lr_layer(self.get_inputs(inputs)))}

    class FM(Zoo):
        def __init__(self, fmap, **kw):  # type: ignore[no-untyped-def]
            super().__init__(fmap, model_id="FM", **kw)
            self.embedding_layer = FeatureEmbedding(fmap, c.EMBEDDING_DIM)
            self.fm = FactorizationMachine(fmap)
            self.finish(kw)

        def forward(self, inputs):  # type: ignore[no-untyped-def]
            X = self.get_inputs(inputs)
            return {"y_pred": self.output_activation(self.fm(X, self.embedding_layer(X)))}

    class DeepFM(Zoo):
        def __init__(self, fmap, **kw):  # type: ignore[no-untyped-def]
            super().__init__(fmap, model_id="DeepFM", **kw)
            self.embedding_layer = FeatureEmbedding(fmap, c.EMBEDDING_DIM)
            self.fm = FactorizationMachine(fmap)
            self.mlp = MLP_Block(input_dim=fmap.sum_emb_out_dim(), output_dim=1, hidden_units=DNN["deepfm"],
                                 hidden_activations="ReLU")
            self.finish(kw)

        def forward(self, inputs):  # type: ignore[no-untyped-def]
            X = self.get_inputs(inputs)
            emb = self.embedding_layer(X)
            return {"y_pred": self.output_activation(self.fm(X, emb) + self.mlp(emb.flatten(start_dim=1)))}

    class DCNv2(Zoo):
        def __init__(self, fmap, **kw):  # type: ignore[no-untyped-def]
            super().__init__(fmap, model_id="DCNv2", **kw)
            self.embedding_layer = FeatureEmbedding(fmap, c.EMBEDDING_DIM)
            dim = fmap.sum_emb_out_dim()
            self.crossnet = CrossNetV2(dim, 3)
            self.parallel_dnn = MLP_Block(input_dim=dim, output_dim=None, hidden_units=DNN["dcnv2"],
                                          hidden_activations="ReLU")
            self.fc = nn.Linear(dim + DNN["dcnv2"][-1], 1)
            self.finish(kw)

        def forward(self, inputs):  # type: ignore[no-untyped-def]
            flat = self.embedding_layer(self.get_inputs(inputs)).flatten(start_dim=1)
            out = torch.cat([self.crossnet(flat), self.parallel_dnn(flat)], dim=-1)
            return {"y_pred": self.output_activation(self.fc(out))}

    class MultiHeadSelfAttention(nn.Module):
        """model_zoo/AutoInt's attention layer (projections, scaled dot product, residual)."""

        def __init__(self, input_dim, attention_dim, num_heads, use_residual=True, use_scale=False):  # type: ignore[no-untyped-def]
            super().__init__()
            self.head_dim, self.num_heads, self.use_scale = attention_dim // num_heads, num_heads, use_scale
            self.W_q = nn.Linear(input_dim, attention_dim, bias=False)
            self.W_k = nn.Linear(input_dim, attention_dim, bias=False)
            self.W_v = nn.Linear(input_dim, attention_dim, bias=False)
            self.W_res = nn.Linear(input_dim, attention_dim, bias=False) if use_residual and input_dim != attention_dim else None
            self.use_residual = use_residual
            self.dot_attention = ScaledDotProductAttention(0.0)

        def forward(self, X):  # type: ignore[no-untyped-def]
            b = X.size(0)
            q, k, v = (w(X).view(b, -1, self.num_heads, self.head_dim).transpose(1, 2) for w in (self.W_q, self.W_k, self.W_v))
            out, _ = self.dot_attention(q, k, v, scale=self.head_dim ** 0.5 if self.use_scale else None)
            out = out.transpose(1, 2).contiguous().view(b, -1, self.num_heads * self.head_dim)
            if self.use_residual:
                out = out + (self.W_res(X) if self.W_res is not None else X)
            return out.relu()

    class AutoIntPlus(Zoo):
        def __init__(self, fmap, **kw):  # type: ignore[no-untyped-def]
            super().__init__(fmap, model_id="AutoInt", **kw)
            d = c.EMBEDDING_DIM
            self.embedding_layer = FeatureEmbedding(fmap, d)
            self.dnn = MLP_Block(input_dim=fmap.sum_emb_out_dim(), output_dim=1, hidden_units=DNN["autoint"],
                                 hidden_activations="ReLU")
            self.self_attention = nn.Sequential(*[MultiHeadSelfAttention(d, d, 2) for _ in range(3)])
            self.fc = nn.Linear(fmap.num_fields * d, 1)
            self.finish(kw)

        def forward(self, inputs):  # type: ignore[no-untyped-def]
            emb = self.embedding_layer(self.get_inputs(inputs))
            y = self.fc(self.self_attention(emb).flatten(start_dim=1)) + self.dnn(emb.flatten(start_dim=1))
            return {"y_pred": self.output_activation(y)}

    class xDeepFM(Zoo):
        def __init__(self, fmap, **kw):  # type: ignore[no-untyped-def]
            super().__init__(fmap, model_id="xDeepFM", **kw)
            self.embedding_layer = FeatureEmbedding(fmap, c.EMBEDDING_DIM)
            self.dnn = MLP_Block(input_dim=fmap.sum_emb_out_dim(), output_dim=1, hidden_units=DNN["xdeepfm"],
                                 hidden_activations="ReLU")
            self.lr_layer = LogisticRegression(fmap, use_bias=False)
            self.cin = CompressedInteractionNet(fmap.num_fields, [32, 32, 32], output_dim=1)
            self.finish(kw)

        def forward(self, inputs):  # type: ignore[no-untyped-def]
            X = self.get_inputs(inputs)
            emb = self.embedding_layer(X)
            y = self.lr_layer(X) + self.cin(emb) + self.dnn(emb.flatten(start_dim=1))
            return {"y_pred": self.output_activation(y)}

    return {"lr": LR, "fm": FM, "deepfm": DeepFM, "dcnv2": DCNv2, "autoint": AutoIntPlus, "xdeepfm": xDeepFM}


def main() -> None:
    args = c.parse_args(LIBRARY)
    logging.disable(logging.INFO)
    from fuxictr.features import FeatureMap
    from fuxictr.preprocess import FeatureProcessor, build_dataset
    from fuxictr.pytorch.dataloaders import RankDataLoader
    from fuxictr.pytorch.torch_utils import seed_everything

    seed_everything(seed=args.seed)
    root = tempfile.mkdtemp(prefix="fuxictr-bench-")
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    start = time.perf_counter()
    feature_cols = [
        {"name": c.CATEGORICAL, "active": True, "dtype": "str", "type": "categorical"},
        {"name": c.MULTI, "active": True, "dtype": "str", "type": "sequence", "splitter": c.MULTI_SEP,
         "padding": "post", "feature_encoder": "layers.MaskedAveragePooling()"},
    ]
    label_col = {"name": c.LABEL, "dtype": "float"}
    processor = FeatureProcessor(feature_cols=feature_cols, label_col=label_col, dataset_id="ml100k_ctr", data_root=root)
    train, valid, test = build_dataset(processor, train_data=args.csv("train"), valid_data=args.csv("valid"),
                                       test_data=args.csv("test"))
    fmap = FeatureMap("ml100k_ctr", processor.data_dir)
    params = {"data_format": "parquet", "model_root": root, "embedding_dim": c.EMBEDDING_DIM}
    fmap.load(os.path.join(processor.data_dir, "feature_map.json"), params)
    train_gen, valid_gen = RankDataLoader(fmap, stage="train", train_data=train, valid_data=valid,
                                          batch_size=c.BATCH_SIZE, shuffle=True, data_format="parquet")
    patience = args.max_epochs + 1 if args.fixed_epochs else c.PATIENCE
    model = make_models()[args.model](
        fmap, gpu=-1, optimizer="adam", loss="binary_crossentropy", learning_rate=c.LR, metrics=["logloss", "AUC"],
        monitor="AUC", monitor_mode="max", early_stop_patience=patience, verbose=0, model_root=root)
    clock = c.LoopClock()
    rows = train_gen.num_samples
    model.eval_step = clock.wrap_excluded(model.eval_step)
    epoch_fn = model.train_epoch

    def timed_epoch(gen):  # type: ignore[no-untyped-def]
        with clock.epoch(rows):
            return epoch_fn(gen)

    model.train_epoch = timed_epoch
    model.fit(train_gen, epochs=args.max_epochs, validation_data=valid_gen)
    test_gen = RankDataLoader(fmap, stage="test", test_data=test, batch_size=16384, shuffle=False,
                              data_format="parquet")
    auc = model.evaluate(test_gen, metrics=["AUC"])["AUC"]
    wall = time.perf_counter() - start
    # fit reloads the best checkpoint, whose valid AUC is the monitor's best value
    c.emit(LIBRARY, args, clock=clock, auc=auc, wall_s=wall, version=metadata.version("fuxictr"),
           valid_auc=model._best_metric)


if __name__ == "__main__":
    main()
