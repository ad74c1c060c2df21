"""``python -m bench NAME [args]``: run the benchmark module ``bench/NAME.py`` (its ``main(argv)``)."""

import importlib
import pkgutil
import sys
from pathlib import Path


def _available() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if not m.name.startswith("_"))


def main(argv: list[str]) -> int:
    """Run ``bench/NAME.py``'s ``main``; an unknown or missing NAME is one line on stderr and exit status 2."""
    names = _available()
    if not argv or argv[0] not in names:
        what = f"unknown benchmark {argv[0]!r}" if argv else "a benchmark name is required"
        print(f"python -m bench: error: {what}; usage: python -m bench {{{','.join(names)}}} [options]", file=sys.stderr)
        return 2
    return int(importlib.import_module(f"bench.{argv[0]}").main(argv[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
