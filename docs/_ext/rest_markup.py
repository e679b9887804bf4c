"""A griffe extension: the reST markup of the docstrings, read as Markdown by mkdocstrings.

The docstrings are written in a reST-flavoured Google style (``Args:`` sections, double
backticks, ``:class:`` roles, ``::`` before literal blocks, simple ``====`` tables). Double
backticks already read as code in Markdown; this extension rewrites the rest when a
package is loaded:

* ``:class:`~pkg.mod.Name``` (and ``:func:``, ``:mod:``, ``:meth:``, ``:attr:``, ``:data:``,
  ``:exc:``, ``:obj:``) becomes a cross-reference ``[`Name`][pkg.mod.Name]`` when the
  target is a public object of a documented package (relative names are looked up from the
  docstring's own object outwards, as Sphinx does), and plain code otherwise (private
  helpers, the lab, other libraries, builtins). A wrong target is thus a broken link, which
  the strict build reports;
* ``text::`` before an indented block becomes ``text:`` (the block is code either way);
* a simple reST table becomes a Markdown table.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

#: Packages whose public objects the API reference documents.
DOCUMENTED = ("diffsolvers", "solvers")
#: Parts of those packages that the API reference leaves out (the lab).
UNDOCUMENTED = ("diffsolvers.experiments",)

_ROLE = re.compile(r":(?:class|func|mod|meth|attr|data|exc|obj):`(~?)([^`]+)`")
_RULE = re.compile(r"^(\s*)(=+)((?: +=+)+)\s*$")


def _is_public(path: str) -> bool:
    if not path.startswith(tuple(p + "." for p in DOCUMENTED)) and path not in DOCUMENTED:
        return False
    if path == UNDOCUMENTED or path.startswith(tuple(p + "." for p in UNDOCUMENTED)):
        return False
    return not any(part.startswith("_") for part in path.split("."))


def _lookup(collection: Any, path: str) -> str | None:
    """The canonical path of ``path`` in the loaded packages if the API reference renders
    it (public, with a docstring), ``""`` if it exists but is not rendered, else ``None``."""
    try:
        obj = collection[path]
    except (KeyError, ValueError, griffe.AliasResolutionError, griffe.CyclicAliasError):
        return None
    try:
        target = obj.final_target if obj.is_alias else obj
    except (griffe.AliasResolutionError, griffe.CyclicAliasError):
        return obj.path
    if target.docstring is None or not target.is_public:
        return ""
    return target.path


def _scopes(obj: Any) -> list[str]:
    """The paths a relative name is looked up in: the object, then its parents."""
    scopes = []
    current = obj
    while current is not None:
        scopes.append(current.path)
        current = current.parent
    return scopes


def _resolve(obj: Any, target: str, collection: Any) -> str | None:
    """The identifier ``target`` names from ``obj``'s docstring, or ``None``."""
    if target.startswith("."):
        name = target.lstrip(".")
        module_scopes = [s for s in _scopes(obj.module)]
        candidates = [f"{scope}.{name}" for scope in module_scopes]
    else:
        candidates = [f"{scope}.{target}" for scope in _scopes(obj)] + [target]
    for candidate in candidates:
        found = _lookup(collection, candidate)
        if found is not None:
            return found or None
    top = target.split(".")[0]
    if top in DOCUMENTED and top not in collection:
        return target  # another documented package, not loaded yet: its page resolves it
    return None


def _rewrite_roles(text: str, obj: Any, collection: Any) -> str:
    def replace(match: re.Match) -> str:
        tilde, target = match.groups()
        shown = target.lstrip(".")
        if tilde:
            shown = shown.rsplit(".", 1)[-1]
        resolved = _resolve(obj, target, collection)
        if resolved is not None and _is_public(resolved):
            return f"[`{shown}`][{resolved}]"
        return f"`{shown}`"

    return _ROLE.sub(replace, text)


def _rewrite_literal_markers(text: str) -> str:
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if line.rstrip().endswith("::"):
            stripped = line.rstrip()
            lines[i] = stripped[:-2].rstrip() + ":" if stripped[:-2].strip() else ""
    return "\n".join(lines)


def _table_cells(line: str, bounds: list[tuple[int, int]]) -> list[str]:
    cells = []
    for k, (start, _end) in enumerate(bounds):
        stop = None if k == len(bounds) - 1 else bounds[k + 1][0]
        cells.append(line[start:stop].strip().replace("|", "\\|"))
    return cells


def _rewrite_tables(text: str) -> str:
    """Simple reST tables (a rule, a header row, a rule, rows, a rule) as Markdown tables."""
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        match = _RULE.match(lines[i])
        rules = [j for j in range(i, len(lines)) if _RULE.match(lines[j])][:3]
        if match is None or len(rules) < 3 or rules[1] != i + 2:
            out.append(lines[i])
            i += 1
            continue
        bounds = [(m.start(), m.end()) for m in re.finditer(r"=+", lines[i])]
        header = _table_cells(lines[i + 1], bounds)
        out.append("| " + " | ".join(header) + " |")
        out.append("|" + "---|" * len(header))
        for row in lines[rules[1] + 1 : rules[2]]:
            if row.strip():
                out.append("| " + " | ".join(_table_cells(row, bounds)) + " |")
        i = rules[2] + 1
    return "\n".join(out)


class RestMarkup(griffe.Extension):
    """Rewrite the reST markup of every docstring of a package as Markdown (see above)."""

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        collection = loader.modules_collection
        seen: set[int] = set()

        def visit(obj: Any) -> None:
            if id(obj) in seen or obj.is_alias:
                return
            seen.add(id(obj))
            if obj.docstring is not None:
                text = obj.docstring.value
                text = _rewrite_tables(text)
                text = _rewrite_literal_markers(text)
                text = _rewrite_roles(text, obj, collection)
                obj.docstring.value = text
            for member in obj.members.values():
                visit(member)

        visit(pkg)
