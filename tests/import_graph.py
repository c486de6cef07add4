"""A package's import graph, read from its source with ``ast`` (the package is not imported).

Every ``import`` and ``from ... import`` statement counts, wherever it stands: at the top of a
module, inside a function (a lazy import is a dependency too), under ``if TYPE_CHECKING:`` or in
a ``try``. Not seen: imports made by ``importlib.import_module`` or ``__import__`` with a computed
name, and the implicit import of a module's parent packages (``import a.b.c`` runs ``a`` and
``a.b`` first); neither is a dependency written in the importing module.

The rules on the graph (layers, circles, shadowed submodules) are small functions below, so the
tests can run them on the real package and on a made-up one that breaks them.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Import:
    """One dependency: module ``importer`` (file ``path``, line ``line``) imports ``target``.

    ``target`` is an absolute dotted name: a module of the package when the import reaches into
    it, else the name as written (``numpy``, ``collections.abc``)."""

    importer: str
    target: str
    path: Path
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.importer} imports {self.target}"


@dataclass(frozen=True)
class ImportGraph:
    """The modules of one package (dotted name -> file) and every import they make."""

    package: str
    modules: Mapping[str, Path]
    imports: tuple[Import, ...]

    def internal(self) -> list[Import]:
        """The imports whose target is a module of the package."""
        return [imp for imp in self.imports if imp.target in self.modules]

    def external(self) -> list[Import]:
        """The imports of anything outside the package (standard library, third party)."""
        return [imp for imp in self.imports if imp.target not in self.modules]

    def edges(self) -> dict[str, set[str]]:
        """Module -> the package's modules it imports (every module is a key)."""
        edges: dict[str, set[str]] = {module: set() for module in self.modules}
        for imp in self.internal():
            edges[imp.importer].add(imp.target)
        return edges


def find_modules(package_dir: Path) -> dict[str, Path]:
    """Every module of the package in ``package_dir``, by dotted name: each ``.py`` file, a
    package's ``__init__.py`` standing for the package itself."""
    modules: dict[str, Path] = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def resolve(name: str, modules: Mapping[str, Path], package: str) -> str:
    """The module an absolute dotted ``name`` denotes: ``name`` itself when it is a module, else
    (inside the package) its longest prefix that is one (``pkg.Class`` -> ``pkg``); a name
    outside the package is returned unchanged."""
    if name in modules or not (name == package or name.startswith(package + ".")):
        return name
    while name not in modules and "." in name:
        name = name.rpartition(".")[0]
    return name


