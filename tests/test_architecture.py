"""The package's shape, checked on its source with ``ast`` (nothing here runs optscan).

* The import graph of ``src/optscan`` has no cycle. Every import counts, function-level
  ones included, except those under ``if TYPE_CHECKING:``; relative imports are
  resolved, ``from a.b import c`` is an import of module ``a.b.c`` when there is one,
  and ``from optscan import X`` one of the module ``optscan.__getattr__`` loads X from.
* No module is over 400 lines.
* Imports flow one way: the core (analytics, models, chain, errors, secrets, config)
  never reaches the scan, the queue or the command line; the scan never reaches the
  queue or the command line; the queue never reaches the command line; and
  ``optscan.queue.connection`` uses nothing else of ``optscan.queue``. "Reaches"
  follows imports through other modules too; a failure shows the chain.
* The public API: every name in ``optscan.__all__`` resolves, ``import optscan`` alone
  loads neither pydantic nor numpy, and the docs' examples import public names only.
* The plugins in ``plugins/`` (sources and tests) import nothing from optscan but
  the root's public names, and neither they nor ``optscan.default_plugins`` silence the
  type checker with ``type: ignore``.
"""

from __future__ import annotations

import ast
import importlib
import io
import itertools
import re
import subprocess
import sys
import tokenize
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .helpers import REPO

SRC = REPO / "src"
PLUGINS = REPO / "plugins"
DOCS = [REPO / "README.md", REPO / "docs" / "plugins.md"]

MAX_LINES = 400
BEING_SPLIT: set[str] = set()
"""Modules being split by a change in flight (an allow-list for work in flight only,
never for a module that is simply long)."""

CORE = ["optscan.analytics", "optscan.models", "optscan.chain"]
CORE += ["optscan.errors", "optscan.secrets", "optscan.config"]
ONE_WAY = [
    # (modules under these, must never reach any of these)
    (CORE, ["optscan.scan", "optscan.queue", "optscan.cli"]),
    (["optscan.scan"], ["optscan.queue", "optscan.cli"]),
    (["optscan.queue"], ["optscan.cli"]),
    (["optscan.queue.connection"], ["optscan.queue"]),
    ([*CORE, "optscan.scan", "optscan.queue"], ["optscan.rolls"]),
    (["optscan.rolls"], ["optscan.queue", "optscan.cli"]),
    (["optscan.web"], ["optscan.cli"]),
]


# --------------------------------------------------------------------------- the import graph


