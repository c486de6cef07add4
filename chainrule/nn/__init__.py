"""Networks: modules, layers, the notes' MLP, losses and initialisers."""

from . import functional, init
from .functional import LossInputError
from .layers import (
    ACTIVATIONS,
    ELU,
    GELU,
    Activation,
    Dropout,
    Identity,
    LeakyReLU,
    Linear,
    ReLU,
    Sigmoid,
    Softmax,
    Softplus,
    Tanh,
    make_activation,
)
from .losses import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    FunctionLoss,
    Loss,
    MSELoss,
    NLLLoss,
    get_loss,
    objective,
    value_and_grad,
)
from .mlp import MLP
from .module import Module, Parameter, Sequential, StateDictError

__all__ = [
    "ACTIVATIONS",
    "ELU",
    "GELU",
    "MLP",
    "Activation",
    "BCELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "Dropout",
    "FunctionLoss",
    "Identity",
    "LeakyReLU",
    "Linear",
    "Loss",
    "LossInputError",
    "MSELoss",
    "Module",
    "NLLLoss",
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Softplus",
    "StateDictError",
    "Tanh",
    "functional",
    "get_loss",
    "init",
    "make_activation",
    "objective",
    "value_and_grad",
]
