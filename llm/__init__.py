"""Power-distribution samplers and estimators on language models (torch lives here, not in ``exact``).

* :mod:`llm.model` -- the one engine interface (:class:`LanguageModel`: ``extend``, ``serve``, ``top_k``,
  ``score``; :class:`DecodeState`) with its contract; :mod:`llm.stepwise` -- its generic implementation
  on a decode state's next-token row (HF and toys inherit it; :class:`VLLMModel` answers the calls natively);
* :class:`HFModel` (any Hugging Face causal LM; default SmolLM2-135M-Instruct, offline),
  :class:`VLLMModel` (the vLLM engine, in an environment of its own: ``make test-vllm``)
  and :class:`ToyModel` (any ``exact`` model) implement it;
* :mod:`llm.samplers` -- standard, temperature, MH / Power(∞), scalable, Power-SMC, Best-of-N, on the
  engine calls only, each returning a typed :class:`Completions` subclass;
* :mod:`llm.methods` -- the one registry of those methods (:class:`SamplerConfig`, :func:`draw`), used by
  the command line, the experiments (:mod:`llm.experiments`, never imported here) and the figures;
* :mod:`llm.estimators` -- Section 4 quantities at a prefix with standard errors;
* :func:`self_reward`, :func:`enumerate_exact` (a real LM on a small token set, as an ``exact`` model);
* :mod:`llm.audit` -- a tiny Hugging Face LM with its exact law (:func:`tiny_causal_lm`) and
  adapters from any sampler's calling convention to draws for ``exact.testing``.

``HFModel`` imports ``transformers`` and ``VLLMModel`` imports ``vllm`` lazily, so ``import llm`` stays light.
"""

# PyPI's unrelated `llm` package has the same import name; this marker tells ours apart
# (exact.llm_guard.import_llm checks it before importing).
__distribution__ = "power-distribution-toolkit"
from exact._version import __version__  # noqa: E402,F401

from .audit import TinyLM, hf_sampler_draws, llm_sampler_draws, tiny_causal_lm  # noqa: F401
from .enumerate import enumerate_exact  # noqa: F401
from .estimators import *  # noqa: F401,F403
from .hf import HFModel, default_model_path  # noqa: F401
from .methods import METHODS, SamplerConfig, draw  # noqa: F401
from .model import (  # noqa: F401
    DecodeState, Decoded, ForwardCounter, LanguageModel, Request, TopTokens, sample_from_logprobs, temper,
)
from .reward import SelfReward, self_reward  # noqa: F401
from .samplers import *  # noqa: F401,F403
from .stepwise import StepwiseEngine, decode  # noqa: F401  (decode: the step-by-step ``extend``, as before)
from .toy import ToyModel  # noqa: F401
from .vllm import VLLMModel, load_engine  # noqa: F401  (vLLM itself is imported only when a VLLMModel is built)
