"""``cr.explain`` after a plain ``import chainrule`` (as the README writes it), loaded lazily."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys
import chainrule as cr

heavy = [m for m in ("chainrule.explain", "matplotlib", "graphviz") if m in sys.modules]
assert not heavy, f"import chainrule imported {heavy}"
x = cr.tensor(2.0, requires_grad=True)
loss = x * x + x
path = cr.explain.draw(loss, sys.argv[1])
print(path.read_text()[:7])
try:
    cr.not_a_thing
except AttributeError as error:
    print(error)
"""


def test_cr_explain_works_after_import_chainrule_without_importing_it_eagerly(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "net.dot")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "digraph",
        "module 'chainrule' has no attribute 'not_a_thing'",
    ]
