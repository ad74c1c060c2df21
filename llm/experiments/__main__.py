"""``python -m llm.experiments teacher|distill|evaluate ...`` (the same commands as ``python -m llm``)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
