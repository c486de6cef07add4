"""Style and architecture: ruff lint and format, and chainrule's imports read with ``ast``
(tests/import_graph.py): the layering, no import circle, no submodule shadowed by a name of its
package, an engine on the standard library and NumPy alone."""

import shutil
import subprocess
import sys
import textwrap
from collections import defaultdict
from pathlib import Path

import pytest

from tests.import_graph import (
    Import,
    ImportGraph,
    build_graph,
    foreign_imports,
    import_cycles,
    layer_of,
    layering_violations,
    shadowed_submodules,
    submodules,
    unplaced_modules,
)

ROOT = Path(__file__).resolve().parents[1]
GRAPH = build_graph(ROOT / "chainrule")


def ruff(*args: str) -> subprocess.CompletedProcess:
    executable = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    return subprocess.run([executable, *args], cwd=ROOT, capture_output=True, text=True)


def test_ruff_check_is_clean():
    result = ruff("check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_clean():
    result = ruff("format", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


# The layering (architecture issue, item 5): autodiff < nn < optim < io < training
# < tabular, explain, plots < sklearn, cli. A module may import its own layer and lower
# ranks. Every layer (a top-level subpackage or module of chainrule) has a rank here, with
# the reason for it; a new one fails test_every_module_is_in_a_layer until it is placed.
LAYERS: dict[str, tuple[int, str]] = {
    "errors": (0, "exception types shared by every layer; imports nothing of chainrule"),
    "_version": (0, "the version string, read by the facade, the CLI and model files"),
    "_sklearn_params": (0, "parameter constraints as data, for the estimators; NumPy only"),
    "autodiff": (1, "the engine (issue's layering); standard library and NumPy only"),
    "nn": (2, "modules, layers, losses on the engine (issue's layering)"),
    "optim": (3, "optimizers and schedules over parameters (issue's layering)"),
    "io": (4, "model files, ONNX, atomic writes; reads nn (issue's layering)"),
    "data": (
        4,
        "CSV and Parquet readers, block readers, batch sources and their checks; "
        "below training (DESIGN.md's data/); NumPy, pyarrow, optional pandas/dask",
    ),
    "holdout": (6, "the rows held out as a test set; reads training's DataError"),
    "datasets": (4, "loads bundled data sets, a source of data like io; imports only errors"),
    "distributed": (4, "the communicator data-parallel training uses; NumPy, mpi4py when run"),
    "training": (5, "fit loop, callbacks, metrics (issue's layering); callbacks save via io"),
    "evaluation": (6, "evaluation reports from predictions, on training's metrics; tabular's"),
    "probability_scores": (5, "log-loss and ROC-AUC of predicted probabilities; evaluation's"),
    "tabular": (7, "CSV-to-model workflow over training and io (issue's layering)"),
    "tabular_files": (7, "tabular's training on a file (statistics pass, then held or streamed)"),
    "explain": (7, "expression tracing and teaching figures (issue's layering)"),
    "plots": (7, "training-curve plots with matplotlib (issue's layering)"),
    "lecture": (7, "the notes' worked examples, teaching material like explain; imports autodiff"),
    "sklearn": (8, "scikit-learn estimators, needs the sklearn extra (issue's layering)"),
    "cli": (8, "the command line, may use every layer below (issue's layering)"),
    "mpi_files": (8, "train, evaluate, predict on a file under mpirun, a rank's share each; cli's"),
    "playground": (8, "the live web page (top floor, beside cli): may use every layer below"),
    "__init__": (9, "chainrule/__init__.py, the public facade: re-exports, may import any layer"),
    "__main__": (9, "python -m chainrule: runs cli; nothing imports it"),
}
RANKS = {layer: rank for layer, (rank, _) in LAYERS.items()}

# Layers of one rank do not import each other, except these pairs (importing, imported),
# each acyclic (plots and explain never import explain and lecture) and kept for the reason given.
SIDEWAYS: dict[tuple[str, str], str] = {
    ("explain", "plots"): "explain/figures.py draws with plots.pyplot (matplotlib on Agg)",
    ("lecture", "explain"): "chainrule examples prints each worked example with explain's trace",
    ("cli", "playground"): "chainrule playground starts the playground's server",
    ("cli", "mpi_files"): "under mpirun, train, evaluate and predict read a share of the file each",
    ("data", "io"): "the readers take Ctrl-C between chunks with io.interrupts",
    (
        "tabular",
        "tabular_files",
    ): "TabularModel.train_file and train_stream are tabular_files' work",
}

# Imports that break the layering today, to be fixed in the package (not here); each is a
# strict xfail, so the fix shows as XPASS and its entry must then go.
KNOWN_VIOLATIONS: dict[tuple[str, str], str] = {}


def cross_layer_edges(graph: ImportGraph) -> dict[tuple[str, str], list[Import]]:
    """(importing module, imported module) -> its import statements, for imports between two
    different layers (imports within a layer are free of the layering)."""
    edges: dict[tuple[str, str], list[Import]] = defaultdict(list)
    for imp in graph.internal():
        if layer_of(imp.importer, graph.package) != layer_of(imp.target, graph.package):
            edges[imp.importer, imp.target].append(imp)
    return dict(edges)


EDGES = cross_layer_edges(GRAPH)


def edge_params() -> list:
    """One test case per cross-layer edge; the known violations marked strict xfail."""
    return [
        pytest.param(
            imports,
            id=f"{importer}->{target}",
            marks=[pytest.mark.xfail(strict=True, reason=KNOWN_VIOLATIONS[importer, target])]
            if (importer, target) in KNOWN_VIOLATIONS
            else [],
        )
        for (importer, target), imports in sorted(EDGES.items())
    ]


def test_every_module_is_in_a_layer():
    unplaced = unplaced_modules(GRAPH, RANKS)
    assert not unplaced, f"place these modules' layers in LAYERS (rank, reason): {unplaced}"


@pytest.mark.parametrize("imports", edge_params())
def test_imports_go_down_the_layers(imports):
    violations = layering_violations(imports, GRAPH.package, RANKS, SIDEWAYS)
    assert not violations, "\n".join(map(explain_violation, violations))


def explain_violation(imp: Import) -> str:
    """The import (file:line: importer imports target) and the two layers' ranks."""
    source, target = layer_of(imp.importer, GRAPH.package), layer_of(imp.target, GRAPH.package)
    return (
        f"{imp}: layer {source} (rank {RANKS[source]}) "
        f"may not import layer {target} (rank {RANKS[target]})"
    )


def test_known_violations_and_sideways_pairs_are_still_imports():
    layer_pairs = {(layer_of(a, GRAPH.package), layer_of(b, GRAPH.package)) for a, b in EDGES}
    assert set(KNOWN_VIOLATIONS) <= set(EDGES), "drop the KNOWN_VIOLATIONS entry of a fixed import"
    assert set(SIDEWAYS) <= layer_pairs, "drop the SIDEWAYS entry no import uses"


def test_no_import_circle():
    cycles = import_cycles(GRAPH.edges())
    assert not cycles, "import circles: " + "; ".join(" -> ".join(cycle) for cycle in cycles)


@pytest.mark.parametrize("package", sorted(submodules(GRAPH)))
def test_no_submodule_is_shadowed(package):
    shadowed = shadowed_submodules(package, submodules(GRAPH)[package], ROOT)
    assert not shadowed, "\n".join(
        f"{package}.{name} is not the submodule but {value}" for name, value in shadowed.items()
    )


@pytest.mark.parametrize("package", ["autodiff"])
def test_engine_imports_only_the_standard_library_and_numpy(package):
    found = foreign_imports(GRAPH, package, ["numpy"])
    assert not found, "\n".join(map(str, found))


# The rules' own tests: a made-up package in tmp_path that breaks each rule once.


def write_package(root: Path, files: dict[str, str]) -> Path:
    """Write ``files`` (relative path -> source) under ``root``; return the package directory,
    the first path's top folder."""
    for relative, source in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    return root / next(iter(files)).split("/")[0]


def test_graph_reads_absolute_relative_lazy_and_type_checking_imports(tmp_path):
    toy = write_package(
        tmp_path,
        {
            "toy/__init__.py": "from . import a\nfrom .b import sub\n",
            "toy/a.py": """\
                import numpy as np
                import toy.b
                from toy.b import thing
                from .b.sub import f


                def lazy():
                    from . import c
            """,
            "toy/b/__init__.py": "from .sub import f\nfrom .. import VERSION\n",
            "toy/b/sub.py": """\
                from typing import TYPE_CHECKING

                from ..c import g

                if TYPE_CHECKING:
                    from toy.a import A
            """,
            "toy/c.py": "",
        },
    )
    graph = build_graph(toy)
    assert graph.edges() == {
        "toy": {"toy.a", "toy.b.sub"},
        "toy.a": {"toy.b", "toy.b.sub", "toy.c"},
        "toy.b": {"toy.b.sub", "toy"},
        "toy.b.sub": {"toy.c", "toy.a"},
        "toy.c": set(),
    }
    lazy = [imp for imp in graph.internal() if imp.target == "toy.c" and imp.importer == "toy.a"]
    assert [imp.line for imp in lazy] == [8]
    assert {(imp.importer, imp.target) for imp in graph.external()} == {
        ("toy.a", "numpy"),
        ("toy.b.sub", "typing"),
    }


def layered_toy(root: Path) -> ImportGraph:
    """low < mid_a, mid_b < top < __init__; low imports top lazily, mid_a imports mid_b."""
    return build_graph(
        write_package(
            root,
            {
                "toy/__init__.py": "from .top import main\n",
                "toy/low.py": "def f():\n    from .top import main\n",
                "toy/mid_a.py": "from . import low\nfrom .mid_b import x\n",
                "toy/mid_b.py": "from .low import f\n",
                "toy/top.py": "from .mid_a import y\n",
            },
        )
    )


TOY_RANKS = {"low": 0, "mid_a": 1, "mid_b": 1, "top": 2, "__init__": 3}


def test_upward_and_sideways_imports_break_the_layering(tmp_path):
    graph = layered_toy(tmp_path)
    violations = layering_violations(graph.internal(), "toy", TOY_RANKS)
    assert [(imp.importer, imp.line, imp.target) for imp in violations] == [
        ("toy.low", 2, "toy.top"),
        ("toy.mid_a", 2, "toy.mid_b"),
    ]
    assert str(violations[0]) == f"{tmp_path / 'toy' / 'low.py'}:2: toy.low imports toy.top"
    allowed = layering_violations(graph.internal(), "toy", TOY_RANKS, [("mid_a", "mid_b")])
    assert [imp.importer for imp in allowed] == ["toy.low"]


def test_a_module_in_no_layer_is_reported(tmp_path):
    graph = layered_toy(tmp_path)
    assert unplaced_modules(graph, TOY_RANKS) == []
    (tmp_path / "toy" / "new.py").write_text("")
    assert unplaced_modules(build_graph(tmp_path / "toy"), TOY_RANKS) == ["toy.new"]


def test_import_circles_are_found(tmp_path):
    toy = write_package(
        tmp_path,
        {
            "toy/__init__.py": "from .a import f\nVERSION = '1'\n",
            "toy/a.py": "from . import VERSION\n",
            "toy/b.py": "from .c import g\n",
            "toy/c.py": "def g():\n    from .d import h\n",
            "toy/d.py": "from toy.b import i\n",
            "toy/e.py": "from . import b, e\n",
        },
    )
    assert import_cycles(build_graph(toy).edges()) == [
        ["toy", "toy.a", "toy"],
        ["toy.b", "toy.c", "toy.d", "toy.b"],
    ]


def test_a_function_named_like_its_module_shadows_it(tmp_path):
    write_package(
        tmp_path,
        {
            "toy/__init__.py": "from . import loop\nfrom .fit import fit\n",
            "toy/fit.py": "def fit():\n    pass\n",
            "toy/loop.py": "",
            "toy/lazy.py": "",
        },
    )
    shadowed = shadowed_submodules("toy", ["fit", "lazy", "loop"], tmp_path)
    assert list(shadowed) == ["fit"]
    assert shadowed["fit"].startswith("<function fit")


def test_an_engine_import_beyond_stdlib_and_numpy_is_reported(tmp_path):
    toy = write_package(
        tmp_path,
        {
            "toy/__init__.py": "",
            "toy/other.py": "",
            "toy/engine/__init__.py": "from .core import f\n",
            "toy/engine/core.py": """\
                import math
                from collections import abc

                import numpy as np
                import scipy.linalg

                from .. import other
                from . import helpers
            """,
            "toy/engine/helpers.py": "",
        },
    )
    found = foreign_imports(build_graph(toy), "engine", ["numpy"])
    assert [(imp.line, imp.target) for imp in found] == [(5, "scipy.linalg"), (7, "toy.other")]
