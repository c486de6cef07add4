"""`chainrule playground`: it serves the page on 127.0.0.1 and prints its address; a bad
port is one error line; another host than a loopback one is served with a warning."""

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from chainrule.playground import app
from tests.playground.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def test_playground_serves_the_page_and_prints_its_address():
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "chainrule", "playground", "--port", str(port), "--no-browser"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    try:
        line = process.stdout.readline()
        assert f"http://127.0.0.1:{port}/" in line
        deadline = time.monotonic() + 20
        while True:
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read()
                break
            except OSError:
                assert time.monotonic() < deadline, "the page was not served within 20 s"
                time.sleep(0.1)
        assert b"chainrule" in page and b"/static/app.js" in page
        script = urllib.request.urlopen(f"http://127.0.0.1:{port}/static/app.js", timeout=5).read()
        assert b"WebSocket" in script
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_a_bad_port_is_one_error_line():
    result = subprocess.run(
        [sys.executable, "-m", "chainrule", "playground", "--port", "http"],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=60,
    )
    assert result.returncode == 2
    assert "a port is a whole number from 0 to 65535, got 'http'" in result.stderr
    assert "Traceback" not in result.stderr


def test_another_host_than_loopback_is_served_with_a_warning(monkeypatch, capsys):
    served = []

    class Stub:
        def run(self):
            served.append(True)

    monkeypatch.setattr(app, "server", lambda host, port: Stub())
    app.serve("192.0.2.1", 8000, open_browser=False)
    err = capsys.readouterr().err
    assert "warning: serving on 192.0.2.1, not a loopback address" in err and served
    app.serve("127.0.0.1", 8000, open_browser=False)
    assert "warning" not in capsys.readouterr().err
    assert app.is_loopback("::1") and app.is_loopback("localhost")
    assert not app.is_loopback("0.0.0.0")
