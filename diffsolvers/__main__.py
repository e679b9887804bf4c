"""``python -m diffsolvers``: the command-line interface.

See :mod:`diffsolvers.experiments.cli`.
"""

from .experiments.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
