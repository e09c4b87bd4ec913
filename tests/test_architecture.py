"""The shape of the code, checked without running it: `ast` walks every module's imports.

- No import circle anywhere in `realtime/` (lazy imports inside functions count too: a circle
  that only closes at run time is still a circle a reader has to untangle).
- Dependencies point one way: commands -> stages -> shared pieces. `LAYERS` gives each top-level
  part of `realtime/` a rank; a module may import only parts of its own rank or lower.
- `realtime` imports no TensorFlow (nor the training or export code); only `realtime/app/` imports
  Qt; only the cluster code imports Ray.
- A private name (`_x`) is never imported from another module (realtime/, train/, export/, tests/).
- No module over `MAX_MODULE_LINES` lines and no class over `MAX_CLASS_LINES`, unless its docstring
  says it is one indivisible thing ("indivisible"), or it is listed in `KNOWN_LARGE` (debt still to
  pay, kept exact: an entry that no longer applies fails too).

Run `python tests/test_architecture.py` for the full picture (graph size, circles, sizes).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ROOT = "deepfake_monitor"
FOLDERS = {"realtime": REPO / "realtime", "train": REPO / "train", "export": REPO / "export"}
MAX_MODULE_LINES = 600
MAX_CLASS_LINES = 250

# Rank of each top-level part of realtime/ (a module or a subpackage): imports go to equal or
# lower ranks only. 0 = shared pieces, 1-4 = the pipeline's stages in order, 5 = things built on
# the whole pipeline (cluster, bench, the app), 6 = the commands.
LAYERS: dict[str, int] = {
    "__init__": 0, "errors": 0, "display_text": 0, "progress": 0, "argtypes": 0,
    "sources": 1,
    "model": 1,
    "faces": 2,
    "analysis": 3,
    "outputs": 4,
    "run_settings": 4, "resume": 4,
    "scan": 5, "watch": 5, "cluster": 5, "bench": 5, "app": 5,
    "log_setup": 5, "commands": 6, "cli": 6, "local_ray": 6,
    # Flat modules still waiting for their stage's package (rank = that stage's).
}

# Modules and classes over the limits that are still to be split: (kind, name) -> why not yet.
KNOWN_LARGE: dict[tuple[str, str], str] = {
}

FORBIDDEN = {
    # import prefix -> where it may appear (path prefixes relative to the repository)
    "tensorflow": (), "keras": (), "tf2onnx": (),
    f"{ROOT}.train": (), f"{ROOT}.export": (),
    "PyQt6": ("realtime/app/",), "pyqtgraph": ("realtime/app/",),
    "ray": ("realtime/cluster/",),
}


def modules(folder: str) -> dict[str, Path]:
    """Dotted name -> file, for every .py under one top-level folder."""
    base = FOLDERS[folder]
    found = {}
    for path in sorted(base.rglob("*.py")):
        if ".venv" in path.parts or "__pycache__" in path.parts:
            continue
        parts = [ROOT, folder, *path.relative_to(base).with_suffix("").parts]
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def imports(name: str, path: Path) -> Iterator[tuple[str, list[str], int]]:
    """(imported module, names taken from it, line) for every import statement, lazy ones too."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = name if is_package(path) else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, [], node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            yield target, [alias.name for alias in node.names], node.lineno


