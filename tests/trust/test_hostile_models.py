"""Issue 16, section 3: every hostile model file of the corpus (tests/trust/hostile_models.py)
is refused by the library with a ModelFileError naming the file, and by ``inspect``,
``predict`` and ``export`` with exit 1 and one line ``chainrule: error: ...`` naming it, in
bounded time and memory (the commands run under a 2 GB address-space limit, so a huge
allocation fails the test rather than the machine)."""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
from pathlib import Path

import pytest

import chainrule as cr
from chainrule.io import ModelFileError
from tests.trust.hostile_models import CASES, Case, write_corpus

ROOT = Path(__file__).resolve().parents[2]
MEMORY_LIMIT = 2 * 1024**3
SECONDS_PER_CASE = 10.0
BY_NAME = {case.name: case for case in CASES}


def limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def chainrule(
    *args: str | os.PathLike, cwd: Path, timeout: float = 60
) -> subprocess.CompletedProcess:
    """``python -m chainrule`` from this tree, under the memory limit."""
    return subprocess.run(
        [sys.executable, "-m", "chainrule", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        preexec_fn=limit_memory,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("hostile")
    write_corpus(folder)
    (folder / "data.csv").write_text("f0,f1,f2,f3\n1,2,3,4\n")
    return folder


def check_message(case: Case, message: str) -> None:
    assert "\n" not in message and len(message) < 400, message
    assert case.filename in message, message
    assert re.search(case.says, message), f"{case.name}: {message!r} !~ {case.says!r}"


# Each case through the library and each command, in one process under the memory limit:
# cr.load and TabularModel.load, and chainrule.cli.main for inspect, predict and export with
# stdout and stderr captured; an exception escaping, or a call outliving its time bound (an
# alarm interrupts a blocking open), is reported as such.
DRIVER = """
import contextlib, io, json, signal, sys, time, traceback
from pathlib import Path
import chainrule as cr
from chainrule.cli import main
from chainrule.tabular import TabularModel
folder, names, seconds = Path(sys.argv[1]), json.loads(sys.argv[2]), float(sys.argv[3])

class TookTooLong(BaseException):
    pass

def expire(signum, frame):
    raise TookTooLong()

signal.signal(signal.SIGALRM, expire)

def bounded(call):
    out, err = io.StringIO(), io.StringIO()
    started = time.perf_counter()
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = call()
    except TookTooLong:
        code = "took too long"
    except cr.io.ModelFileError as error:
        code, err = "refused", io.StringIO(str(error))
    except BaseException:
        code, err = "escaped", io.StringIO(traceback.format_exc())
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return {"code": code, "stdout": out.getvalue(), "stderr": err.getvalue(),
            "seconds": time.perf_counter() - started}

results = {}
for name in names:
    path = folder / f"{name}.safetensors"
    calls = {
        "inspect": lambda: main(["inspect", str(path)]),
        "predict": lambda: main(["predict", str(path), str(folder / "data.csv")]),
        "export": lambda: main(["export", str(path), str(folder / f"{name}.onnx")]),
        "cr.load": lambda: cr.load(path) and "loaded",
        "TabularModel.load": lambda: TabularModel.load(path) and "loaded",
    }
    results[name] = {call: bounded(function) for call, function in calls.items()}
    results[name]["export"]["wrote"] = (folder / f"{name}.onnx").exists()
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def outcomes(corpus) -> dict[str, dict[str, dict]]:
    """case -> call -> {code, stdout, stderr, seconds}, from one run of DRIVER."""
    result = subprocess.run(
        [sys.executable, "-c", DRIVER, str(corpus), json.dumps(list(BY_NAME)), "10"],
        capture_output=True,
        text=True,
        cwd=corpus,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        preexec_fn=limit_memory,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_the_library_refuses_it_naming_the_file(outcomes, case):
    for call in ("cr.load", "TabularModel.load"):
        outcome = outcomes[case.name][call]
        assert outcome["code"] == "refused", f"{call}: {outcome}"
        check_message(case, outcome["stderr"])


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_the_commands_refuse_it_in_one_line_naming_the_file(outcomes, corpus, case):
    for command in ("inspect", "predict", "export"):
        outcome = outcomes[case.name][command]
        assert outcome["code"] == 1, f"{command}: {outcome}"
        assert outcome["seconds"] < SECONDS_PER_CASE, f"{command}: {outcome}"
        assert outcome["stdout"] == "", f"{command}: {outcome}"
        lines = outcome["stderr"].splitlines()
        assert len(lines) == 1 and lines[0].startswith("chainrule: error: "), lines
        check_message(case, lines[0])
    assert not outcomes[case.name]["export"]["wrote"], "export wrote a file"


# The cases the issue names, as real processes (the console's exit, nothing but one line).
ISSUE_CASES = [
    "header_nested_100000",
    "info_nested_900",
    "activation_a_list",
    "dtype_a_dict",
    "target_scaling_10_400",
    "integer_of_5000_digits",
    "sizes_10_30",
    "sizes_100000_wide",
    "sizes_20000_wide",
    "hidden_layers_20000",
    "target_scaling_nan",
    "weights_3e38",
    "zero_device",
    "fifo",
    "sparse_40_gb",
]


@pytest.mark.parametrize("name", ISSUE_CASES)
def test_inspect_refuses_the_issues_cases_in_a_real_process(corpus, name):
    case = BY_NAME[name]
    result = chainrule("inspect", case.filename, cwd=corpus, timeout=SECONDS_PER_CASE + 20)
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("chainrule: error: "), result.stderr
    check_message(case, lines[0])


@pytest.mark.parametrize("name", ["fifo", "sparse_40_gb", "weights_3e38", "target_scaling_nan"])
def test_predict_and_export_refuse_them_and_write_nothing(corpus, tmp_path, name):
    case = BY_NAME[name]
    out = tmp_path / "out"
    for args in (("predict", "-o", out), ("export",)):
        command, *options = args
        tail = [corpus / "data.csv", *options] if command == "predict" else [out]
        result = chainrule(command, corpus / case.filename, *tail, cwd=tmp_path)
        assert result.returncode == 1, result.stderr
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("chainrule: error: "), result.stderr
        check_message(case, lines[0])
        assert not out.exists()


def test_a_csv_given_as_the_model_is_called_what_it_is(tmp_path):
    """'inspect data.csv' said 'header of 3201055929489648737 bytes is larger than ...'."""
    data = tmp_path / "data.csv"
    data.write_text("sepal_length,sepal_width,species\n5.1,3.5,setosa\n")
    result = chainrule("inspect", data, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == (
        f"chainrule: error: {data}: not a chainrule model file: it begins with text "
        "(a CSV file?); the first argument is the model file (what chainrule train writes)\n"
    )
    with pytest.raises(ModelFileError, match="not a chainrule model file") as caught:
        cr.load(data)
    assert caught.value.text


def test_the_corpus_script_writes_every_case(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "tests.trust.hostile_models", str(tmp_path / "corpus")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    written = {p.name for p in (tmp_path / "corpus").iterdir()}
    assert {case.filename for case in CASES} <= written
