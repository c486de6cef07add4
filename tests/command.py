"""Running this tree's command line in a subprocess: ``python -m chainrule`` with the tree
first on PYTHONPATH, so a test exercises the code beside it whatever ``chainrule`` script
is installed (tests/cli runs the installed script on purpose)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def chainrule_env(**extra: str) -> dict[str, str]:
    """The environment of a run: this tree first on PYTHONPATH, no forced colour."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), **extra}
    env.pop("FORCE_COLOR", None)
    return env


def run_chainrule(
    *args: object,
    cwd: str | os.PathLike,
    timeout: float = 120,
    env: dict[str, str] | None = None,
    python_options: tuple[str, ...] = (),
) -> subprocess.CompletedProcess:
    """``python [OPTIONS] -m chainrule ARGS`` in ``cwd``, output captured as text."""
    return subprocess.run(
        [sys.executable, *python_options, "-m", "chainrule", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=chainrule_env(**(env or {})),
        timeout=timeout,
    )
