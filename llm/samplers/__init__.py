"""Power samplers on any :class:`llm.LanguageModel` (one module per sampler).

Every sampler takes the model, one prompt (token ids), the number of outputs,
its parameters and a ``torch.Generator`` (all randomness comes from it), talks to
the model only through the engine calls of :mod:`llm.model` (``extend``, ``serve``,
``top_k``; never a full-vocabulary row), and returns a typed subclass of
:class:`Completions` with the raw base log-probs of every token.
"""

from .basic import *  # noqa: F401,F403
from .bon import *  # noqa: F401,F403
from .common import Completions, Timer, resolve_max_new_tokens, trim  # noqa: F401
from .mh import *  # noqa: F401,F403
from .scalable import *  # noqa: F401,F403
from .smc import *  # noqa: F401,F403
