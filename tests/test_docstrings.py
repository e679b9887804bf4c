"""Every public name has a docstring with an example, the examples run, and every public
name appears in the API reference (``docs/api/*.md``).

Public names: ``diffsolvers.__all__``, ``solvers.__all__``, ``diffsolvers.datasets.__all__``
and, in every public module of the two packages (no ``_`` in its path, the lab
``diffsolvers.experiments`` apart), the names of its ``__all__`` (or, without one, the
classes and functions it defines whose names do not start with ``_``). Classes and
functions need an example (a ``>>>`` doctest or an ``Example`` section); constants need a
docstring (a string right after the assignment, which the API reference shows).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import pkgutil
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import diffsolvers
import diffsolvers.datasets
import solvers

ROOT = Path(__file__).resolve().parents[1]
API = ROOT / "docs" / "api"


def _public_modules() -> list[str]:
    names = ["diffsolvers", "solvers"]
    for package in (diffsolvers, solvers):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            parts = info.name.split(".")
            if any(p.startswith("_") for p in parts) or parts[:2] == ["diffsolvers", "experiments"]:
                continue
            names.append(info.name)
    return sorted(names)


MODULES = _public_modules()


def _exported(module) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is not None:
        return list(names)
    return [
        name
        for name, obj in vars(module).items()
        if not name.startswith("_")
        and (inspect.isclass(obj) or inspect.isfunction(obj))
        and obj.__module__ == module.__name__
    ]


def _is_code(obj) -> bool:
    return inspect.isclass(obj) or inspect.isroutine(obj) or hasattr(obj, "__wrapped__")


def _assigned_at_top(module_name: str) -> dict[str, str | None]:
    """``{name: docstring or None}`` of the module's top-level assignments."""
    source = Path(importlib.import_module(module_name).__file__).read_text(encoding="utf-8")
    body = ast.parse(source).body
    out: dict[str, str | None] = {}
    for i, node in enumerate(body):
        targets = []
        if isinstance(node, ast.Assign):
            for t in node.targets:
                names = t.elts if isinstance(t, ast.Tuple) else [t]
                targets += [n.id for n in names if isinstance(n, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            targets = [node.target.id]
        nxt = body[i + 1] if i + 1 < len(body) else None
        doc = None
        if isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant):
            doc = nxt.value.value if isinstance(nxt.value.value, str) else None
        for name in targets:
            out[name] = doc
    return out


def _public_names() -> dict[str, tuple[object, str]]:
    """``{canonical path: (object, kind)}``, kind ``"code"`` or ``"constant"``."""
    found: dict[str, tuple[object, str]] = {}
    lists = [(m, importlib.import_module(m)) for m in MODULES]
    for module_name, module in lists:
        for name in _exported(module):
            obj = getattr(module, name)
            if _is_code(obj):
                path = f"{obj.__module__}.{obj.__qualname__}"
                found[path] = (obj, "code")
                continue
            defining = next(
                (m for m, _ in lists if name in _assigned_at_top(m)),
                None,
            )
            assert defining is not None, f"{module_name}.{name}: defined in no public module"
            found[f"{defining}.{name}"] = (obj, "constant")
    return found


PUBLIC = _public_names()
HAS_EXAMPLE = re.compile(r">>>|^\s*Examples?:?\s*$", re.M)


def test_the_top_level_lists_are_covered():
    for package in (diffsolvers, solvers, diffsolvers.datasets):
        for name in package.__all__:
            obj = getattr(package, name)
            if _is_code(obj):
                assert f"{obj.__module__}.{obj.__qualname__}" in PUBLIC
    assert len(PUBLIC) > 100


@pytest.mark.parametrize("path", sorted(p for p, (_, k) in PUBLIC.items() if k == "code"))
def test_every_public_class_and_function_has_a_docstring_with_an_example(path):
    obj, _ = PUBLIC[path]
    doc = inspect.getdoc(obj) or ""
    assert doc.strip(), f"{path} has no docstring"
    assert HAS_EXAMPLE.search(doc), f"{path}: its docstring has no example (>>> or Example)"


@pytest.mark.parametrize("path", sorted(p for p, (_, k) in PUBLIC.items() if k == "constant"))
def test_every_public_constant_has_a_docstring(path):
    module, name = path.rsplit(".", 1)
    assert _assigned_at_top(module)[name], f"{path}: add a docstring after the assignment"


def _directives() -> list[tuple[str, dict]]:
    """``(identifier, options)`` of every ``::: identifier`` of the API pages."""
    out = []
    for page in sorted(API.glob("*.md")):
        lines = page.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            match = re.match(r"^:::\s+(\S+)\s*$", line)
            if not match:
                continue
            options: dict = {}
            for follow in lines[i + 1 :]:
                if not follow.startswith("    "):
                    break
                option = re.match(r"^\s+(\w+):\s*(.*)$", follow)
                if option and option.group(2):
                    options[option.group(1)] = option.group(2).strip()
            out.append((match.group(1), options))
    return out


def _rendered() -> set[str]:
    """The canonical paths the API pages render: a module directive renders the module and
    its public names defined there (unless ``members: false``); any other directive renders
    that object."""
    rendered: set[str] = set()
    for identifier, options in _directives():
        try:
            module = importlib.import_module(identifier)
        except ImportError:
            module_name, name = identifier.rsplit(".", 1)
            obj = getattr(importlib.import_module(module_name), name)
            rendered.add(f"{obj.__module__}.{obj.__qualname__}" if _is_code(obj) else identifier)
            continue
        rendered.add(identifier)
        if options.get("members") == "false":
            continue
        for name in _exported(module):
            obj = getattr(module, name)
            if _is_code(obj):
                if obj.__module__ == identifier:
                    rendered.add(f"{identifier}.{obj.__qualname__}")
            elif name in _assigned_at_top(identifier):
                rendered.add(f"{identifier}.{name}")
    return rendered


def test_every_public_name_and_module_appears_in_the_api_reference():
    rendered = _rendered()
    missing = sorted(set(PUBLIC) - rendered)
    assert not missing, f"public names missing from docs/api/*.md: {missing}"
    assert not sorted(set(MODULES) - rendered), "every public module has its directive"


def test_the_docstring_examples_run():
    """The doctests of every public module (and of ``diffsolvers._core``, the docstring
    style's model), in a fresh interpreter: some examples register methods and back ends,
    which must not leak into the other tests."""
    script = textwrap.dedent(
        f"""
        import doctest, importlib, sys
        flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
        failed = attempted = 0
        for name in {[*MODULES, "diffsolvers._core"]!r}:
            result = doctest.testmod(importlib.import_module(name), optionflags=flags)
            failed += result.failed
            attempted += result.attempted
        print(f"doctests: {{attempted}} examples, {{failed}} failed")
        sys.exit(1 if failed or attempted < 100 else 0)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
