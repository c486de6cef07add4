"""Seeing backprop: safe expressions, the trace, the computational graph's picture, the
three ways to get a gradient, and the plots of the notes."""

from .compare import Comparison, compare
from .draw import draw, render, trace_graph_source
from .parse import Expression, ExpressionError, build, parse
from .trace import Step, Trace, pattern_notes, trace

__all__ = [
    "Comparison",
    "Expression",
    "ExpressionError",
    "Step",
    "Trace",
    "build",
    "compare",
    "draw",
    "parse",
    "pattern_notes",
    "render",
    "trace",
    "trace_graph_source",
]
