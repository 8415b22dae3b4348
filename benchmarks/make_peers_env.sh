#!/usr/bin/env bash
# Create the peers' virtual environment for the side-by-side benchmarks (issue 9).
#
#   benchmarks/make_peers_env.sh [VENV_DIR]      # default: .peers-venv/ in the repo root
#
# Then: python -m benchmarks train --peers-python .peers-venv/bin/python
#
# Why the pins: torch goes in FIRST from the local CPU wheel (torch==2.13.0+cpu, the same build
# recforge uses) so that no peer's dependency resolution can pull a multi-GB CUDA build.
# Later installs get a constraints file holding torch at that version.
# Other pins (all but the first found by running the peers here):
#   numpy<2, pandas<2.2  a precaution: recbole 1.2.0 and fuxictr 2.3.10 predate numpy 2 and
#                        pandas 2.2 (not tested against them);
#   pyarrow<19           with numpy 1.x, pyarrow 26 fails to import ("requires NumPy 2.0"), and
#                        FuxiCTR's parquet loader imports ray, which imports pyarrow;
#   polars<2             FuxiCTR calls polars.scan_csv(dtypes=...), removed in polars 2;
#   kmeans-pytorch       recbole 1.2.0 imports it (LDiffRec) without declaring it.
# The runners in benchmarks/peers/ carry the remaining shim (torch.load's weights_only
# default, for RecBole's best-checkpoint reload).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
venv="${1:-$root/.peers-venv}"
python_bin="${PYTHON:-python3.11}"
torch_version="2.13.0"

"$python_bin" -m venv "$venv"
pip="$venv/bin/pip"
"$pip" install --quiet --upgrade pip wheel setuptools

# 1. torch first, CPU only: a local wheel where the machine has one, else PyTorch's CPU index.
wheel="$(ls /opt/wheels/torch-${torch_version}+cpu-*.whl 2>/dev/null | head -n1 || true)"
if [[ -n "$wheel" ]]; then
  "$pip" install --quiet "$wheel"
else
  "$pip" install --quiet "torch==${torch_version}" --index-url https://download.pytorch.org/whl/cpu
fi
installed="$("$venv/bin/python" -c 'import torch; print(torch.__version__)')"
constraints="$venv/peers-constraints.txt"
printf 'torch==%s\nnumpy<2\npandas<2.2\npyarrow<19\npolars<2\n' "$installed" > "$constraints"

# 2. the peers, with the pins above.
"$pip" install --quiet -c "$constraints" "numpy<2" "pandas<2.2" "pyarrow<19" "polars<2" \
  "deepctr-torch==0.3.0" "fuxictr==2.3.10" "recbole==1.2.0" sentence-transformers \
  scikit-learn psutil kmeans-pytorch

# 3. prove all of them import (and that torch stayed the CPU build).
"$venv/bin/python" - <<'PY'
import importlib, torch
assert torch.version.cuda is None, f"a CUDA torch slipped in: {torch.__version__}"
# the deep modules too: they pull in ray/pyarrow/polars, where version clashes show up
for name, deep in (("deepctr_torch", "deepctr_torch.models"), ("fuxictr", "fuxictr.pytorch.dataloaders"),
                   ("recbole", "recbole.quick_start"), ("sentence_transformers", "sentence_transformers")):
    importlib.import_module(deep)
    print(f"{name:22s} {getattr(importlib.import_module(name), '__version__', '?')}")
print(f"{'torch':22s} {torch.__version__}")
PY
echo "peers env ready: $venv/bin/python"
