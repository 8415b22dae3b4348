"""Built-in encoders plugin: registers every built-in encoder through ``register_encoders``.

Default encoder per field kind (``recforge.core.model.DEFAULT_ENCODERS``): categorical
-> ``categorical``, numeric -> ``numeric``, multi_categorical -> ``multi_categorical``,
sequence -> ``sequence``, text -> ``text-lm``, vector -> ``vector``.
"""

from __future__ import annotations

from recforge.core.hookspecs import Register, hookimpl
from recforge.plugins.encoders.categorical import CategoricalEncoder
from recforge.plugins.encoders.id_text import IdTextEncoder
from recforge.plugins.encoders.multi_categorical import MultiCategoricalEncoder
from recforge.plugins.encoders.numeric import NumericEncoder
from recforge.plugins.encoders.sequence import SequenceEncoder
from recforge.plugins.encoders.text_hash import TextHashEncoder
from recforge.plugins.encoders.text_lm import TextLMEncoder
from recforge.plugins.encoders.text_seq import TextSequenceEncoder
from recforge.plugins.encoders.vector import VectorEncoder

ENCODERS = (
    CategoricalEncoder,
    NumericEncoder,
    MultiCategoricalEncoder,
    SequenceEncoder,
    VectorEncoder,
    TextHashEncoder,
    TextLMEncoder,
    TextSequenceEncoder,
    IdTextEncoder,
)



@hookimpl
def register_encoders(register: Register) -> None:
    """Register the built-in encoders."""
    for encoder in ENCODERS:
        register(encoder)
