"""The toolkit's version, in one place: ``pyproject.toml`` reads it, ``exact`` and ``llm`` re-export it.

Semantic versioning; what counts as a breaking change is in ``CHANGELOG.md``.
"""

__version__ = "0.1.0"
