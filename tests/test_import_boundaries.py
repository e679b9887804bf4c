"""The library core imports without the lab's dependencies, and the package boundaries
(import-linter contracts in pyproject.toml) hold."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_core_imports_without_matplotlib_or_the_lab():
    done = _python(
        "import sys, diffsolvers\n"
        "bad = [m for m in sys.modules if m.split('.')[0] == 'matplotlib'"
        " or m.startswith('diffsolvers.experiments') or m.startswith('diffsolvers.datasets')]\n"
        "assert not bad, bad\n"
    )
    assert done.returncode == 0, done.stderr


def test_solvers_import_without_torch():
    done = _python("import sys, solvers\nassert 'torch' not in sys.modules\n")
    assert done.returncode == 0, done.stderr


def test_import_contracts_hold():
    lint = shutil.which("lint-imports")
    assert lint, "import-linter is part of the test extra: pip install -e '.[test]'"
    done = subprocess.run([lint], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:]