def graph(known: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the in-project modules it imports (`from pkg import mod` counts as mod)."""
    edges: dict[str, set[str]] = {name: set() for name in known}
    for name, path in known.items():
        for target, names, _ in imports(name, path):
            hits = [f"{target}.{n}" for n in names if f"{target}.{n}" in known]
            if hits:
                edges[name].update(hits)
            elif target in known and target != name:
                edges[name].add(target)
    return edges


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return sorted(found)


def part(name: str) -> str:
    """The top-level part of realtime/ a module belongs to."""
    rest = name.split(".")[2:]
    return rest[0] if rest else "__init__"


def layer_violations(edges: dict[str, set[str]]) -> list[str]:
    problems = []
    for name, targets in sorted(edges.items()):
        if part(name) not in LAYERS:
            problems.append(f"{name}: its part {part(name)!r} has no rank in LAYERS")
            continue
        for target in sorted(targets):
            if part(target) == part(name) or part(target) not in LAYERS:
                continue
            if LAYERS[part(target)] > LAYERS[part(name)]:
                problems.append(f"{name} (rank {LAYERS[part(name)]}) imports {target} "
                                f"(rank {LAYERS[part(target)]})")
    return problems


def rel(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


def forbidden_imports(known: dict[str, Path]) -> list[str]:
    problems = []
    for name, path in known.items():
        for target, _, line in imports(name, path):
            for prefix, allowed in FORBIDDEN.items():
                inside = target == prefix or target.startswith(prefix + ".")
                if inside and not any(rel(path).startswith(a) for a in allowed):
                    problems.append(f"{rel(path)}:{line} imports {target}")
    return sorted(problems)


def private_imports() -> list[str]:
    everything: dict[str, Path] = {}
    for folder in FOLDERS:
        everything.update(modules(folder))
    for path in sorted((REPO / "tests").glob("*.py")):
        everything[f"tests.{path.stem}"] = path
    problems = []
    for name, path in everything.items():
        for target, names, line in imports(name, path):
            if not target.startswith(ROOT):
                continue
            for taken in names:
                if taken.startswith("_") and not taken.startswith("__"):
                    problems.append(f"{rel(path)}:{line} imports {taken} from {target}")
    return problems


def top_level_names(path: Path) -> set[str]:
    """Names a module defines or imports at its top level (where `from m import x` finds x)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def unresolved_imports() -> list[str]:
    """In-project imports (lazy ones too, which no test may run) of a module or a name that is
    not there: what a move that missed one import leaves behind."""
    everything: dict[str, Path] = {}
    for folder in FOLDERS:
        everything.update(modules(folder))
    sources = dict(everything)
    for path in sorted((REPO / "tests").glob("*.py")):
        sources[f"tests.{path.stem}"] = path
    problems = []
    for name, path in sources.items():
        for target, names, line in imports(name, path):
            if not target.startswith(f"{ROOT}.") or target == f"{ROOT}.assets":
                continue
            if target not in everything:
                problems.append(f"{rel(path)}:{line}: no module {target}")
                continue
            defined = top_level_names(everything[target])
            for taken in names:
                if taken != "*" and taken not in defined and f"{target}.{taken}" not in everything:
                    problems.append(f"{rel(path)}:{line}: {target} has no {taken}")
    return problems


def oversized() -> dict[tuple[str, str], int]:
    """(kind, name) -> lines, for modules and classes over the limits whose docstring does not
    call them indivisible."""
    found = {}
    for path in sorted(modules("realtime").values()):
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
        lines = len(text.splitlines())
        doc = ast.get_docstring(tree) or ""
        if lines > MAX_MODULE_LINES and "indivisible" not in doc:
            found[("module", rel(path))] = lines
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                size = (node.end_lineno or node.lineno) - node.lineno + 1
                if size > MAX_CLASS_LINES and "indivisible" not in (ast.get_docstring(node) or ""):
                    found[("class", f"{rel(path)}:{node.name}")] = size
    return found


def realtime_graph() -> dict[str, set[str]]:
    return graph(modules("realtime"))


def test_no_import_circle() -> None:
    assert circles(realtime_graph()) == []


def test_dependencies_point_one_way() -> None:
    assert layer_violations(realtime_graph()) == []


def test_no_forbidden_import() -> None:
    assert forbidden_imports(modules("realtime")) == []


def test_no_private_name_imported_from_another_module() -> None:
    assert private_imports() == []


def test_every_project_import_resolves() -> None:
    assert unresolved_imports() == []


def test_no_oversized_module_or_class_beyond_the_known_ones() -> None:
    found = oversized()
    assert sorted(set(found) - set(KNOWN_LARGE)) == [], "new oversized module or class"
    assert sorted(set(KNOWN_LARGE) - set(found)) == [], "KNOWN_LARGE lists one now in bounds"


def test_the_walk_sees_lazy_and_relative_imports() -> None:
    edges = realtime_graph()
    assert f"{ROOT}.realtime.errors" in edges[f"{ROOT}.realtime.cli"]
    # cli imports the app only inside a function: the walk still sees it.
    assert any(t.startswith(f"{ROOT}.realtime.app") for t in edges[f"{ROOT}.realtime.cli"])


def main() -> int:
    edges = realtime_graph()
    print(f"realtime/: {len(edges)} modules, {sum(map(len, edges.values()))} import edges")
    found = circles(edges)
    print(f"import circles: {len(found)}")
    for component in found:
        short = [n.removeprefix(f"{ROOT}.realtime.") for n in component]
        print("  one knot: " + ", ".join(short))
        for a in component:
            for b in component:
                if a < b and b in edges[a] and a in edges[b]:
                    print(f"    {a.removeprefix(f'{ROOT}.realtime.')} <-> "
                          f"{b.removeprefix(f'{ROOT}.realtime.')}")
    for title, problems in (("upward imports", layer_violations(edges)),
                            ("forbidden imports", forbidden_imports(modules("realtime"))),
                            ("private names imported", private_imports()),
                            ("unresolved imports", unresolved_imports())):
        print(f"{title}: {len(problems)}")
        for problem in problems:
            print("  " + problem)
    sizes = oversized()
    print(f"over {MAX_MODULE_LINES} lines (modules) / {MAX_CLASS_LINES} (classes): {len(sizes)}")
    for (kind, name), lines in sorted(sizes.items()):
        print(f"  {kind} {name}: {lines}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
