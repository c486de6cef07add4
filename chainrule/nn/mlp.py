"""The notes' feedforward network: a chain of weight matrices with activations between.

``MLP([3, 5, 4, 2], activation="tanh", output="softmax")`` is the notes' network:
U1 (3x5), U2 (5x4), U3 (4x2), an activation after U1 and U2, softmax at the end.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..autodiff import Tensor
from ..autodiff.chain import AnyLink, record
from ..autodiff.elementary import MUL
from ..autodiff.gates import Gate
from ..autodiff.tensors import constant
from .init import RandomSource, as_generator
from .layers import Activation, Dropout, Identity, Linear, make_activation
from .module import Module, Parameter

OUTPUTS = ("identity", "softmax", "sigmoid")
_HE_ACTIVATIONS = {"relu", "leaky_relu", "elu", "gelu"}


def parameter_shapes(sizes: Sequence[int], dropout: float = 0.0) -> dict[str, tuple[int, ...]]:
    """The name and shape of each parameter of ``MLP(sizes, dropout=dropout)``, without
    building it (a model file's declared sizes are checked against its tensors with this
    before any array is allocated).  Layer k of ``MLP.layers`` is a Linear, then for a
    hidden layer an activation and, with dropout, a Dropout."""
    shapes: dict[str, tuple[int, ...]] = {}
    index = 0
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        shapes[f"layers.{index}.U"] = (n_in, n_out)
        shapes[f"layers.{index}.b"] = (n_out,)
        hidden = i < len(sizes) - 2
        index += (3 if dropout > 0 else 2) if hidden else 1
    return shapes


class MLP(Module):
    """A multilayer perceptron.

    Args:
        sizes: layer widths, input first: [in, hidden..., out].
        activation: one name for every hidden layer, or one name per hidden layer.
        output: the final layer: "softmax" (classification), "sigmoid" (binary or
            multilabel) or "identity" (regression), applied after the last U.
        dropout: dropout probability after each hidden activation (0 for none).
        init: weight initialiser name, or None to choose by activation (He for the
            ReLU family, Glorot otherwise).
        seed: the random source of the initial weights and of dropout.
        dtype: parameter dtype; float32 is fast, float64 for gradient checks.

    ``forward(x)`` returns the output layer's values; ``logits(x)`` the values before
    it (what the fused losses take).
    """

    # The forward plan (see _plan_for) and the layers and output layer it was made from;
    # class-level, so that a network pickled before the plan existed makes one too.
    _plans: tuple[list[Step] | None, list[Step] | None] = (None, None)
    _plan_of: tuple[Module, ...] | None = None
    _plan_output: Module | None = None

    def __init__(
        self,
        sizes: Sequence[int],
        activation: str | Sequence[str] = "relu",
        output: str = "identity",
        dropout: float = 0.0,
        init: str | None = None,
        seed: RandomSource = None,
        dtype: Any = "float32",
    ) -> None:
        if isinstance(sizes, (str, bytes)) or not all(
            isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in sizes
        ):
            raise ValueError(f"MLP sizes must be a list of whole numbers, got {sizes!r}")
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2 or any(s < 1 for s in sizes):
            raise ValueError(f"MLP sizes must be at least [in, out], all positive; got {sizes}")
        n_hidden = len(sizes) - 2
        activations = [activation] * n_hidden if isinstance(activation, str) else list(activation)
        if len(activations) != n_hidden:
            raise ValueError(
                f"{len(activations)} activations given for {n_hidden} hidden layers "
                f"(sizes {sizes}): give one name, or one per hidden layer"
            )
        if output not in OUTPUTS:
            raise ValueError(f"unknown output layer '{output}'; choose one of {', '.join(OUTPUTS)}")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"MLP dropout must be a probability in [0, 1), got {dropout}")
        if np.dtype(dtype) not in (np.float32, np.float64):
            raise ValueError(
                f"MLP dtype must be float32 or float64 (what model files store), got {dtype}"
            )
        rng = as_generator(seed)
        self.sizes = sizes
        self.activations = [make_activation(a).name for a in activations]
        self.output = output
        self.dropout = float(dropout)
        self.dtype = np.dtype(dtype)
        layers: list[Module] = []
        for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
            hidden_activation = self.activations[i] if i < n_hidden else None
            scheme = init or (
                "he_uniform" if hidden_activation in _HE_ACTIVATIONS else "glorot_uniform"
            )
            layers.append(Linear(n_in, n_out, init=scheme, rng=rng, dtype=self.dtype))
            if hidden_activation is not None:
                layers.append(make_activation(hidden_activation))
                if self.dropout > 0:
                    layers.append(Dropout(self.dropout, rng=rng))
        self.layers: tuple[Module, ...] = tuple(layers)
        self.output_layer: Activation = make_activation(output)
        self.flatten_parameters()  # one array: one optimizer call per operation

    @property
    def U(self) -> list[Parameter]:
        """The weight matrices U1, U2, ... of the notes, each (in, out)."""
        return [layer.U for layer in self.layers if isinstance(layer, Linear)]

    @property
    def linear_layers(self) -> list[Linear]:
        return [layer for layer in self.layers if isinstance(layer, Linear)]

    def logits(self, x: Any) -> Tensor:
        """The network up to, not including, the output layer."""
        return self._forward(x, logits=True)

    def forward(self, x: Any) -> Tensor:
        if type(self).logits is not MLP.logits:  # a subclass's own logits, then the output
            return self.output_layer(self.logits(x))
        return self._forward(x, logits=False)

    def _forward(self, x: Any, logits: bool) -> Tensor:
        """Record the network's links on the graph (:func:`record`), or, when its layers
        are not all gates (a module put in ``layers`` by hand), call them in turn."""
        plan = self._plan_for(logits)
        if plan is None:
            for layer in self.layers:
                x = layer(x)
            return x if logits else self.output_layer(x)
        x = self.layers[0].checked_input(x)
        data = x.data
        return record(x, self._links(plan, data.shape[:-1], data.dtype))

    def chain(
        self, x: Any, logits: bool = False
    ) -> tuple[Any, list[AnyLink], tuple[int, ...]] | None:
        """:meth:`forward` (or, with ``logits=True``, :meth:`logits`) on a batch x as a
        chain of gates for the chain walker: the checked input array, the links (the
        very links the forward records) and the output's shape.  None when the forward
        is not such a chain: x is not 2-D, a layer is not a gate, or a subclass changed
        the forward.  Active dropout layers draw their masks here, as the forward would."""
        cls = type(self)
        if cls.forward is not MLP.forward or cls.logits is not MLP.logits:
            return None
        plan = self._plan_for(logits)
        if plan is None:
            return None
        array = self.layers[0].input_array(x)
        if array.ndim != 2:
            return None
        links = self._links(plan, array.shape[:-1], array.dtype)
        return array, links, (len(array), self.sizes[-1])

    def _plan_for(self, logits: bool) -> list[Step] | None:
        """The network's forward plan (up to the logits, or to the output), made once
        from ``layers`` and ``output_layer`` (again if either is replaced): each Linear
        with the activation after it as one fused gate, dropout, the output layer last.
        None when a layer is not a gate."""
        if self._plan_of is not self.layers or self._plan_output is not self.output_layer:
            plan = _plan([*self.layers, self.output_layer])
            self._plans = (None, None) if plan is None else (plan, plan[:-1])
            self._plan_of, self._plan_output = self.layers, self.output_layer
        return self._plans[logits]

    def _links(self, plan: list[Step], batch_shape: tuple[int, ...], dtype: Any) -> list[AnyLink]:
        """The links of one forward pass on a batch of this shape: each step's gate with
        its inputs (a Linear's U and b, read now: a replaced weight matrix is the one
        used) and its options as they are now; active dropout draws its mask (in layer
        order, from its own random source) and multiplies by it."""
        links: list[AnyLink] = []
        width = self.sizes[0]
        for gate, module, options_from, linear in plan:
            if gate is None:  # an identity, or dropout: a link only when it drops
                if isinstance(module, Dropout) and module.active:
                    mask = module.draw_scale((*batch_shape, width), dtype)
                    links.append((MUL, (constant(mask),), _NO_OPTIONS))
                continue
            options = _NO_OPTIONS if options_from is None else options_from.gate_options()
            # plain (gate, inputs, options) triples: cheaper to make than Links
            if linear:
                links.append((gate, (module.U, module.b), options))
                width = module.out_features
            else:
                links.append((gate, (), options))
        return links

    def hidden_activations(self, x: Any) -> list[np.ndarray]:
        """Each hidden layer's output (after its activation), for inspection: in
        :meth:`inference`, so dropout never changes what is inspected."""
        outputs = []
        with self.inference():
            for layer in self.layers:
                x = layer(x)
                if isinstance(layer, Activation):
                    outputs.append(x.data)
        return outputs

    def config(self) -> dict[str, Any]:
        """The architecture as plain data (what a model file stores)."""
        return {
            "sizes": self.sizes,
            "activation": self.activations,
            "output": self.output,
            "dropout": self.dropout,
            "dtype": self.dtype.name,
        }

    def extra_repr(self) -> str:
        return f"sizes={self.sizes}, output={self.output}"


# The options of a gate that takes none.  A plain dict, as ``**`` unpacks a dict faster
# than a read-only mapping; it is never written to (``**`` copies it).
_NO_OPTIONS: dict[str, Any] = {}

# One step of the plan: the gate it applies (None for an identity, or dropout, which
# multiplies by a mask drawn per call), the module, the activation whose options are
# read per call, and whether the gate also takes the module's U and b (a Linear).
Step = tuple["Gate | None", Module, "Activation | None", bool]


def _plan(modules: list[Module]) -> list[Step] | None:
    """The modules (the hidden layers, then the output layer) as the gates they apply,
    in order, the output layer's step last.  Each Linear takes the elementwise
    activation right after it into one fused gate; None when a module is not a gate
    (the network is then called module by module)."""
    if not isinstance(modules[0], Linear):  # it checks and converts the network's input
        return None
    steps: list[Step] = []
    i = 0
    while i < len(modules):
        module = modules[i]
        following = modules[i + 1] if i + 1 < len(modules) - 1 else None  # not the output
        if isinstance(module, Linear):
            fused = following if isinstance(following, Activation) else None
            gate = module.gate_with(fused)
            if gate is None and fused is not None:
                fused, gate = None, module.gate_with(None)
            if gate is None:
                return None
            steps.append((gate, module, _options_source(fused), True))
            i += 2 if fused is not None else 1
        elif isinstance(module, (Dropout, Identity)):
            steps.append((None, module, None, False))
            i += 1
        elif isinstance(module, Activation) and module.gate is not None:
            steps.append((module.gate, module, _options_source(module), False))
            i += 1
        else:
            return None
    return steps


def _options_source(activation: Activation | None) -> Activation | None:
    """The activation when it has options to read per call (a changed option is seen)."""
    if activation is None or type(activation).gate_options is Activation.gate_options:
        return None
    return activation