def from_base(importer: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module that ``from <base> import ...`` names, relative levels resolved:
    one dot is the importer's own package (the importer itself for an ``__init__.py``)."""
    if node.level == 0:
        return node.module or ""
    base = importer if is_package else importer.rpartition(".")[0]
    for _ in range(node.level - 1):
        base = base.rpartition(".")[0]
    return f"{base}.{node.module}" if node.module else base


def imports_of(
    importer: str, path: Path, modules: Mapping[str, Path], package: str
) -> list[Import]:
    """Every import in module ``importer`` (read from ``path``), in line order.

    ``from pkg import name`` depends on submodule ``pkg.name`` when that file exists, else on
    ``pkg`` (``name`` is then an attribute of ``pkg``)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    found: list[Import] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [resolve(alias.name, modules, package) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = from_base(importer, is_package, node)
            if base in modules:
                names = [alias.name for alias in node.names if alias.name != "*"]
                targets = [resolve(f"{base}.{name}", modules, package) for name in names] or [base]
            else:
                targets = [resolve(base, modules, package)]
        else:
            continue
        found.extend(Import(importer, target, path, node.lineno) for target in targets)
    return sorted(set(found), key=lambda imp: (imp.line, imp.target))


def build_graph(package_dir: Path) -> ImportGraph:
    """The import graph of the package whose directory is ``package_dir``."""
    package = package_dir.name
    modules = find_modules(package_dir)
    imports = [
        imp
        for module, path in modules.items()
        for imp in imports_of(module, path, modules, package)
    ]
    return ImportGraph(package, modules, tuple(imports))


def layer_of(module: str, package: str) -> str:
    """The layer a module belongs to: its top-level subpackage or module under ``package``
    (``pkg.nn.layers`` -> ``nn``); the package's own ``__init__.py`` is layer ``__init__``."""
    if module == package:
        return "__init__"
    return module.removeprefix(package + ".").split(".")[0]


def unplaced_modules(graph: ImportGraph, ranks: Mapping[str, int]) -> list[str]:
    """The modules whose layer has no rank: each new layer has to be placed deliberately."""
    return [m for m in graph.modules if layer_of(m, graph.package) not in ranks]


def layering_violations(
    imports: Iterable[Import],
    package: str,
    ranks: Mapping[str, int],
    sideways: Iterable[tuple[str, str]] = (),
) -> list[Import]:
    """The imports that break the layering: into a higher rank, or into another layer of the
    same rank unless the pair (importing layer, imported layer) is in ``sideways``. Imports
    within one layer are free (their circles are :func:`import_cycles`' business)."""
    allowed = set(sideways)
    violations = []
    for imp in imports:
        source, target = layer_of(imp.importer, package), layer_of(imp.target, package)
        if source == target:
            continue
        if ranks[target] > ranks[source] or (
            ranks[target] == ranks[source] and (source, target) not in allowed
        ):
            violations.append(imp)
    return violations


def strongly_connected(edges: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected components of a directed graph (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(edges.get(node, ())):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            components.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return components


def cycle_through(start: str, edges: Mapping[str, Iterable[str]], within: set[str]) -> list[str]:
    """A shortest import circle from ``start`` back to it inside component ``within``, as the
    list of modules walked (first and last both ``start``)."""
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for successor in sorted(edges.get(node, ())):
                if successor == start:
                    walked = [node]
                    while walked[-1] != start:
                        walked.append(previous[walked[-1]])
                    return [*reversed(walked), start]
                if successor in within and successor not in previous:
                    previous[successor] = node
                    following.append(successor)
        frontier = following
    return []


def import_cycles(edges: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """One circle per group of modules that import each other (a strongly connected component
    of two or more modules), e.g. ``[a, b, a]``. A module importing itself is not reported."""
    return [
        cycle_through(component[0], edges, set(component))
        for component in strongly_connected(edges)
        if len(component) > 1
    ]


SHADOW_PROBE = """
import importlib, json, sys
package, names = sys.argv[1], json.loads(sys.argv[2])
module = importlib.import_module(package)
missing = object()
values = {name: getattr(module, name, missing) for name in names}
shadowed = {}
for name, value in values.items():
    if value is not missing and value is not importlib.import_module(package + "." + name):
        shadowed[name] = repr(value)
print(json.dumps(shadowed))
"""


def shadowed_submodules(package: str, names: Iterable[str], sys_path: Path) -> dict[str, str]:
    """The submodules ``package.name`` that ``package`` hides: after ``import package`` in a fresh
    interpreter (``sys_path`` first on its path), ``package.name`` is something else than the
    submodule (a function named like its module, say). Maps name -> repr of what is there.

    Each attribute is read before any submodule is imported by the probe, since importing a
    submodule rebinds the attribute of its package."""
    result = subprocess.run(
        [sys.executable, "-c", SHADOW_PROBE, package, json.dumps(sorted(names))],
        capture_output=True,
        text=True,
        cwd=sys_path,
        env={**os.environ, "PYTHONPATH": str(sys_path)},
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def submodules(graph: ImportGraph) -> dict[str, list[str]]:
    """Package -> the names of its direct submodules (modules and subpackages)."""
    children: dict[str, list[str]] = {}
    for module in graph.modules:
        parent, _, name = module.rpartition(".")
        if parent:
            children.setdefault(parent, []).append(name)
    return children


def foreign_imports(graph: ImportGraph, layer: str, allowed: Iterable[str]) -> list[Import]:
    """The imports of ``layer``'s modules that go anywhere but the layer itself, the standard
    library and the top-level packages in ``allowed`` (say ``numpy``)."""
    permitted = set(sys.stdlib_module_names) | set(allowed)
    return [
        imp
        for imp in graph.imports
        if layer_of(imp.importer, graph.package) == layer
        and (
            layer_of(imp.target, graph.package) != layer
            if imp.target in graph.modules
            else imp.target.split(".")[0] not in permitted
        )
    ]
