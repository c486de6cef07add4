"""The playground's ASGI app (starlette): the static page, and one WebSocket per tab, each
with its own :class:`~.session.Session`.

A tab's connection runs two tasks: the reader (every message checked by
:mod:`.protocol`, refused with an ``error`` reply that the page shows; the connection goes
on) and, while playing, the trainer (``steps_per_frame`` steps, then a frame, at most
``frames_per_second`` a second).  The training runs in a worker thread so the reader keeps
answering; a lock keeps the two from touching the session at once.  Closing the tab ends
both tasks and drops the session.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import sys
import threading
import time
import webbrowser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..errors import MissingExtraError
from . import protocol
from .protocol import LIMITS, ProtocolError
from .session import Session

try:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import FileResponse
    from starlette.routing import Mount, Route, WebSocketRoute
    from starlette.staticfiles import StaticFiles
    from starlette.websockets import WebSocket, WebSocketDisconnect
except ImportError:  # pragma: no cover - the extra is installed in the tests
    raise MissingExtraError(
        "the playground needs starlette and uvicorn: pip install 'chainrule[playground]'"
    ) from None

STATIC = Path(__file__).parent / "static"
ACTIVE: set[Connection] = set()  # the open tabs' connections (a closed tab leaves)


def same_origin(websocket: WebSocket) -> bool:
    """Whether the page that opened this WebSocket was served by this server: a browser
    always sends Origin, so another site's page cannot drive a local playground.  A client
    that is not a browser (no Origin) is let in."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True
    host = websocket.headers.get("host", "")
    return urlsplit(origin).netloc == host


class Connection:
    """One tab: its session, its trainer task, and the replies it is sent."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        self.session = Session()
        self.lock = asyncio.Lock()  # the session: one user at a time
        self.send_lock = asyncio.Lock()
        self.trainer: asyncio.Task | None = None
        self.recent: list[float] = []  # arrival times of the last second's messages

    async def send(self, message: dict[str, Any]) -> None:
        text = json.dumps(message, allow_nan=False, default=_plain)
        async with self.send_lock:
            await self.websocket.send_text(text)

    async def error(self, text: str, about: str | None = None) -> None:
        await self.send({"type": "error", "message": text, "about": about})

    def too_fast(self) -> bool:
        now = time.monotonic()
        self.recent = [t for t in self.recent if now - t < 1.0]
        self.recent.append(now)
        return len(self.recent) > LIMITS.messages_per_second

    async def run(self) -> None:
        ACTIVE.add(self)
        try:
            await self._serve()
        finally:
            self.stop()
            ACTIVE.discard(self)

    async def _serve(self) -> None:
        await self.send(hello())
        await self.send(self.session.state())
        await self.send(self.session.frame())
        try:
            while True:
                message = await self.websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                raw = message.get("text")
                if raw is None:
                    raw = message.get("bytes") or b""
                if self.too_fast():
                    await self.error(
                        f"too many messages: at most {LIMITS.messages_per_second} a second"
                    )
                    continue
                await self.handle(raw)
        except WebSocketDisconnect:
            pass

    async def handle(self, raw: str | bytes) -> None:
        kind = None
        try:
            kind, fields = protocol.parse(raw)
            await getattr(self, f"on_{kind}")(**fields)
        except ProtocolError as error:
            await self.error(str(error), kind)
        except (ValueError, ArithmeticError) as error:  # the library's refusal, in words
            await self.error(_first_line(error), kind)
        except WebSocketDisconnect:
            raise
        except Exception as error:  # never let one message end the connection
            await self.error(f"internal error ({type(error).__name__}): {error}", kind)

    # --- messages --------------------------------------------------------------------------

    async def on_config(self, changes: dict[str, Any]) -> None:
        async with self.lock:
            rebuilt = self.session.configure(changes)
            if rebuilt != "settings":
                await self.send(self.session.state())
            await self.send(self.session.frame())

    async def on_play(self) -> None:
        if self.trainer is None or self.trainer.done():
            self.trainer = asyncio.create_task(self.train_live())
        await self.send({"type": "playing", "playing": True})

    async def on_pause(self) -> None:
        self.stop()
        await self.send({"type": "playing", "playing": False})

    async def on_step(self, count: int = 1) -> None:
        async with self.lock:
            await asyncio.to_thread(self.session.train, count)
            await self.send(self.session.frame())

    async def on_reset(self) -> None:
        async with self.lock:
            self.session.reset()
            await self.send(self.session.state())
            await self.send(self.session.frame())

    async def on_regenerate(self) -> None:
        async with self.lock:
            self.session.regenerate()
            await self.send(self.session.state())
            await self.send(self.session.frame())

    async def on_trace(self, expression: str, at: dict[str, float], gates: str = "as-typed"):
        from .walkthrough import trace_message

        await self.send(await asyncio.to_thread(trace_message, expression, at, gates))

    async def on_upload(self, text: str, name: str = "upload.csv") -> None:
        from .upload import header

        self.upload_text = text
        self.upload_name = name
        await self.send({"type": "columns", "name": name, "columns": header(text, name)})

    async def on_columns(self, x: str, y: str, target: str) -> None:
        from .upload import points

        text = getattr(self, "upload_text", None)
        if text is None:
            raise ProtocolError("upload a CSV file before choosing its columns")
        async with self.lock:
            loaded = await asyncio.to_thread(points, text, self.upload_name, x, y, target)
            self.session.use_upload(loaded)
            await self.send(self.session.state())
            await self.send(self.session.frame())

    async def on_sample(self, index: int) -> None:
        from .walkthrough import network_walk

        async with self.lock:
            await self.send(network_walk(self.session, index))

    # --- live training ---------------------------------------------------------------------

    async def train_live(self) -> None:
        """Steps then a frame, again and again, at most frames_per_second a second."""
        period = 1.0 / LIMITS.frames_per_second
        try:
            while True:
                started = time.monotonic()
                async with self.lock:
                    steps = self.session.config.steps_per_frame
                    frame = await asyncio.to_thread(_train_and_frame, self.session, steps)
                await self.send(frame)
                await asyncio.sleep(max(0.0, period - (time.monotonic() - started)))
        except (WebSocketDisconnect, RuntimeError, OSError):
            return  # the tab went away: the reader ends the connection
        except (ValueError, ArithmeticError) as error:  # training failed: say so, stop
            await self.error(f"training stopped: {_first_line(error)}")
            await self.send({"type": "playing", "playing": False})

    def stop(self) -> None:
        if self.trainer is not None:
            self.trainer.cancel()
            self.trainer = None


def _train_and_frame(session: Session, steps: int) -> dict[str, Any]:
    session.train(steps)
    return session.frame()


def _first_line(error: BaseException) -> str:
    text = str(error)
    return text.splitlines()[0] if text else type(error).__name__


def _plain(value: Any) -> Any:
    """NumPy numbers and arrays as JSON."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON")


