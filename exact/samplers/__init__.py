"""The exact output distributions of the power samplers on enumerable models.

``exact`` keeps the ground truth only; each sampler has one implementation, in ``llm``
(run it on ``llm.ToyModel`` to compare its draws with these laws):

* :mod:`.mh` -- block Metropolis-Hastings (Algorithm 2 of arXiv 2605.04542) and Power(∞);
* :mod:`.scalable` -- token-level power sampling with Monte Carlo lookahead and jackknife (arXiv 2601.21590);
* :mod:`.smc` -- SIS, sampling-importance-resampling and Power-SMC (``power_smc``: the one
  vectorised law-estimator, since Power-SMC has no closed form);
* :mod:`.temperature` -- per-token temperature sampling (Eq. 5);
* :mod:`.bon` -- self-reward Best-of-N (Section 6.1);
* :mod:`.compare` -- distances to ``π_α``, self-reward and cost.

The numerics the samplers share (inverse-CDF draws, ESS, systematic resampling, top-K,
jackknife) are :mod:`exact._numerics`; the table derivations :mod:`exact._tables`.
"""

from ._common import SamplerDistribution, TableScorer, laplace_log_nodes, laplace_nodes, laplace_ratio_expectations, scorer
from .bon import *  # noqa: F401,F403
from .bon import __all__ as _bon_all
from .compare import *  # noqa: F401,F403
from .compare import __all__ as _compare_all
from .mh import *  # noqa: F401,F403
from .mh import __all__ as _mh_all
from .scalable import *  # noqa: F401,F403
from .scalable import __all__ as _scalable_all
from .smc import *  # noqa: F401,F403
from .smc import __all__ as _smc_all
from .temperature import *  # noqa: F401,F403
from .temperature import __all__ as _temperature_all

__all__ = ["SamplerDistribution", "TableScorer", "laplace_log_nodes", "laplace_nodes", "laplace_ratio_expectations", "scorer", *_compare_all, *_mh_all, *_scalable_all, *_smc_all, *_temperature_all]
__all__ += _bon_all
