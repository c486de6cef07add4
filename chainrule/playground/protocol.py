"""The playground's WebSocket protocol: what the page may send, checked before anything
acts on it, and the limits that keep one tab from taking the machine.

Every message is one JSON object with a ``type``; its other fields are checked against the
table :data:`MESSAGES` (each field's kind, range or choices), so that validation is data,
not code.  Anything else (not JSON, not an object, a field of the wrong type, a number out
of range or not finite, an unknown type, too long) raises :class:`ProtocolError`, whose
message the server sends back to the page; the connection goes on.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from ..explain.expressions import GATE_MODES
from ..nn import ACTIVATIONS
from .data import DATASETS, FEATURES
from .session import OPTIMIZERS, REGULARIZATIONS


class ProtocolError(ValueError):
    """A message the server refuses; the text says why, for the page to show."""


@dataclass(frozen=True)
class Limits:
    """What one tab may ask for (stated on the page)."""

    hidden_layers: int = 6
    neurons: int = 8  # per hidden layer
    points: int = 1000  # toy data points
    min_points: int = 20
    upload_bytes: int = 1_000_000  # an uploaded CSV's text
    upload_rows: int = 5000
    message_bytes: int = 64_000  # any other message
    messages_per_second: int = 60
    steps_per_frame: int = 100  # training rate: steps per frame ...
    frames_per_second: int = 30  # ... and frames per second
    batch: int = 500
    expression_chars: int = 200
    variables: int = 16


LIMITS = Limits()
# The WebSocket layer refuses (closes) messages larger than this, before they are read.
WS_MAX_BYTES = 4 * LIMITS.upload_bytes

ACTIVATION_NAMES = tuple(sorted(ACTIVATIONS))
# the hidden activations offered (the output layer is chosen by the task)
HIDDEN_ACTIVATIONS = tuple(
    a for a in ("tanh", "relu", "sigmoid", "identity", "leaky_relu", "elu") if a in ACTIVATIONS
)


@dataclass(frozen=True)
class Field:
    """One field of a message: ``kind`` is int, float, str, bool, list or dict; numbers lie
    in [low, high]; strings and list items are among ``choices`` when given; ``items`` is
    the kind of a list's items; ``length`` bounds a string's or a list's length."""

    kind: type
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] | None = None
    items: type | None = None
    length: tuple[int, int] | None = None
    required: bool = True


L = LIMITS
CONFIG_FIELDS: dict[str, Field] = {
    "dataset": Field(str, choices=(*DATASETS, "csv")),
    "noise": Field(float, 0.0, 1.0),
    "train_ratio": Field(float, 0.1, 0.9),
    "points": Field(int, L.min_points, L.points),
    "seed": Field(int, 0, 2**31 - 1),
    "features": Field(list, items=str, choices=tuple(FEATURES), length=(1, len(FEATURES))),
    "hidden": Field(list, 1, L.neurons, items=int, length=(0, L.hidden_layers)),
    "activations": Field(list, items=str, choices=HIDDEN_ACTIVATIONS, length=(0, L.hidden_layers)),
    "lr": Field(float, 1e-5, 10.0),
    "batch": Field(int, 1, L.batch),
    "optimizer": Field(str, choices=OPTIMIZERS),
    "regularization": Field(str, choices=REGULARIZATIONS),
    "reg_rate": Field(float, 0.0, 1.0),
    "steps_per_frame": Field(int, 1, L.steps_per_frame),
}

MESSAGES: dict[str, dict[str, Field]] = {
    "config": {"changes": Field(dict)},  # its entries: CONFIG_FIELDS, each optional
    "play": {},
    "pause": {},
    "step": {"count": Field(int, 1, L.steps_per_frame, required=False)},
    "reset": {},
    "regenerate": {},
    "trace": {
        "expression": Field(str, length=(1, L.expression_chars)),
        "at": Field(dict),  # name -> number, at most L.variables
        "gates": Field(str, choices=GATE_MODES, required=False),
    },
    "upload": {
        "name": Field(str, length=(0, 200), required=False),
        "text": Field(str, length=(1, L.upload_bytes)),
    },
    "columns": {
        "x": Field(str, length=(1, 200)),
        "y": Field(str, length=(1, 200)),
        "target": Field(str, length=(1, 200)),
    },
    "sample": {"index": Field(int, 0, L.points + L.upload_rows)},
}


