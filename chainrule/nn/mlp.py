"""The notes' feedforward network: a chain of weight matrices with activations between.

``MLP([3, 5, 4, 2], activation="tanh", output="softmax")`` is the notes' network:
U1 (3x5), U2 (5x4), U3 (4x2), an activation after U1 and U2, softmax at the end.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

import numpy as np

from ..autodiff import Tensor, apply
from ..autodiff.chain import Link
from ..autodiff.elementary import MUL
from ..autodiff.gates import Gate
from ..autodiff.tensors import constant
from .init import RandomSource, as_generator
from .layers import Activation, Dropout, Identity, Linear, make_activation
from .module import Module, Parameter

OUTPUTS = ("identity", "softmax", "sigmoid")
_HE_ACTIVATIONS = {"relu", "leaky_relu", "elu", "gelu"}


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
        self._steps_of: tuple[Module, ...] = ()
        self._steps: list[tuple[Module, Activation | None, Gate | None]] = []
        self._chain_steps: list[tuple[Module, Gate | None, Activation | None]] | None = None
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
        for layer, activation, gate in self._fused_steps():
            if gate is not None:  # a Linear after the first: its input is a checked tensor
                options = {} if activation is None else activation.gate_options()
                x = apply(gate, x, layer.U, layer.b, **options)
            elif activation is not None:
                x = layer.forward(x, activation)
            else:
                x = layer(x)
        return x

    def _fused_steps(self) -> list[tuple[Module, Activation | None, Gate | None]]:
        """The layers as the forward pass runs them: each Linear paired with the
        elementwise activation right after it, which it computes in one fused gate.

        The first module checks and converts the network's input.  Every later Linear
        receives the tensor the module before it made, of the right dtype and width, so
        its step names the gate to apply directly (``gate``); other modules are called."""
        if self._steps_of is not self.layers:
            steps: list[tuple[Module, Activation | None]] = []
            for layer in self.layers:
                previous = steps[-1] if steps else None
                fusable = isinstance(layer, Activation) and layer.gate is not None
                if fusable and previous and isinstance(previous[0], Linear) and not previous[1]:
                    steps[-1] = (previous[0], layer)
                else:
                    steps.append((layer, None))
            self._steps = []
            for i, (layer, activation) in enumerate(steps):
                direct = i > 0 and isinstance(layer, Linear)
                gate = layer.gate_with(activation) if direct else None
                self._steps.append((layer, activation, gate))
            self._chain_steps = _chain_steps(steps)
            self._steps_of = self.layers
        return self._steps

    def forward(self, x: Any) -> Tensor:
        return self.output_layer(self.logits(x))

    def gate_chain(
        self, x: Any, logits: bool = False
    ) -> tuple[Any, list[Link], tuple[int, ...]] | None:
        """:meth:`forward` (or, with ``logits=True``, :meth:`logits`) on a batch x as the
        chain of gates it applies: the checked input array, the links (with the same
        gates, parameters and options as the recorded forward) and the output's shape.
        Active dropout layers draw their masks here, in the order the forward would, and
        become links that multiply by them.  None when the forward is not such a chain:
        x is not 2-D, a layer is not a gate, or a subclass changed the forward."""
        cls = type(self)
        if cls.forward is not MLP.forward or cls.logits is not MLP.logits:
            return None
        self._fused_steps()
        steps = self._chain_steps
        if steps is None or not isinstance(steps[0][0], Linear):
            return None
        array = steps[0][0].input_array(x)
        if array.ndim != 2:
            return None
        links: list[Link] = []
        n, width = array.shape
        for layer, gate, options_from in steps:
            if gate is not None:
                options = _NO_OPTIONS if options_from is None else options_from.gate_options()
                # a plain (gate, inputs, options) triple: a Link costs three times as much
                # to make, once per layer per training step
                links.append((gate, (layer.U, layer.b), options))  # type: ignore[arg-type]
                width = layer.out_features
            elif not _add_links(layer, links, (n, width), array.dtype):
                return None
        shape = (n, self.sizes[-1])
        if not logits and not _add_links(self.output_layer, links, shape, array.dtype):
            return None
        return array, links, shape

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


_NO_OPTIONS: Mapping[str, Any] = MappingProxyType({})


def _chain_steps(
    steps: list[tuple[Module, Activation | None]],
) -> list[tuple[Module, Gate | None, Activation | None]] | None:
    """The fused steps as gate_chain applies them: each Linear with the one gate that
    computes it and its activation, and the activation when that has options to read
    (per call, so a changed option is seen); other modules with None, for _add_links.
    None when a Linear has no such gate (no bias, or an activation the table does not
    fuse): the network is then not a chain."""
    chain_steps: list[tuple[Module, Gate | None, Activation | None]] = []
    for layer, activation in steps:
        if not isinstance(layer, Linear):
            chain_steps.append((layer, None, None))
            continue
        gate = layer.gate_with(activation)
        if gate is None:
            return None
        has_options = activation is not None and (
            type(activation).gate_options is not Activation.gate_options
        )
        chain_steps.append((layer, gate, activation if has_options else None))
    return chain_steps


def _add_links(module: Module, links: list[Link], shape: tuple[int, ...], dtype: Any) -> bool:
    """Append the links that compute ``module`` on a value of this shape and dtype (none
    for an identity, or for dropout that is off); False when it is not a chain of gates.
    Active dropout draws its mask now, as its forward would, and multiplies by it."""
    if isinstance(module, Dropout):
        if module.active:
            links.append(Link(MUL, (constant(module.draw_scale(shape, dtype)),)))
        return True
    if isinstance(module, Identity):
        return True
    if isinstance(module, Activation) and module.gate is not None:
        links.append(Link(module.gate, (), module.gate_options()))
        return True
    return False
