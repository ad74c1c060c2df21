"""Exact computation of the power distribution ``π_α(y | x) ∝ π(y | x)^α`` on finite models.

numpy/scipy only; float64 and log-space throughout.  Paper:
"Power Distribution Bridges Sampling, Self-Reward RL, and Self-Distillation"
(arXiv 2605.04542).  Each concept lives in its own module and is re-exported here.
"""

from ._version import __version__  # noqa: F401  (semantic versioning: see CHANGELOG.md)

from ._logspace import log_normalize, logsumexp
from ._validate import MAX_ALPHA, check_alpha
from ._memory import max_bytes, memory_limit, set_max_bytes
from .models import AutoregressiveModel, MarkovAR, TabularAR
from .eos import *  # noqa: F401,F403

# Sections 3-4: the power distribution, its conditionals, Prop. 1 and Prop. 2
from .power import *  # noqa: F401,F403
from .renyi import *  # noqa: F401,F403
from .importance import *  # noqa: F401,F403
from .synthetic import *  # noqa: F401,F403

# Section 5: self-reward KL-RL, distillation, sharpening, true-reward slope
from .prompts import *  # noqa: F401,F403
from .rewards import *  # noqa: F401,F403
from .tilt import *  # noqa: F401,F403
from .policy import *  # noqa: F401,F403
from .sharpening import *  # noqa: F401,F403
from .covariance import *  # noqa: F401,F403

# The practical power samplers, analysed exactly
from .samplers import *  # noqa: F401,F403

# Goodness of fit of draws against an exact law (the test behind every sampler check)
from ._goodness import SamplerCheck, chi_square_pvalue, goodness_of_fit
