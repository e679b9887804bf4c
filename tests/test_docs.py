"""The documentation site's code runs as written.

* Every fenced Python block of ``docs/**/*.md`` runs, page by page in one namespace (a page's
  blocks build on each other, as a reader runs them). A block may opt out with an HTML
  comment on the line before it, ``<!-- not-run: reason -->``; opted-out blocks are still
  compiled, and are listed and counted by ``test_opted_out_blocks_are_few_and_explained``.
* Every ``diffsolvers ...`` command of the docs and the README parses with the command's own
  argument parser (options and values as the CLI accepts them), without running it.
* Every page of ``docs/`` is in the site's navigation, and every page the navigation names
  exists.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
NOT_RUN = re.compile(r"^<!--\s*not-run:\s*(.+?)\s*-->$")


def _blocks(path: Path, language: str) -> list[tuple[int, str, str | None]]:
    """``(line, code, not-run reason or None)`` of every fenced ``language`` block."""
    lines = path.read_text(encoding="utf-8").splitlines()
    out = []
    i = 0
    while i < len(lines):
        if lines[i].strip() == f"```{language}":
            end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
            previous = lines[i - 1].strip() if i else ""
            match = NOT_RUN.match(previous)
            out.append((i + 1, "\n".join(lines[i + 1 : end]), match.group(1) if match else None))
            i = end
        i += 1
    return out


PAGES = sorted(DOCS.rglob("*.md"))
PYTHON_PAGES = [p for p in PAGES if _blocks(p, "python")]


def _page_id(path: Path) -> str:
    return str(path.relative_to(DOCS))


@pytest.fixture
def thread_settings():
    """Pages may change the thread settings (the threads page does): restore them after."""
    import torch

    from solvers import runtime

    torch_threads, adaptive = torch.get_num_threads(), runtime.adaptive()
    yield
    runtime.adaptive(adaptive)
    runtime.set_threads(None)
    torch.set_num_threads(torch_threads)


@pytest.mark.parametrize("page", PYTHON_PAGES, ids=_page_id)
def test_the_python_blocks_of_a_page_run(page, monkeypatch, thread_settings):
    monkeypatch.chdir(ROOT)  # blocks read the committed sample; they write only to temp dirs
    namespace: dict = {"__name__": f"docs.{_page_id(page)}"}
    for line, code, reason in _blocks(page, "python"):
        compiled = compile(code, f"{_page_id(page)}:{line}", "exec")
        if reason is None:
            exec(compiled, namespace)


def test_opted_out_blocks_are_few_and_explained(capsys):
    opted_out = [
        (f"{_page_id(page)}:{line}", reason)
        for page in PAGES
        for line, _, reason in _blocks(page, "python")
        if reason is not None
    ]
    ran = sum(1 for page in PAGES for *_, reason in _blocks(page, "python") if reason is None)
    with capsys.disabled():
        print(f"\ndocs: {ran} Python blocks run, {len(opted_out)} not run")
        for where, reason in opted_out:
            print(f"  not run: {where}: {reason}")
    assert ran >= 30, "the docs should hold runnable examples"
    assert len(opted_out) <= 5
    assert all(len(reason) >= 10 for _, reason in opted_out), "say why a block is not run"


def _commands(text: str) -> list[str]:
    """The ``diffsolvers ...`` command lines of the bash blocks of ``text`` (continuations
    joined, comments dropped, ``python -m diffsolvers`` and ``torchrun ... -m diffsolvers``
    included)."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            for part in re.split(r"&&|;", line):
                part = part.split("  #")[0].split(" # ")[0].strip()
                part = re.sub(r"^python -m diffsolvers\b", "diffsolvers", part)
                # the launcher's options dropped: torchrun ... -m diffsolvers ARGS
                part = re.sub(r"^(srun .*?)?torchrun .*?-m diffsolvers\b", "diffsolvers", part)
                if part.startswith("diffsolvers "):
                    commands.append(part)
    return commands


PLACEHOLDERS = {"METHOD": "fenchel_young", "S": "0"}
COMMANDS = sorted(
    {
        (str(path.relative_to(ROOT)), command)
        for path in [*PAGES, ROOT / "README.md"]
        for command in _commands(path.read_text(encoding="utf-8"))
    }
)


def test_the_docs_show_commands():
    assert len(COMMANDS) >= 20


@pytest.mark.parametrize(("source", "command"), COMMANDS, ids=lambda v: v[:60])
def test_every_documented_command_parses(source, command):
    from diffsolvers.experiments.cli import build_parser

    argv = shlex.split(command)[1:]
    # shell variables and globs of the results pages stand for run folders
    argv = [re.sub(r"\$\w+|\$\{\w+\}", "runs", a) for a in argv]
    # placeholders of command templates: --method METHOD --seed S
    argv = [PLACEHOLDERS.get(a, a) for a in argv]
    try:
        build_parser().parse_args(argv)
    except SystemExit as exc:
        if exc.code:
            pytest.fail(f"{source}: `{command}` does not parse (exit {exc.code})")


def _nav_pages(node) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, list):
        return [p for item in node for p in _nav_pages(item)]
    if isinstance(node, dict):
        return [p for value in node.values() for p in _nav_pages(value)]
    return []


def test_every_page_is_in_the_navigation_and_every_nav_entry_exists():
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    # mkdocs.yml may hold !!python/name tags (none today); read them as plain strings
    Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda loader, s, node: None)
    config = yaml.load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"), Loader=Loader)
    nav = _nav_pages(config["nav"])
    pages = sorted(_page_id(p) for p in PAGES if "_ext" not in p.parts)
    assert sorted(set(nav)) == sorted(nav), "a page is twice in the navigation"
    missing = sorted(set(nav) - set(pages))
    assert not missing, f"the navigation names pages that do not exist: {missing}"
    orphans = sorted(set(pages) - set(nav))
    assert not orphans, f"pages missing from the navigation in mkdocs.yml: {orphans}"