def parse(raw: str | bytes) -> tuple[str, dict[str, Any]]:
    """(type, fields) of one message from the page, checked; ProtocolError if it is not
    acceptable (the message names the field and what was expected)."""
    size = len(raw.encode("utf-8") if isinstance(raw, str) else raw)
    if size > L.upload_bytes + 1000:
        raise ProtocolError(f"message of {size} bytes; the limit is {L.upload_bytes + 1000}")
    try:
        message = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError) as error:  # not JSON, bad UTF-8, a 5000-digit number
        raise ProtocolError(f"not a JSON message: {_first_line(error)}") from None
    if not isinstance(message, dict):
        raise ProtocolError(f"a message is a JSON object, got {type(message).__name__}")
    kind = message.get("type")
    if not isinstance(kind, str) or kind not in MESSAGES:
        shown = repr(kind)[:40]
        raise ProtocolError(f"unknown message type {shown}; expected one of {', '.join(MESSAGES)}")
    if kind != "upload" and size > L.message_bytes:
        raise ProtocolError(f"{kind} message of {size} bytes; the limit is {L.message_bytes}")
    spec = MESSAGES[kind]
    extra = set(message) - set(spec) - {"type"}
    if extra:
        raise ProtocolError(f"{kind}: unknown field(s) {', '.join(sorted(map(str, extra)))[:80]}")
    fields = {}
    for name, field in spec.items():
        if name not in message:
            if field.required:
                raise ProtocolError(f"{kind}: missing field '{name}'")
            continue
        fields[name] = check(f"{kind}.{name}", message[name], field)
    if kind == "config":
        fields["changes"] = config_changes(fields["changes"])
    elif kind == "trace":
        fields["at"] = point(fields["at"])
    return kind, fields


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number the playground takes")


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0][:120]


def check(where: str, value: Any, field: Field) -> Any:
    """``value`` as ``field`` wants it, or ProtocolError naming ``where``."""
    if field.kind is list:
        if not isinstance(value, list):
            raise ProtocolError(f"{where}: expected a list, got {_kind(value)}")
        low, high = field.length or (0, 100)
        if not low <= len(value) <= high:
            raise ProtocolError(f"{where}: {len(value)} items; allowed {low} to {high}")
        item = Field(field.items or str, field.low, field.high, field.choices)
        return [check(f"{where}[{i}]", v, item) for i, v in enumerate(value)]
    if field.kind is dict:
        if not isinstance(value, dict):
            raise ProtocolError(f"{where}: expected an object, got {_kind(value)}")
        return value
    if field.kind is str:
        if not isinstance(value, str):
            raise ProtocolError(f"{where}: expected text, got {_kind(value)}")
        if field.length and not field.length[0] <= len(value) <= field.length[1]:
            low, high = field.length
            raise ProtocolError(f"{where}: {len(value)} characters; allowed {low} to {high}")
        if field.choices is not None and value not in field.choices:
            raise ProtocolError(f"{where}: {value[:40]!r} is not one of {', '.join(field.choices)}")
        return value
    if field.kind is bool:
        if not isinstance(value, bool):
            raise ProtocolError(f"{where}: expected true or false, got {_kind(value)}")
        return value
    # numbers: a bool is not one; an int field takes whole numbers only
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ProtocolError(f"{where}: expected a number, got {_kind(value)}")
    if field.kind is int and not isinstance(value, int):
        if not (math.isfinite(value) and value == int(value)):
            raise ProtocolError(f"{where}: expected a whole number, got {value!r}")
        value = int(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise ProtocolError(f"{where}: {value} is not a finite number")
    if (field.low is not None and value < field.low) or (
        field.high is not None and value > field.high
    ):
        shown = f"{value:.6g}" if isinstance(value, float) else str(value)[:20]
        raise ProtocolError(f"{where}: {shown} is out of range [{field.low:g}, {field.high:g}]")
    return field.kind(value)


def config_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """The checked settings of a ``config`` message (lists become tuples)."""
    checked = {}
    for name, value in changes.items():
        if name not in CONFIG_FIELDS:
            raise ProtocolError(f"config: unknown setting {str(name)[:40]!r}")
        field = CONFIG_FIELDS[name]
        if name == "hidden" and isinstance(value, list) and len(value) > L.hidden_layers:
            raise ProtocolError(f"at most {L.hidden_layers} hidden layers")
        if name == "hidden" and isinstance(value, list):
            for width in value:
                if isinstance(width, int) and not isinstance(width, bool) and width > L.neurons:
                    raise ProtocolError(f"at most {L.neurons} neurons in a hidden layer")
        value = check(f"config.{name}", value, field)
        if name == "features" and len(set(value)) != len(value):
            raise ProtocolError("config.features: a feature is named twice")
        checked[name] = tuple(value) if isinstance(value, list) else value
    return checked


def point(at: dict[str, Any]) -> dict[str, float]:
    """A trace's point: at most L.variables names, each a finite number."""
    if len(at) > L.variables:
        raise ProtocolError(f"trace.at: {len(at)} variables; at most {L.variables}")
    values = {}
    for name, value in at.items():
        if not name.isidentifier() or len(name) > 20:
            raise ProtocolError(f"trace.at: {name[:20]!r} is not a variable name")
        values[name] = check(f"trace.at.{name}", value, Field(float, -1e6, 1e6))
    return values


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {
        bool: "true/false",
        int: "a number",
        float: "a number",
        str: "text",
        list: "a list",
        dict: "an object",
    }.get(type(value), type(value).__name__)
