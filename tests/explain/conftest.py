import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def chainrule_command(*python_options: str) -> list[str]:
    """python -m chainrule from this tree (the installed script may import another one)."""
    return [sys.executable, *python_options, "-m", "chainrule"]


@pytest.fixture
def run_cli_raw(tmp_path):
    def run(*args, python_options: tuple[str, ...] = (), env: dict[str, str] | None = None):
        environment = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
        return subprocess.run(
            [*chainrule_command(*python_options), *map(str, args)],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=environment,
            timeout=120,
        )

    return run


@pytest.fixture
def run_cli(run_cli_raw):
    def run(*args, **options):
        result = run_cli_raw(*args, **options)
        assert result.returncode == 0, result.stderr
        return result

    return run