@dataclass(frozen=True)
class Import:
    """One import statement's target, as a dotted name, and where it is."""

    target: str  # "a.b" for `import a.b` and `from a.b import c` (c in `names`)
    names: tuple[str, ...]  # what `from ... import` takes; () for `import a.b`
    line: int


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(tree: ast.AST, package: str, *, type_checking: bool = False) -> Iterator[Import]:
    """Every import in ``tree``, at any depth, relative ones resolved against
    ``package`` (the module's own package: itself for an ``__init__``). Imports under
    ``if TYPE_CHECKING:`` only with ``type_checking``."""
    todo: list[ast.AST] = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test) and not type_checking:
            todo.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(alias.name, (), node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = parts[: len(parts) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            yield Import(target, tuple(a.name for a in node.names), node.lineno)
        todo.extend(ast.iter_child_nodes(node))


def modules_under(src: Path, top: str) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package ``top`` in ``src``."""
    found = {}
    for path in sorted((src / top).rglob("*.py")):
        parts = path.relative_to(src).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def import_graph(
    src: Path, top: str, lazy: dict[str, str] | None = None
) -> dict[str, dict[str, int]]:
    """module -> {module it imports: first line}, for the modules of ``top`` only.
    ``lazy`` maps names of the root that its ``__getattr__`` loads to their modules."""
    modules = modules_under(src, top)
    graph: dict[str, dict[str, int]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges: dict[str, int] = {}
        for imp in imports_of(ast.parse(path.read_text(encoding="utf-8"), str(path)), package):
            for target in _targets(imp, modules, top, lazy or {}):
                if target != name:
                    edges[target] = min(edges.get(target, imp.line), imp.line)
        graph[name] = edges
    return graph


def _targets(imp: Import, modules: dict[str, Path], top: str, lazy: dict[str, str]):
    """The modules of ``modules`` that ``imp`` loads (the nearest known parent of a
    name that is not a module: ``from a.b import Class`` is module ``a.b``)."""
    wanted = [imp.target]
    if imp.names:
        wanted = []
        for name in imp.names:
            if f"{imp.target}.{name}" in modules:
                wanted.append(f"{imp.target}.{name}")
            elif imp.target == top and name in lazy:
                wanted.append(lazy[name])
            else:
                wanted.append(imp.target)
    for target in wanted:
        while target not in modules and "." in target:
            target = target.rpartition(".")[0]
        if target in modules:
            yield target


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """One cycle (``[a, b, ..., a]``) per strongly connected group of modules."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, {}):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    found = []
    for group in groups:
        start = min(group)
        path = _path(graph, start, lambda m, s=start: m == s, within=set(group))
        found.append(path or [start, "?", start])
    return found


def _path(graph, start: str, goal, within: set[str] | None = None) -> list[str] | None:
    """The shortest chain of imports from ``start`` to a module for which ``goal`` holds
    (at least one step)."""
    parent: dict[str, str] = {}
    queue = deque([start])
    seen: set[str] = set()
    while queue:
        node = queue.popleft()
        for nxt in sorted(graph.get(node, {})):
            if within is not None and nxt not in within:
                continue
            if goal(nxt):
                chain = [nxt, node]
                while chain[-1] != start:
                    chain.append(parent[chain[-1]])
                return chain[::-1]
            if nxt not in seen:
                seen.add(nxt)
                parent[nxt] = node
                queue.append(nxt)
    return None


def _show(graph: dict[str, dict[str, int]], chain: list[str]) -> str:
    steps = [f"{a} (line {graph[a][b]}) -> {b}" for a, b in itertools.pairwise(chain)]
    return "\n    ".join(steps)


def _under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


@pytest.fixture(scope="module")
def graph() -> dict[str, dict[str, int]]:
    import optscan

    # the root loads public names on first use: `from optscan import X` loads X's module
    return import_graph(SRC, "optscan", lazy=dict(optscan._API))


# --------------------------------------------------------------------------- the checker itself


def test_the_graph_checker_sees_what_it_must(tmp_path: Path) -> None:
    """On a package made for it: relative, function-level and `from pkg import module`
    imports are edges, TYPE_CHECKING ones are not, and a cycle is found and shown."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "",
        "a.py": "from . import b\nfrom typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from pkg import c\nelse:\n    import pkg.sub\n",
        "b.py": "def f():\n    from .sub.d import thing\n",
        "c.py": "import os\nfrom pkg.a import x\n",
        "sub/__init__.py": "from pkg.sub import d\n",
        "sub/d.py": "from ..c import y\nthing = 1\n",
    }
    for name, text in files.items():
        (pkg / name).write_text(text, encoding="utf-8")
    found = import_graph(tmp_path, "pkg")
    assert {k: sorted(v) for k, v in found.items()} == {
        "pkg": [],
        "pkg.a": ["pkg.b", "pkg.sub"],
        "pkg.b": ["pkg.sub.d"],
        "pkg.c": ["pkg.a"],
        "pkg.sub": ["pkg.sub.d"],
        "pkg.sub.d": ["pkg.c"],
    }
    assert cycles(found) == [["pkg.a", "pkg.b", "pkg.sub.d", "pkg.c", "pkg.a"]]
    assert _path(found, "pkg.sub", lambda m: m == "pkg.b") == [
        "pkg.sub",
        "pkg.sub.d",
        "pkg.c",
        "pkg.a",
        "pkg.b",
    ]


def test_the_graph_covers_the_package(graph: dict[str, dict[str, int]]) -> None:
    """A walker that found nothing would pass every rule below."""
    assert len(graph) >= 50
    assert "optscan.hookspecs" in graph["optscan.plugins"]  # `from optscan import hookspecs`
    assert "optscan.cli.app" in graph["optscan.cli"]
    assert sum(len(edges) for edges in graph.values()) >= 150


# --------------------------------------------------------------------------- rules


def test_the_import_graph_has_no_cycle(graph: dict[str, dict[str, int]]) -> None:
    found = cycles(graph)
    shown = "\n".join(f"  {' -> '.join(cycle)}\n    {_show(graph, cycle)}" for cycle in found)
    assert not found, f"import cycles in src/optscan:\n{shown}"


def test_no_module_is_over_400_lines() -> None:
    sizes = {
        path.relative_to(SRC).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
        for path in SRC.joinpath("optscan").rglob("*.py")
    }
    long = {name: n for name, n in sorted(sizes.items()) if n > MAX_LINES}
    assert set(long) - BEING_SPLIT == set(), f"modules over {MAX_LINES} lines: {long}"
    assert set(sizes) >= BEING_SPLIT, "a module in BEING_SPLIT is gone: drop its entry"


@pytest.mark.parametrize(
    ("sources", "forbidden"),
    ONE_WAY,
    ids=[f"{'+'.join(s)} -/-> {'+'.join(f)}" for s, f in ONE_WAY],
)
def test_imports_flow_one_way(
    graph: dict[str, dict[str, int]], sources: list[str], forbidden: list[str]
) -> None:
    broken = []
    for module in sorted(graph):
        if not any(_under(module, s) for s in sources):
            continue

        chain = _path(graph, module, lambda t: any(_under(t, f) for f in forbidden))
        if chain:
            broken.append(f"  {module} reaches {chain[-1]}:\n    {_show(graph, chain)}")
    assert not broken, "imports against the flow:\n" + "\n".join(broken)


# --------------------------------------------------------------------------- the public API


def test_every_public_name_resolves() -> None:
    import optscan

    missing = [name for name in optscan.__all__ if not hasattr(optscan, name)]
    assert missing == []
    assert len(set(optscan.__all__)) == len(optscan.__all__)


def test_import_optscan_loads_neither_pydantic_nor_numpy() -> None:
    code = (
        "import sys, optscan\n"
        "optscan.__version__\n"
        "print(sorted(m for m in ('pydantic', 'numpy') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


_FENCE = re.compile(r"^\s*(```|~~~)")


def code_blocks(path: Path) -> Iterator[tuple[int, str]]:
    """(line number of the block's first line, text) of every fenced block."""
    lines = path.read_text(encoding="utf-8").splitlines()
    start = None
    for number, line in enumerate(lines, 1):
        if _FENCE.match(line):
            if start is None:
                start = number + 1
            else:
                yield start, "\n".join(lines[start - 1 : number - 1])
                start = None


_FROM_LINE = re.compile(r"^[ \t]*from[ \t]+([\w.]+)[ \t]+import[ \t]+(\([^)]*\)|[^\n#]+)", re.M)
_IMPORT_LINE = re.compile(r"^[ \t]*import[ \t]+([\w.]+)", re.M)


def doc_imports(path: Path) -> Iterator[tuple[int, Import]]:
    """(line, import) of every import of optscan in the code blocks of ``path``."""
    for first, text in code_blocks(path):
        try:
            found = [(imp.line, imp) for imp in imports_of(ast.parse(text), "", type_checking=True)]
        except SyntaxError:  # an example with "..." or prose in it: read it line by line
            found = []
            for match in _FROM_LINE.finditer(text):
                names = match.group(2).strip("() \n").replace("\n", " ")
                names_t = tuple(n.split(" as ")[0].strip() for n in names.split(","))
                line = text.count("\n", 0, match.start()) + 1
                found.append((line, Import(match.group(1), tuple(n for n in names_t if n), line)))
            for match in _IMPORT_LINE.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                found.append((line, Import(match.group(1), (), line)))
        for line, imp in sorted(found, key=lambda item: item[0]):
            if _under(imp.target, "optscan"):
                yield first + line - 1, imp


def _doc_import_text(path: Path, line: int, imp: Import) -> str:
    what = f"from {imp.target} import {', '.join(imp.names)}" if imp.names else imp.target
    return f"{path.relative_to(REPO)}:{line}: {what}"


def test_the_docs_examples_use_only_public_names() -> None:
    """``from optscan import ...`` gives everything the docs' examples use, whichever
    path they import it from today."""
    import optscan

    public = set(optscan.__all__)
    seen = [(path, line, imp) for path in DOCS for line, imp in doc_imports(path)]
    assert seen, "no import of optscan found in the docs: is the parser blind?"
    private = [
        f"{_doc_import_text(path, line, imp)} ({', '.join(sorted(set(imp.names) - public))})"
        for path, line, imp in seen
        if imp.names and set(imp.names) - public
    ]
    assert private == [], "the docs use names optscan does not export:\n" + "\n".join(private)


def test_the_docs_examples_import_from_the_root() -> None:
    internal = [
        _doc_import_text(path, line, imp)
        for path in DOCS
        for line, imp in doc_imports(path)
        if imp.target != "optscan"
    ]
    assert internal == [], "docs importing internal paths:\n" + "\n".join(internal)


# --------------------------------------------------------------------------- the plugins


def _python_files(*folders: Path) -> list[Path]:
    return sorted(p for folder in folders for p in folder.rglob("*.py") if p.is_file())


PLUGIN_FILES = _python_files(*PLUGINS.glob("*/src"), *PLUGINS.glob("*/tests"))


def internal_uses(path: Path, public: set[str]) -> list[str]:
    """How ``path`` reaches into optscan past its public root, by line: imports of
    submodules, root names not in ``__all__``, ``import_module``/``__import__`` of one."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found: list[tuple[int, str]] = []
    for imp in imports_of(tree, "", type_checking=True):
        if imp.target == "optscan":
            hidden = [n for n in imp.names if n not in public]
            if hidden:
                found.append((imp.line, f"from optscan import {', '.join(hidden)} (not public)"))
        elif _under(imp.target, "optscan"):
            what = f"from {imp.target} import {', '.join(imp.names)}" if imp.names else imp.target
            found.append((imp.line, what if imp.names else f"import {what}"))
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and node.args):
            continue
        func = node.func
        loader = (isinstance(func, ast.Attribute) and func.attr == "import_module") or (
            isinstance(func, ast.Name) and func.id in ("import_module", "__import__")
        )
        arg = node.args[0]
        if loader and isinstance(arg, ast.Constant) and str(arg.value).startswith("optscan."):
            found.append((node.lineno, f"imports {arg.value!r} by name"))
    return [f"line {line}: {what}" for line, what in sorted(found)]


def test_the_plugins_are_found() -> None:
    names = {p.relative_to(PLUGINS).parts[0] for p in PLUGIN_FILES}
    assert {"optscan-marketdata", "optscan-notify", "optscan-valuation"} <= names


@pytest.mark.parametrize("path", PLUGIN_FILES, ids=lambda p: p.relative_to(PLUGINS).as_posix())
def test_plugins_import_only_optscans_public_root(path: Path) -> None:
    """A plugin (and its tests) uses what ``from optscan import ...`` gives: the same
    API a third-party plugin has, so a refactoring of the core cannot break it."""
    import optscan

    found = internal_uses(path, set(optscan.__all__))
    assert found == [], f"{path.relative_to(REPO)} reaches past `optscan`:\n  " + "\n  ".join(found)


def _type_ignores(path: Path) -> Iterator[int]:
    source = path.read_text(encoding="utf-8")
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT and re.search(r"type:\s*ignore", token.string):
            yield token.start[0]


def test_no_type_ignore_in_the_plugins_or_the_default_plugins() -> None:
    files = _python_files(PLUGINS, SRC / "optscan" / "default_plugins")
    assert len(files) > 10
    found = [f"{p.relative_to(REPO)}:{line}" for p in files for line in _type_ignores(p)]
    assert found == [], "`type: ignore` comments: " + ", ".join(found)


def test_the_lazy_root_names_are_the_public_names() -> None:
    """What the graph takes for `from optscan import X` is what the root loads."""
    import optscan

    lazy = dict(optscan._API)
    assert set(lazy) == set(optscan.__all__) - {"__version__"}
    for name, module in lazy.items():
        assert getattr(importlib.import_module(module), name) is getattr(optscan, name)
