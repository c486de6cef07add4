"""The gate table: every operation the engine knows, by name, with its forward value and
its local gradient.

A gate is two plain functions that sit next to each other, as on the slides:

* ``forward(xp, *arrays, **params) -> (out, saved)`` computes the gate's output and
  returns what its backward needs (the intermediate values the notes say to keep);
* ``vjp(xp, g, saved, needs) -> tuple`` receives the *upstream* gradient ``g`` (same
  shape as ``out``) and returns one *downstream* gradient per input: upstream times
  local gradient (a vector-Jacobian product).  ``needs[i]`` is False when input ``i``
  requires no gradient, and the gate then returns ``None`` for it and skips the work.

A vjp may return a gradient with the *broadcast* shape of the output; the engine sums
it back to the input's shape in one place (``backward.unbroadcast``), so no gate deals
with broadcasting.  ``xp`` is the array module of the inputs (NumPy today; any module
with NumPy's API, such as CuPy, tomorrow), and gates reach array functions only
through it.

What a vjp returns is, for each input, the upstream ``g`` itself, a view, or an array
it has just made, returned once and kept nowhere else: the engine relies on this to
know which gradient arrays it owns: one that is neither ``g`` nor a view (see
``backward.accumulate_grad``).

The gates live in two modules that both register here: :mod:`.elementary`, the notes'
elementary operations (arithmetic, activations, reductions, shape), and :mod:`.fused`,
the gates that do the work of several in one node for speed and stability (a layer and
its activation, the losses on logits).  A gate registered without a vjp can run
forward, but backpropagating through it raises :class:`NoGradientError` naming it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Forward = Callable[..., tuple[Any, Any]]
VJP = Callable[..., tuple[Any, ...]]


class NoGradientError(RuntimeError):
    """Backpropagation reached a gate that defines no local gradient."""


@dataclass(frozen=True)
class LocalGradient:
    """A gate's local gradient as the notes write it: one formula per input.

    ``formulas[i]`` is d(output)/d(input i), written with the letters ``inputs`` (the
    gate's inputs, in order) and ``output`` (its output) in braces: the sigmoid gate's
    is ``"(1 - {s}) * {s}"`` with ``inputs=("x",)``, ``output="s"``, which reads
    (1 - s) s.  `` * `` is a product: written as juxtaposition in the formula and as
    "x" between numbers once the values are put in.  A gate with any number of inputs
    (concatenate) gives one formula for all of them.  ``words`` says it in words where
    the notes do ("routes to the larger input").
    """

    formulas: tuple[str, ...]
    inputs: tuple[str, ...] = ("x",)
    output: str = "f"
    words: str | None = None

    def formula(self, position: int) -> str:
        """The formula of input ``position`` (the only one for a gate of any arity)."""
        return self.formulas[min(position, len(self.formulas) - 1)]


def local(
    *formulas: str, inputs: str = "x", output: str = "f", words: str | None = None
) -> LocalGradient:
    """``LocalGradient`` written briefly: ``inputs`` as space-separated letters."""
    return LocalGradient(tuple(formulas), tuple(inputs.split()), output, words)


class Gate:
    """One operation: its name, forward, vjp and the notes' gradient pattern.

    Two flags say where a gate can write its result over an array its caller owns,
    saving an allocation; the formula is the same function either way (NumPy's ``out=``),
    so the values are the same to the last bit:

    * ``forward_out``: ``forward(xp, a, out=a, **options)`` writes the output over its
      (only) input ``a``; a fused gate uses it on a temporary it has just made;
    * ``vjp_out``: ``vjp(xp, g, saved, needs, out=g)`` writes the first input's gradient
      over the upstream gradient ``g``, for a walker that owns ``g``.

    ``out`` is the parameter after the array (forward) or after ``needs`` (vjp), so the
    hot paths may pass it by position.

    ``local_gradient`` is the vjp's formula as text (:class:`LocalGradient`), for the
    explain trace; the engine never reads it.
    """

    __slots__ = ("forward", "forward_out", "local_gradient", "name", "pattern", "vjp", "vjp_out")

    def __init__(
        self,
        name: str,
        forward: Forward,
        vjp: VJP | None = None,
        pattern: str | None = None,
        forward_out: bool = False,
        vjp_out: bool = False,
        local_gradient: LocalGradient | None = None,
    ) -> None:
        self.name = name
        self.forward = forward
        self.vjp = vjp if vjp is not None else _missing_vjp(name)
        self.pattern = pattern
        self.forward_out = forward_out
        self.vjp_out = vjp_out and vjp is not None
        self.local_gradient = local_gradient

    def __repr__(self) -> str:
        return f"Gate({self.name!r})"

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        """A gate pickles as its name in the table (scikit-learn and joblib copy fitted
        estimators by pickling, and networks cache their gates): unpickling looks it
        up again, as fused gates' functions could not be pickled themselves."""
        return (registered_gate, (self.name,))


def _missing_vjp(name: str) -> VJP:
    def vjp(xp, g, saved, needs):
        raise NoGradientError(f"gate '{name}' has no local gradient (vjp) defined")

    return vjp


GATES: dict[str, Gate] = {}


def registered_gate(name: str) -> Gate:
    """The gate registered under ``name``."""
    try:
        return GATES[name]
    except KeyError:
        raise KeyError(f"no gate named '{name}' is registered") from None


def register_gate(
    name: str,
    forward: Forward,
    vjp: VJP | None = None,
    pattern: str | None = None,
    forward_out: bool = False,
    vjp_out: bool = False,
    local_gradient: LocalGradient | None = None,
) -> Gate:
    """Add a gate to the table (``vjp=None`` makes a forward-only gate) and return it.
    ``forward_out`` / ``vjp_out``: the functions take ``out=`` (see :class:`Gate`);
    ``local_gradient``: the vjp's formula as text."""
    if name in GATES:
        raise ValueError(f"a gate named '{name}' is already registered")
    gate = Gate(name, forward, vjp, pattern, forward_out, vjp_out, local_gradient)
    GATES[name] = gate
    return gate
