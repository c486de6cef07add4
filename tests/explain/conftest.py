import pytest

from tests.command import run_chainrule


@pytest.fixture
def run_cli_raw(tmp_path):
    def run(*args, python_options: tuple[str, ...] = (), env: dict[str, str] | None = None):
        return run_chainrule(*args, cwd=tmp_path, env=env, python_options=python_options)

    return run


@pytest.fixture
def run_cli(run_cli_raw):
    def run(*args, **options):
        result = run_cli_raw(*args, **options)
        assert result.returncode == 0, result.stderr
        return result

    return run
