"""The benchmark harness's bookkeeping (bench/harness.py): the order peers run in and
the ratios it reports, on made-up figures whose answers are worked out by hand."""

import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "bench_harness", Path(__file__).resolve().parent.parent / "bench" / "harness.py"
)
harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(harness)


def test_each_round_starts_one_peer_later():
    peers = ["chainrule", "torch", "numpy"]
    orders = [harness.rotated(peers, r) for r in range(4)]
    assert orders == [
        ["chainrule", "torch", "numpy"],
        ["torch", "numpy", "chainrule"],
        ["numpy", "chainrule", "torch"],
        ["chainrule", "torch", "numpy"],
    ]


def test_the_paired_ratio_compares_figures_from_the_same_round():
    """numpy is 10% slower than chainrule in rounds 1 and 2, but ran during a fast spell
    of the machine in round 3.  The medians come from different rounds, and their ratio
    says 0.6; the median of the per-round ratios says 1.1."""
    cells = harness.summarize(
        {"chainrule": [100.0, 300.0, 200.0], "numpy": [110.0, 330.0, 120.0], "jax": [50.0]}
    )
    assert cells["chainrule"]["median"] == 200.0
    assert cells["numpy"] == pytest.approx(
        {
            "median": 120.0,
            "min": 110.0,
            "max": 330.0,
            "ratio_to_chainrule": 0.6,
            "paired_ratio_to_chainrule": 1.1,
        }
    )
    # jax ran in the first round only: paired with that round's chainrule figure
    assert cells["jax"]["paired_ratio_to_chainrule"] == pytest.approx(0.5)
    assert cells["jax"]["ratio_to_chainrule"] == pytest.approx(0.25)
    assert harness.ratio_text(cells["jax"]) == " x0.25 p0.50"


def test_without_chainrule_there_are_no_ratios():
    cells = harness.summarize({"torch": [3.0, 1.0, 2.0], "numpy": []})
    assert cells == {"torch": {"median": 2.0, "min": 1.0, "max": 3.0}}
    assert harness.ratio_text(cells["torch"]) == ""
