"""The runnable examples and ``python -m chainrule`` print the right numbers."""

import runpy
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_python_m_chainrule_prints_the_notes_examples():
    result = subprocess.run(
        [sys.executable, "-m", "chainrule", "examples"], capture_output=True, text=True, check=True
    )
    out = result.stdout
    for line in ("q = x + y = 3", "f = q z = -12", "df/dx = -4", "df/dy = -4", "df/dz = 3"):
        assert line in out
    assert "f = 0.731059" in out and "df/dw0 = -0.196612" in out


def test_three_ways_agree(capsys):
    runpy.run_path(str(ROOT / "examples" / "three_ways.py"), run_name="__main__")
    lines = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()[2:]}
    assert set(lines) == {"manual", "numerical", "autodiff"}
    assert float(lines["autodiff"][4]) == 0.0  # exact, like the manual derivation
    assert float(lines["numerical"][4]) < 1e-8  # approximate
    assert lines["numerical"][1:4] == lines["manual"][1:4]


def test_lecture_network_prints_the_matrices_and_one_step_lowers_each_loss(capsys):
    runpy.run_path(str(ROOT / "examples" / "lecture_network.py"), run_name="__main__")
    out = capsys.readouterr().out
    for header in ("U1 3x5:", "U2 5x4:", "U3 4x2:"):
        assert header in out
    before = [
        float(line.split()[-1]) for line in out.splitlines() if line.startswith("loss before")
    ]
    after = [float(line.split()[-1]) for line in out.splitlines() if line.startswith("loss after")]
    assert len(before) == len(after) == 2
    assert all(a < b for a, b in zip(after, before, strict=True))


def test_lecture_network_prints_x_the_hidden_layers_and_labelled_gradient_norms(capsys):
    import numpy as np

    from chainrule.lecture import network_example

    runpy.run_path(str(ROOT / "examples" / "lecture_network.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "  X = [[ 0.5 -1.   2. ]]" in out
    net = network_example()  # the same network, sample and target as the first step
    for i in (1, 2):
        line = next(s for s in out.splitlines() if s.startswith(f"  H{i} = sigmoid("))
        printed = np.array(line.split("[[")[1].rstrip("]").split(), dtype=float)
        np.testing.assert_allclose(printed, net.values[f"H{i}"][0], atol=5e-4)
    norms = [line for line in out.splitlines() if "Frobenius norm of dLoss/dU1 (3x5)" in line]
    assert len(norms) == 2
    assert float(norms[0].split()[-1]) == round(float(np.linalg.norm(net.gradients["U1"])), 6)
