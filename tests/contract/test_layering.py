"""Dependencies point one way: the shared core (`arena/`) imports only itself; the runner and the
leaderboard import the core and themselves, never each other; the bot and the local tools
(`workshop/`: `arena demo`, `arena init`) may import everything. And no two modules import each
other, at module level or inside a function.

Every import counts: at module level, inside a function, and a module named by a string literal
given to `importlib.import_module` or `__import__`. The command line is composed from entry
points in pyproject.toml (group `arena.commands`), so that no package has to import a front end
to offer its commands."""

from __future__ import annotations

import ast
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# Which first-party packages each package may import (itself included).
ALLOWED: dict[str, frozenset[str]] = {
    "arena": frozenset({"arena"}),
    "runner": frozenset({"arena", "runner"}),
    "leaderboard": frozenset({"arena", "leaderboard"}),
    "bot": frozenset({"arena", "runner", "leaderboard", "bot"}),
    "workshop": frozenset({"arena", "runner", "leaderboard", "bot", "workshop"}),
}
PACKAGES = tuple(ALLOWED)


@dataclass(frozen=True)
class Import:
    source: str       # importing module, dotted
    target: str       # imported module, dotted (the deepest part that is a module of ours)
    file: str         # path relative to the repository
    line: int
    runtime: bool     # False under `if TYPE_CHECKING:`: a dependency, but no cycle at run time


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in sorted((REPO / pkg).rglob("*.py")):
            out[module_name(path)] = path
    return out


MODULES = all_modules()


def resolve(name: str) -> str:
    """The deepest module of ours that `name` names (`runner.prompts.Prompt` -> `runner.prompts`)."""
    parts = name.split(".")
    while parts and ".".join(parts) not in MODULES:
        parts.pop()
    return ".".join(parts) if parts else name


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(module: str, path: Path, text: str | None = None) -> list[Import]:
    if text is None:
        text = path.read_text(encoding="utf-8")
    tree = ast.parse(text, filename=str(path))
    rel = str(path.relative_to(REPO))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[Import] = []

    def add(name: str, node: ast.AST, runtime: bool) -> None:
        found.append(Import(module, name, rel, node.lineno, runtime))

    def visit(node: ast.AST, runtime: bool) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, False)
            for child in node.orelse:
                visit(child, runtime)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(resolve(alias.name), node, runtime)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)] if node.level > 1 else base
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            for alias in node.names:
                add(resolve(f"{stem}.{alias.name}"), node, runtime)
        elif isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in ("import_module", "__import__") and node.args and isinstance(
                    node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                add(resolve(node.args[0].value), node, runtime)
        for child in ast.iter_child_nodes(node):
            visit(child, runtime)

    visit(tree, True)
    if any(isinstance(n, (ast.Attribute, ast.Name)) and getattr(n, "attr", getattr(n, "id", ""))
           == "import_module" for n in ast.walk(tree)):
        # A module that imports by name: every string naming a module of ours is an import
        # (a table of module names handed to import_module in a loop).
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and (
                    node.value in MODULES):
                add(node.value, node, True)
    seen, out = set(), []
    for i in found:
        if i.target.split(".")[0] in PACKAGES and i.target != module and i not in seen:
            seen.add(i)
            out.append(i)
    return out


def all_imports() -> list[Import]:
    return [i for m, p in MODULES.items() for i in imports_of(m, p)]


def direction_violations(imports: list[Import]) -> list[str]:
    out = []
    for i in imports:
        src, dst = i.source.split(".")[0], i.target.split(".")[0]
        if dst not in ALLOWED[src]:
            may = ", ".join(sorted(ALLOWED[src]))
            out.append(f"{i.file}:{i.line}: {i.source} imports {i.target}, but {src}/ may "
                       f"import only {may}")
    return out


def import_cycles(imports: list[Import]) -> list[str]:
    """Each strongly connected set of modules, as one cycle through it with file:line."""
    edges: dict[str, dict[str, Import]] = {}
    for i in imports:
        if i.runtime and i.target in MODULES:
            edges.setdefault(i.source, {}).setdefault(i.target, i)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def strongconnect(v: str) -> None:  # Tarjan; the tree is small enough for recursion
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, {}):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                components.append(sorted(comp))

    for v in sorted(MODULES):
        if v not in index:
            strongconnect(v)

    out = []
    for comp in components:
        members = set(comp)
        # A shortest way back to the start, breadth first, inside the component.
        start = comp[0]
        prev: dict[str, str] = {}
        frontier = [start]
        while frontier and start not in prev:
            nxt = []
            for v in frontier:
                for w in edges.get(v, {}):
                    if w in members and w not in prev:
                        prev[w] = v
                        nxt.append(w)
            frontier = nxt
        path = [start]
        while True:
            v = prev[path[-1]]
            path.append(v)
            if v == start:
                break
        path.reverse()
        steps = [f"{edges[a][b].file}:{edges[a][b].line} ({a} -> {b})"
                 for a, b in zip(path, path[1:])]
        out.append(f"import cycle among {', '.join(comp)}: " + "; ".join(steps))
    return out


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_point_one_way(package):
    bad = direction_violations([i for i in all_imports() if i.source.split(".")[0] == package])
    assert not bad, "imports against the direction:\n" + "\n".join(bad)


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycles(package):
    cycles = [c for c in import_cycles(all_imports())
              if c.removeprefix("import cycle among ").startswith(package + ".")
              or c.removeprefix("import cycle among ") == package]
    assert not cycles, "\n".join(cycles)


