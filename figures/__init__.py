"""Paper figures, one module per figure, named after it (``s6_renyi_correction.py``, ...).

Nothing here is part of the library: figures import ``exact`` (and later ``llm``),
never the other way round.  ``paper_repro.py`` at the repository root finds every
module of this package automatically (``pkgutil``; names starting with ``_`` are
helpers and are skipped), so adding a figure means adding one module.

The figure-module contract
--------------------------
A figure module defines, at top level:

``FIGURE_ID: str``
    The ID users type, e.g. ``"S6"``, ``"2"``, ``"table1"``, ``"tableS3"``, ``"samplers"``
    (``--table S3`` means ``tableS3``; Figure S.6 and Table S.6 are ``S6`` and ``tableS6``).  Write it
    as a string literal: ``--list`` reads it (and ``CAPTION``) from the source
    without importing the module, so listing stays fast even when a module needs
    torch.  Matching is case-insensitive and ignores ``.``/spaces (``s.6`` = ``S6``);
    a bare number ``6`` also means ``S6`` when that is unambiguous.
``CAPTION: str``
    One line: what the figure shows, as the paper's caption says it.
``IN_ALL: bool`` (optional, a literal; default ``True``)
    ``False`` keeps the module out of ``paper_repro.py --all`` (the benchmark tables
    ``tableS3``-``tableS6``: they need a dataset from the hub or ``--data-file``).
``compute(seed: int = 0, **options) -> dict``
    All the numbers, as plain data (numpy arrays, floats, lists).  Deterministic
    given ``seed``.  ``paper_repro.py`` passes ``--option KEY=VALUE`` settings only
    to a ``compute`` that declares ``KEY`` as a parameter (a ``compute`` that takes
    ``**options`` gets them all and must ignore the ones it does not know).
``plot(data) -> matplotlib.figure.Figure | None``
    Draws ``data`` (no computing).  Returning ``None`` marks a table-only artefact
    (e.g. ``table1``): then no image is written, only CSV and JSON.
``tables(data) -> dict[str, list[dict]]``
    Named tables of the plotted data; each is written as ``<stem>_<name>.csv``.
``summary(data) -> dict``
    JSON-able numbers backing the caption's claim (written as ``<stem>.json``).
``headline(data) -> str``
    The one line ``paper_repro.py`` prints on stdout (the figure's key number).

Outputs go to ``--out`` (default ``out/``) with the stem ``FIGURE_ID.lower()``
(``out/s6.png``, ``out/s6_pairs.csv``, ``out/s6.json``).  Shared helpers:
:mod:`figures._style` (seaborn theme, palettes, labels) and
:mod:`figures._registry` (discovery, ID matching, atomic output).
"""
