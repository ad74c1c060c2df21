"""Shared pytest configuration: Hypothesis profiles.

``ci`` (loaded when ``CI`` is set, or with ``HYPOTHESIS_PROFILE=ci``) is
derandomised, has no deadline and no example database, so CI runs are
reproducible; ``dev`` is the same with more examples for local hunting.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    database=None,
    print_blob=True,
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", parent=settings.get_profile("ci"), max_examples=300, derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