def hello() -> dict[str, Any]:
    """What the page needs to build its controls: the choices and the limits."""
    from ..lecture import traced_examples
    from .data import DATASETS, FEATURES

    return {
        "type": "hello",
        "datasets": {name: label for name, (label, _, _) in DATASETS.items()},
        "features": list(FEATURES),
        "activations": list(protocol.HIDDEN_ACTIVATIONS),
        "optimizers": list(protocol.OPTIMIZERS),
        "limits": vars(LIMITS),
        "presets": [
            {
                "name": e.name,
                "title": e.title,
                "expression": e.expression,
                "at": e.at,
                "gates": e.gates,
            }
            for e in traced_examples()
        ],
    }


async def websocket_endpoint(websocket: WebSocket) -> None:
    if not same_origin(websocket):
        await websocket.close(code=1008)  # policy violation: another site's page
        return
    await websocket.accept()
    await Connection(websocket).run()


async def index(request) -> FileResponse:
    return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})


def create_app() -> Starlette:
    """The playground: the page at /, its files under /static, the WebSocket at /ws."""
    return Starlette(
        routes=[
            Route("/", index),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
            WebSocketRoute("/ws", websocket_endpoint),
        ]
    )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def server(host: str, port: int) -> uvicorn.Server:
    """A uvicorn server of the playground (not started)."""
    config = uvicorn.Config(
        create_app(),
        host=host,
        port=port,
        log_level="warning",
        ws_max_size=protocol.WS_MAX_BYTES,
        lifespan="off",
    )
    return uvicorn.Server(config)


def serve(host: str = "127.0.0.1", port: int = 8000, open_browser: bool = True) -> None:
    """Serve the playground on host:port until interrupted; print its address and, unless
    told not to, open it in the browser.  A host other than a loopback address is served
    with a warning: anyone who can reach it can use the machine's processor."""
    if not is_loopback(host):
        print(
            f"chainrule: warning: serving on {host}, not a loopback address: other machines "
            "can reach the playground; use --host 127.0.0.1 to keep it to this one",
            file=sys.stderr,
        )
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/"
    print(f"chainrule playground: {url}  (Ctrl+C stops it)", flush=True)
    if open_browser:
        threading.Timer(0.8, webbrowser.open, args=(url,)).start()
    server(host, port).run()
