"""The WebSocket protocol's checks, without a server: every malformed or hostile message is
a ProtocolError whose text names the problem; good messages come out typed."""

import json

import pytest

from chainrule.playground.protocol import LIMITS, ProtocolError, parse


def message(**fields) -> str:
    return json.dumps(fields)


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ("{not json", "not a JSON message"),
        ("[1, 2]", "a message is a JSON object"),
        ('"play"', "a message is a JSON object"),
        (message(type="launch"), "unknown message type 'launch'"),
        (message(kind="play"), "unknown message type None"),
        (message(type=["play"]), "unknown message type"),
        (message(type="play", extra=1), "unknown field(s) extra"),
        (message(type="step", count="3"), "step.count: expected a number, got text"),
        (message(type="step", count=True), "step.count: expected a number, got true/false"),
        (message(type="step", count=2.5), "step.count: expected a whole number"),
        (message(type="step", count=10**6), "step.count: 1000000 is out of range"),
        ('{"type": "step", "count": 1e999}', "step.count: expected a whole number"),
        ('{"type": "step", "count": NaN}', "not a JSON message"),
        ('{"type": "step", "count": Infinity}', "not a JSON message"),
        ('{"type": "step", "count": ' + "9" * 5000 + "}", "not a JSON message"),
        (message(type="config", changes=[]), "config.changes: expected an object"),
        (message(type="config", changes={"hidden": [8] * 7}), "at most 6 hidden layers"),
        (message(type="config", changes={"hidden": [9]}), "at most 8 neurons in a hidden layer"),
        (message(type="config", changes={"points": 10**7}), "config.points: 10000000 is out"),
        (message(type="config", changes={"lr": -1}), "config.lr: -1 is out of range"),
        (message(type="config", changes={"dataset": "mnist"}), "'mnist' is not one of"),
        (message(type="config", changes={"activations": ["os.system"]}), "is not one of"),
        (message(type="config", changes={"features": ["x1", "x1"]}), "a feature is named twice"),
        (message(type="config", changes={"__class__": 1}), "unknown setting '__class__'"),
        (message(type="trace", expression="x", at={"x": "1"}), "trace.at.x: expected a number"),
        (message(type="trace", expression="x", at={"os.x": 1}), "is not a variable name"),
        (message(type="trace", expression="x" * 201, at={}), "201 characters; allowed 1 to 200"),
        (message(type="trace", expression="x", at={f"v{i}": 1 for i in range(17)}), "at most 16"),
        (message(type="sample", index=-1), "sample.index: -1 is out of range"),
        (message(type="columns", x="a"), "columns: missing field 'y'"),
        (message(type="play", pad="x" * LIMITS.message_bytes), "the limit is 64000"),
        (message(type="upload", text="x" * (LIMITS.upload_bytes + 10)), "allowed 1 to 1000000"),
        (b"\xff\xfe\x00", "not a JSON message"),
    ],
)
def test_bad_messages_are_refused_with_their_reason(raw, named):
    with pytest.raises(ProtocolError) as error:
        parse(raw)
    assert named in str(error.value)


def test_good_messages_come_out_checked_and_typed():
    assert parse(message(type="play")) == ("play", {})
    assert parse(message(type="step", count=3.0)) == ("step", {"count": 3})
    kind, fields = parse(
        message(type="config", changes={"hidden": [8, 8], "lr": 1, "features": ["x1", "sin x2"]})
    )
    assert kind == "config"
    assert fields["changes"] == {"hidden": (8, 8), "lr": 1.0, "features": ("x1", "sin x2")}
    assert isinstance(fields["changes"]["lr"], float)
    _, fields = parse(message(type="trace", expression="(x+y)*z", at={"x": -2, "y": 5}))
    assert fields == {"expression": "(x+y)*z", "at": {"x": -2.0, "y": 5.0}}
