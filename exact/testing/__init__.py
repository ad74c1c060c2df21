"""Test kit: exact-toy checks of power samplers for anyone's CI.

Import explicitly (``import exact.testing``); ``import exact`` never loads it,
because the strategies need Hypothesis.
"""
