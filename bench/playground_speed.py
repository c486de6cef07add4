"""The playground's live speed: a 2-8-8-2 network on 500 points at batch 10.

* server: training steps per second (``Session.train``), and the time to build one frame
  (every neuron's 40x40 heatmap, the 80x80 decision surface, weights, losses);
* client: frames per second reaching a WebSocket client while playing, and the steps each
  frame carries, for several steps-per-frame settings (the server caps frames at 30 a
  second).  The client is a plain WebSocket client (``websockets``), reading and decoding
  every frame's heatmaps as the page does (base64 -> bytes).

Run: PYTHONPATH=. python bench/playground_speed.py [--seconds 5]
"""

from __future__ import annotations

import argparse
import base64
import json
import socket
import threading
import time

from websockets.sync.client import connect

from chainrule.playground.app import server
from chainrule.playground.session import GRID, Config, Session

CONFIG = {"dataset": "spiral", "points": 500, "hidden": [8, 8],
          "activations": ["tanh", "tanh"], "batch": 10}  # fmt: skip


def server_speed(steps: int = 5000) -> tuple[float, float]:
    session = Session(Config(dataset="spiral", points=500, hidden=(8, 8),
                             activations=("tanh", "tanh"), batch=10))  # fmt: skip
    started = time.perf_counter()
    session.train(steps)
    per_second = steps / (time.perf_counter() - started)
    started = time.perf_counter()
    for _ in range(50):
        session.frame()
    return per_second, (time.perf_counter() - started) / 50 * 1000


def client_speed(address: str, steps_per_frame: int, seconds: float) -> tuple[float, float, int]:
    with connect(f"ws://{address}/ws", max_size=None, open_timeout=10) as ws:
        ws.send(
            json.dumps(
                {"type": "config", "changes": {**CONFIG, "steps_per_frame": steps_per_frame}}
            )
        )
        ws.send(json.dumps({"type": "play"}))
        frames, first_steps, last_steps, started, size = 0, None, 0, None, 0
        while True:
            message = json.loads(ws.recv(timeout=10))
            if message["type"] != "frame" or message["steps"] == 0:
                continue
            maps = base64.b64decode(message["maps"])
            assert len(maps) == (2 + 8 + 8 + 2) * GRID * GRID
            if started is None:
                started, first_steps = time.perf_counter(), message["steps"]
                continue
            frames += 1
            last_steps, size = message["steps"], len(maps)
            if time.perf_counter() - started >= seconds:
                break
        elapsed = time.perf_counter() - started
        ws.send(json.dumps({"type": "pause"}))
    return frames / elapsed, (last_steps - first_steps) / frames, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    running = server("127.0.0.1", port)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not running.started:
        if time.monotonic() > deadline:
            raise SystemExit("the server did not start")
        time.sleep(0.05)
    try:
        steps, frame_ms = server_speed()
        print(
            f"server: {steps:,.0f} training steps/s (2-8-8-2, batch 10); "
            f"one frame built in {frame_ms:.2f} ms (20 heatmaps of {GRID}x{GRID} + surface)"
        )
        print(
            f"{'steps/frame':>12} {'frames/s at client':>19} {'steps/frame seen':>17} "
            f"{'steps/s live':>13} {'heatmap bytes/frame':>20}"
        )
        for steps_per_frame in (10, 20, 50, 100):
            fps, seen, size = client_speed(f"127.0.0.1:{port}", steps_per_frame, args.seconds)
            print(
                f"{steps_per_frame:>12} {fps:>19.1f} {seen:>17.1f} {fps * seen:>13,.0f} {size:>20,}"
            )
    finally:
        running.should_exit = True
        thread.join(timeout=10)


if __name__ == "__main__":
    main()
