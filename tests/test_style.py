"""The code base is ruff-clean: lint and format."""

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.import_graph import (
    ImportGraph,
    build_graph,
    foreign_imports,
    import_cycles,
    layering_violations,
    shadowed_submodules,
    unplaced_modules,
)

ROOT = Path(__file__).resolve().parents[1]


def ruff(*args: str) -> subprocess.CompletedProcess:
    executable = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    return subprocess.run([executable, *args], cwd=ROOT, capture_output=True, text=True)


def test_ruff_check_is_clean():
    result = ruff("check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_clean():
    result = ruff("format", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("package", ["autodiff"])
def test_engine_imports_nothing_else_of_chainrule(package):
    for path in (ROOT / "chainrule" / package).glob("*.py"):
        text = path.read_text()
        assert "from chainrule" not in text and "from .." not in text, path


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
