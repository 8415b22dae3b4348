"""The one service layer the CLI and the console share.

Each module reads or changes the store and the registry for one subject and returns plain,
frozen views (dataclasses), so ``recforge runs list`` and the console's runs table are built
from the same rows, ``plugins install`` and the console's plugin screen run pip through the
same checked argv, and a change in the store's internals touches one module:

* :mod:`.runs` - run rows, run detail, export, datasets;
* :mod:`.models` - registered model versions, tags, promotion;
* :mod:`.plugins` - pip install/uninstall in recforge's interpreter;
* :mod:`.analysis` - a run's ``analysis.json`` read into importance bars and a pair matrix;
* :mod:`.model_refs` - a run id, ``name@stage``, ``name/version`` or a saved-model folder as a model.

Nothing here imports torch: the CLI's non-training commands and the console start fast.
"""
