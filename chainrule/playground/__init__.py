"""``chainrule playground``: a local web page where a network learns live on 2-D data and
backprop is stepped through node by node (extra ``chainrule[playground]``: starlette and
uvicorn).  The page draws what the server sends; every number comes from chainrule."""

from .protocol import LIMITS, Limits, ProtocolError

__all__ = ["LIMITS", "Limits", "ProtocolError", "serve"]


def serve(host: str = "127.0.0.1", port: int = 8000, open_browser: bool = True) -> None:
    """Run the playground's server until interrupted (see :func:`.app.serve`)."""
    from .app import serve as _serve

    _serve(host, port, open_browser)
