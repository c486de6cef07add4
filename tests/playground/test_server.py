"""The server against raw WebSocket clients: malformed and hostile messages get an error
reply and the server goes on serving; each tab has its own network; closing a tab ends its
training and frees its session; another site's page is turned away."""

import json
import time
import urllib.request

import pytest

from chainrule.playground import app
from chainrule.playground.protocol import WS_MAX_BYTES

websockets_sync = pytest.importorskip("websockets.sync.client")


def connect(address: str, **options):
    return websockets_sync.connect(f"ws://{address}/ws", open_timeout=10, **options)


def receive(ws, kind: str, timeout: float = 10.0) -> dict:
    """The next message of type ``kind`` (others are skipped), within ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f"no {kind} message within {timeout} s"
        message = json.loads(ws.recv(timeout=left))
        if message["type"] == kind:
            return message


HOSTILE = [
    "{not json",
    "[]",
    "null",
    '{"type": 1}',
    '{"type": "shutdown"}',
    '{"type": "__init__"}',
    '{"type": "step", "count": "many"}',
    '{"type": "step", "count": 1e999}',
    '{"type": "step", "count": ' + "9" * 10000 + "}",
    '{"type": "config", "changes": {"hidden": [8, 8, 8, 8, 8, 8, 8]}}',
    '{"type": "config", "changes": {"hidden": [100000]}}',
    '{"type": "config", "changes": {"points": 100000000}}',
    '{"type": "config", "changes": {"batch": 400}}',
    '{"type": "config", "changes": {"dataset": "csv"}}',
    '{"type": "trace", "expression": "__import__(\'os\').system(\'true\')", "at": {}}',
    '{"type": "trace", "expression": "x.__class__.__bases__", "at": {"x": 1}}',
    '{"type": "trace", "expression": "log(x)", "at": {"x": -1}}',
    '{"type": "trace", "expression": "' + "(" * 150 + "x" + ")" * 49 + '", "at": {}}',
    '{"type": "columns", "x": "a", "y": "b", "target": "c"}',
    '{"type": "upload", "name": "../../etc/passwd", "text": "a,b\\n1,2\\n"}',
    '{"type": "sample", "index": 99999}',
    '{"type": "play", "padding": "' + "x" * 70000 + '"}',
    '{"type": "upload", "text": "' + "x" * 1_000_500 + '"}',
]


def test_malformed_and_hostile_messages_get_errors_and_the_server_goes_on(playground):
    with connect(playground, max_size=None) as ws:
        receive(ws, "frame")
        for raw in HOSTILE:
            ws.send(raw)
            error = receive(ws, "error")
            assert error["message"], raw[:60]
            time.sleep(1 / 50)  # under the rate limit
        ws.send(json.dumps({"type": "step", "count": 3}))
        assert receive(ws, "frame")["steps"] == 3
        # a message larger than the WebSocket layer takes closes this connection only
        ws.send("x" * (WS_MAX_BYTES + 10))
        with pytest.raises(Exception):  # noqa: B017 - the connection is closed, 1009
            for _ in range(100):
                ws.recv(timeout=10)
    with connect(playground) as ws:  # the server still serves
        ws.send(
            json.dumps({"type": "trace", "expression": "(x+y)*z", "at": {"x": -2, "y": 5, "z": -4}})
        )
        assert receive(ws, "trace")["trace"]["gradients"] == {"x": -4.0, "y": -4.0, "z": 3.0}
    page = urllib.request.urlopen(f"http://{playground}/", timeout=10).read().decode()
    assert "chainrule" in page


def test_a_flood_of_messages_is_refused_past_the_rate_limit(playground):
    with connect(playground) as ws:
        receive(ws, "frame")
        for _ in range(100):
            ws.send('{"type": "pause"}')
        errors = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            message = json.loads(ws.recv(timeout=10))
            if message["type"] == "error":
                errors.append(message["message"])
            if errors and "too many messages" in errors[-1]:
                break
        assert any("too many messages" in e for e in errors)


def test_each_tab_trains_its_own_network_and_closing_one_frees_it(playground):
    with connect(playground) as first, connect(playground) as second:
        receive(first, "frame"), receive(second, "frame")
        first.send(json.dumps({"type": "config", "changes": {"dataset": "xor", "hidden": [3]}}))
        first.send(json.dumps({"type": "config", "changes": {"activations": ["relu"]}}))
        assert receive(first, "error")  # hidden [3] with two activations: refused
        first.send(
            json.dumps({"type": "config", "changes": {"hidden": [3], "activations": ["relu"]}})
        )
        assert receive(first, "state")["sizes"] == [2, 3, 2]
        first.send('{"type": "play"}')
        receive(first, "playing")
        frames = [receive(first, "frame")["steps"] for _ in range(3)]
        assert frames == sorted(frames) and frames[-1] > 0
        second.send('{"type": "step"}')
        assert receive(second, "frame")["steps"] == 1  # its own network, untouched
        assert len(app.ACTIVE) >= 2
        playing = [c for c in app.ACTIVE if c.trainer is not None]
        assert len(playing) == 1
    # both tabs closed: their sessions are gone and the trainer has stopped
    deadline = time.monotonic() + 10
    while app.ACTIVE and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not app.ACTIVE
    assert playing[0].trainer is None


def test_a_page_of_another_site_cannot_connect(playground):
    with pytest.raises(Exception), connect(playground, origin="http://evil.example"):  # noqa: B017
        pass  # the handshake is refused (403)
