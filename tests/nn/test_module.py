"""Module: discovery, modes, state_dict and its errors."""

import numpy as np
import pytest

from chainrule import nn


class TwoLayers(nn.Module):
    def __init__(self):
        self.first = nn.Linear(2, 3, rng=0)
        self.blocks = [nn.Linear(3, 3, rng=1), nn.ReLU()]
        self.scale = nn.Parameter(np.ones(1, dtype=np.float32))

    def forward(self, x):
        x = self.first(x)
        for block in self.blocks:
            x = block(x)
        return x * self.scale


def test_parameters_are_found_recursively_in_order():
    model = TwoLayers()
    names = [n for n, _ in model.named_parameters()]
    assert names == ["scale", "first.U", "first.b", "blocks.0.U", "blocks.0.b"]
    assert len(model.parameters()) == 5
    assert all(p.requires_grad for p in model.parameters())


def test_zero_grad_train_eval():
    model = TwoLayers()
    model(np.ones((1, 2))).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    model.eval()
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())


def test_state_dict_round_trip_copies():
    a, b = TwoLayers(), TwoLayers()
    b.first.U.data += 1.0
    state = a.state_dict()
    b.load_state_dict(state)
    np.testing.assert_array_equal(b.first.U.data, a.first.U.data)
    state["first.U"][...] = 99  # a copy: the model is untouched
    assert not np.any(a.first.U.data == 99)


def test_load_state_dict_names_missing_unexpected_and_misshapen_entries():
    model = TwoLayers()
    state = model.state_dict()
    del state["first.b"]
    state["extra"] = np.zeros(2)
    state["first.U"] = np.zeros((3, 3))
    with pytest.raises(nn.StateDictError) as error:
        model.load_state_dict(state)
    message = str(error.value)
    assert "missing entries: first.b" in message
    assert "unexpected entries: extra" in message
    assert "'first.U' has shape (3, 3), expected (2, 3)" in message
