"""Seeing backprop: safe expressions, the trace, the computational graph's picture, the
three ways to get a gradient, and the plots of the notes."""

from .comparison import Comparison, compare
from .drawing import draw, render, trace_graph_source
from .expressions import Expression, ExpressionError, build, parse
from .tracing import Step, Trace, pattern_notes, trace

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
