"""Architecture contracts, read from the source with ``ast``: module size, no import circles,
no two-way ties between packages."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "cappuccino_ray"
MAX_LINES = 500


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, name: str) -> set[str]:
    """Every project module ``path`` imports, at module level or inside functions."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_pkg = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("cappuccino_ray")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = name.split(".") if is_pkg else name.split(".")[:-1]
                pkg = pkg[: len(pkg) - (node.level - 1)]
                base = ".".join([*pkg, base] if base else pkg)
            if base.startswith("cappuccino_ray"):
                out.add(base)
                out |= {f"{base}.{a.name}" for a in node.names}
    return out


MODULES = {_module_name(p): p for p in ROOT.rglob("*.py")}
GRAPH = {m: {i for i in _imports(p, m) if i in MODULES and i != m} for m, p in MODULES.items()}


def _package(module: str) -> str:
    """The domain a module belongs to: ``cappuccino_ray.<first part>``."""
    parts = module.split(".")
    return ".".join(parts[:2])


def test_no_module_over_500_lines() -> None:
    long = {m: n for m, p in MODULES.items() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def two_way_ties(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """Pairs of packages that import each other (in any of their modules)."""
    ties: dict[str, set[str]] = defaultdict(set)
    for mod, deps in graph.items():
        for dep in deps:
            if _package(mod) != _package(dep) and mod != "cappuccino_ray":
                ties[_package(mod)].add(_package(dep))
    return sorted((a, b) for a in ties for b in ties[a] if a < b and a in ties.get(b, set()))


def circle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of ``graph``, or ``None``."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for d in sorted(graph[m]):
            if state.get(d) == 1:
                return [*stack[stack.index(d) :], d]
            if d not in state and (found := visit(d)):
                return found
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (found := visit(m)):
            return found
    return None


def test_no_two_way_ties_between_packages() -> None:
    assert two_way_ties(GRAPH) == []


def test_no_import_circles_between_modules() -> None:
    # Package __init__ files re-export their modules (a facade), so circles are checked
    # between plain modules.
    plain = {m for m, p in MODULES.items() if p.name != "__init__.py"}
    found = circle({m: {d for d in GRAPH[m] if d in plain} for m in plain})
    assert found is None, "import circle: " + " -> ".join(found or [])


def test_the_checkers_find_what_they_look_for(tmp_path: Path) -> None:
    # A tree with the two faults this module guards against: search <-> report, and a circle.
    pkg = tmp_path / "cappuccino_ray"
    for sub, text in {
        "search/run.py": "from cappuccino_ray.report import html\n",
        "report/html.py": "def f():\n    from cappuccino_ray.search.run import x\n",
        "env/a.py": "from cappuccino_ray.env import b\n",
        "env/b.py": "from . import a\n",
    }.items():
        (pkg / sub).parent.mkdir(parents=True, exist_ok=True)
        (pkg / sub).write_text(text)
    names = {".".join(p.relative_to(tmp_path).with_suffix("").parts): p for p in pkg.rglob("*.py")}
    graph = {m: {i for i in _imports(p, m) if i in names and i != m} for m, p in names.items()}
    assert two_way_ties(graph) == [("cappuccino_ray.report", "cappuccino_ray.search")]
    assert circle(graph) == ["cappuccino_ray.env.a", "cappuccino_ray.env.b", "cappuccino_ray.env.a"]