def test_every_package_has_a_rule():
    found = {p.parent.name for p in REPO.glob("*/__init__.py")} - {"tests", "scripts", "docs"}
    assert found <= set(ALLOWED), (f"packages without a layering rule in {__file__}: "
                                   f"{sorted(found - set(ALLOWED))}")


def test_the_checker_catches_what_it_must(monkeypatch):
    """Each kind of import the rules cover is found: module level, in a function, a string given
    to importlib.import_module, relative; and a cycle through deferred imports."""
    pkg = REPO / "arena"
    src = ("import runner.bench\n"
           "def f():\n"
           "    from leaderboard import ranking\n"
           "    import importlib\n"
           "    importlib.import_module('bot.cli')\n"
           "COMMANDS = ('leaderboard.cli',)\n")
    path = pkg / "_layering_probe.py"
    bad = direction_violations(imports_of("arena._layering_probe", path, src))
    assert [b.split(": ")[0] for b in bad] == ["arena/_layering_probe.py:1",
                                                "arena/_layering_probe.py:3",
                                                "arena/_layering_probe.py:5",
                                                "arena/_layering_probe.py:6"]
    assert "runner.bench" in bad[0] and "leaderboard.ranking" in bad[1] and "bot.cli" in bad[2]
    assert "leaderboard.cli" in bad[3]

    a = Import("arena.a", "arena.b", "arena/a.py", 3, True)
    b = Import("arena.b", "arena.a", "arena/b.py", 9, True)
    monkeypatch.setitem(MODULES, "arena.a", Path("a"))
    monkeypatch.setitem(MODULES, "arena.b", Path("b"))
    cycles = import_cycles([a, b])
    assert cycles == ["import cycle among arena.a, arena.b: arena/a.py:3 (arena.a -> arena.b); "
                      "arena/b.py:9 (arena.b -> arena.a)"]
    assert import_cycles([a, Import("arena.b", "arena.a", "arena/b.py", 9, False)]) == []


def test_the_commands_are_composed_in_pyproject():
    """`arena COMMAND` reaches every package's commands through the entry points that
    pyproject.toml declares; each names a module with a register function."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    group = project["project"]["entry-points"]["arena.commands"]
    assert project["project"]["scripts"]["arena"] == "arena.cli:main"
    for name, target in group.items():
        module, _, attr = target.partition(":")
        assert module in MODULES, f"entry point {name} names {module}, which is not a module"
        tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
        assert attr in {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}, (
            f"entry point {name}: {module} has no function {attr}")


def test_a_checkout_reads_its_own_commands_and_an_empty_install_says_what_to_do(
        monkeypatch, capsys):
    from arena import cli

    names = [ep.name for ep in cli.command_entry_points()]
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert names == sorted(project["project"]["entry-points"]["arena.commands"])

    # Installed without its metadata's entry points (no checkout beside it): a clear error.
    monkeypatch.setattr(cli, "CHECKOUT_PYPROJECT", REPO / "no-such-pyproject.toml")
    monkeypatch.setattr(cli, "entry_points", lambda group: [])
    assert cli.main(["validate"]) == 3
    assert "no commands are installed" in capsys.readouterr().err
