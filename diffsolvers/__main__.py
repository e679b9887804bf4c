"""``python -m diffsolvers``: the command-line interface (see :mod:`diffsolvers.cli`)."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
