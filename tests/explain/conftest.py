import pytest

from tests.cli.conftest import chainrule_command


@pytest.fixture
def run_cli_raw(tmp_path):
    import subprocess

    def run(*args):
        return subprocess.run(
            [*chainrule_command(), *map(str, args)], capture_output=True, text=True, cwd=tmp_path
        )

    return run


@pytest.fixture
def run_cli(run_cli_raw):
    def run(*args):
        result = run_cli_raw(*args)
        assert result.returncode == 0, result.stderr
        return result

    return run
