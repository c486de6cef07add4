"""io sits below training and the table model: it imports nothing from above it."""

import ast
from pathlib import Path

import pytest

IO = Path(__file__).resolve().parents[2] / "chainrule" / "io"
ABOVE_IO = {"training", "tabular", "explain", "plots", "sklearn", "cli", "evaluation"}


def imported_packages(path: Path) -> set[str]:
    """The chainrule sub-packages a module in chainrule/io imports, by their first name."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 2 and node.module:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.level == 2:
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("chainrule."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found.update(
                a.name.split(".")[1] for a in node.names if a.name.startswith("chainrule.")
            )
    return found


@pytest.mark.parametrize("path", sorted(IO.glob("*.py")), ids=lambda p: p.name)
def test_io_imports_nothing_above_it(path):
    assert not imported_packages(path) & ABOVE_IO, path
