"""Issue 16, section 2: files you can trust.  Output paths that are devices, FIFOs or links,
file modes, outputs that are inputs, signals during a write, full disks, Ctrl-C, and a reader
of standard output that goes away.  Every device here is a private node made in tmp_path."""

import contextlib
import errno
import os
import random
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from chainrule.cli import _message
from chainrule.io import check_writable, write_atomic
from chainrule.tabular import TabularModel, TrainOptions

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
CHAINRULE = [sys.executable, "-m", "chainrule"]
# 400,000 rows written 10 times: 4M rows, about 3 s of prediction with the Arrow reader
# (400,000 took 1.3 s before it): time to interrupt it while it writes
BIG_ROWS, BIG_REPEATS = 400_000, 10
WATCHDOG_SECONDS = 120


def run(*args, cwd: Path, timeout: float = 60, **kwargs) -> subprocess.CompletedProcess:
    """The command run to its end; its output captured unless ``stdout=`` says otherwise."""
    streams = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, **kwargs}
    return subprocess.run(
        [*CHAINRULE, *map(str, args)], cwd=cwd, env=ENV, text=True, timeout=timeout, **streams
    )


STARTED: list[subprocess.Popen] = []


def start(*args, cwd: Path, **kwargs) -> subprocess.Popen:
    """The command, running; killed after WATCHDOG_SECONDS whatever the test waits for."""
    process = subprocess.Popen([*CHAINRULE, *map(str, args)], cwd=cwd, env=ENV, text=True, **kwargs)
    watchdog = threading.Timer(WATCHDOG_SECONDS, process.kill)
    watchdog.daemon = True
    watchdog.start()
    STARTED.append(process)
    return process


@pytest.fixture(autouse=True)
def _no_process_outlives_its_test():
    yield
    while STARTED:
        process = STARTED.pop()
        if process.poll() is None:
            process.kill()
            process.wait()


def finish(process: subprocess.Popen, timeout: float = 60) -> tuple[str, str]:
    """Its output, waiting at most ``timeout`` seconds (then it is killed)."""
    try:
        return process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise


def temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def write_csv(path: Path, rows: int, seed: int = 0, repeats: int = 1) -> Path:
    X = np.random.default_rng(seed).normal(size=(rows, 4))
    labels = np.where(X[:, 0] + X[:, 1] > 0, "a", "b")
    lines = [
        f"{a:.6f},{b:.6f},{c:.6f},{d:.6f},{t}" for (a, b, c, d), t in zip(X, labels, strict=True)
    ]
    path.write_text("f1,f2,f3,f4,t\n" + ("\n".join(lines) + "\n") * repeats)
    return path


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> Path:
    """A folder with small.csv (3,000 rows), big.csv (4M rows) and model.safetensors."""
    folder = tmp_path_factory.mktemp("files")
    small = write_csv(folder / "small.csv", 3000)
    write_csv(folder / "big.csv", BIG_ROWS, seed=1, repeats=BIG_REPEATS)
    lines = small.read_text().splitlines()[1:]
    X = np.array([[float(v) for v in line.split(",")[:4]] for line in lines])
    y = np.array([line.split(",")[4] for line in lines])
    options = TrainOptions(hidden=[8], epochs=2, verbose=0)
    model, _ = TabularModel.train(X, y, ["f1", "f2", "f3", "f4"], "t", options=options)
    model.save(folder / "model.safetensors")
    return folder


def private_device(folder: Path, name: str, minor: int) -> Path:
    """A character device of our own: 3 is null, 7 is full (never the machine's /dev)."""
    path = folder / name
    os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, minor))
    return path


# Devices, FIFOs and links ---------------------------------------------------------------


def test_predict_into_a_device_writes_it_in_place(tmp_path, shared):
    null = private_device(tmp_path, "null", 3)
    result = run("predict", shared / "model.safetensors", shared / "small.csv", "-o", null,
                 cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert stat.S_ISCHR(null.lstat().st_mode)  # still the device, not a regular file
    assert temporaries(tmp_path) == []


def test_train_into_a_device_keeps_the_device(tmp_path, shared):
    null = private_device(tmp_path, "null", 3)
    result = run("train", shared / "small.csv", "--target", "t", "--epochs", "1", "--quiet",
                 "-o", null, cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert stat.S_ISCHR(null.lstat().st_mode)


def test_atomic_writing_leaves_a_device_a_device(tmp_path):
    null = private_device(tmp_path, "null", 3)
    check_writable(null)
    write_atomic(null, b"bytes for the device")
    assert stat.S_ISCHR(null.lstat().st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["null"]


def test_predict_into_a_fifo_feeds_its_reader(tmp_path, shared):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE, text=True)
    result = run("predict", shared / "model.safetensors", shared / "small.csv", "-o", fifo,
                 cwd=tmp_path, timeout=30)  # fmt: skip
    received, _ = finish(reader, timeout=10)
    assert result.returncode == 0, result.stderr
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert received.splitlines()[0] == "prediction" and len(received.splitlines()) == 3001


def test_predict_into_a_link_to_standard_output_writes_standard_output(tmp_path, shared):
    """As -o /dev/stdout does: the link leads through /proc/self/fd/1 to a pipe."""
    link = tmp_path / "stdout"
    link.symlink_to("/proc/self/fd/1")
    result = run("predict", shared / "model.safetensors", shared / "small.csv", "-o", link,
                 cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "prediction"
    assert len(result.stdout.splitlines()) == 3001
    assert link.is_symlink() and os.readlink(link) == "/proc/self/fd/1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stdout"]


def test_a_link_to_standard_output_appends_where_the_shell_said(tmp_path, shared):
    """-o /dev/stdout >> log: the shell's open file is written, not replaced by a new one."""
    link = tmp_path / "stdout"
    link.symlink_to("/proc/self/fd/1")
    log = tmp_path / "log.txt"
    log.write_text("before\n")
    with log.open("a") as appending:
        result = run("predict", shared / "model.safetensors", shared / "small.csv", "-o", link,
                     cwd=tmp_path, stdout=appending)  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = log.read_text().splitlines()
    assert lines[:2] == ["before", "prediction"] and len(lines) == 3002
    assert link.is_symlink()


def test_predict_into_a_symlink_writes_its_target(tmp_path, shared):
    target = tmp_path / "real.csv"
    target.write_text("old\n")
    link = tmp_path / "link.csv"
    link.symlink_to(target.name)
    result = run("predict", shared / "model.safetensors", shared / "small.csv", "-o", link,
                 cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert link.is_symlink() and os.readlink(link) == "real.csv"
    assert target.read_text().splitlines()[0] == "prediction"
    assert temporaries(tmp_path) == []


def test_a_dangling_symlink_gets_its_target_created(tmp_path):
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    link = tmp_path / "link"
    link.symlink_to(folder / "new.bin")
    write_atomic(link, b"data")
    assert link.is_symlink()
    assert (folder / "new.bin").read_bytes() == b"data"


# Modes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)], ids=oct
)
def test_a_new_file_gets_the_umasks_mode(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        write_atomic(tmp_path / "new.bin", b"data")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "new.bin").stat().st_mode) == mode


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o444, 0o755], ids=oct)
def test_an_overwritten_file_keeps_its_mode(tmp_path, mode):
    path = tmp_path / "old.bin"
    path.write_bytes(b"old")
    path.chmod(mode)
    write_atomic(path, b"new")
    assert path.read_bytes() == b"new"
    assert stat.S_IMODE(path.stat().st_mode) == mode


def test_predict_and_train_outputs_get_ordinary_modes(tmp_path, shared):
    predictions = tmp_path / "predictions.csv"
    predictions.write_text("old\n")
    predictions.chmod(0o644)
    model = tmp_path / "model.safetensors"
    model_source, small = shared / "model.safetensors", shared / "small.csv"
    predicted = run("predict", model_source, small, "-o", predictions, cwd=tmp_path,
                    umask=0o077)  # fmt: skip
    trained = run("train", small, "--target", "t", "--epochs", "1", "--quiet", "-o", model,
                  cwd=tmp_path, umask=0o022)  # fmt: skip
    assert predicted.returncode == trained.returncode == 0, predicted.stderr + trained.stderr
    assert stat.S_IMODE(predictions.stat().st_mode) == 0o644  # kept, whatever the umask
    assert predictions.read_text().startswith("prediction")
    assert stat.S_IMODE(model.stat().st_mode) == 0o644  # 0666 & ~022


# Outputs that are inputs ------------------------------------------------------------------


def _links_to(path: Path, kind: str) -> Path:
    link = path.with_name(f"{kind}-{path.name}")
    if kind == "symlink":
        link.symlink_to(path)
    else:
        os.link(path, link)
    return link


@pytest.mark.parametrize("kind", ["same", "symlink", "hardlink"])
def test_predict_refuses_to_overwrite_its_input(tmp_path, shared, kind):
    data = write_csv(tmp_path / "data.csv", 50)
    before = data.read_bytes()
    output = data if kind == "same" else _links_to(data, kind)
    result = run("predict", shared / "model.safetensors", data, "-o", output, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert f"cannot write {output}: it is the input {data}" in result.stderr
    assert data.read_bytes() == before


def test_predict_refuses_to_overwrite_the_model(tmp_path, shared):
    model = tmp_path / "model.safetensors"
    model.write_bytes((shared / "model.safetensors").read_bytes())
    before = model.read_bytes()
    result = run("predict", model, shared / "small.csv", "-o", model, cwd=tmp_path)
    assert result.returncode == 1
    assert f"cannot write {model}: it is the input {model}" in result.stderr
    assert model.read_bytes() == before


@pytest.mark.parametrize("option", ["-o", "--plot"])
def test_train_refuses_to_overwrite_its_data(tmp_path, shared, option):
    data = write_csv(tmp_path / "data.csv", 50)
    before = data.read_bytes()
    link = _links_to(data, "hardlink")
    result = run("train", data, "--target", "t", "--epochs", "1", "--quiet", option, link,
                 cwd=tmp_path)  # fmt: skip
    assert result.returncode == 1
    assert f"cannot write {link}: it is the input {data} (the same file)" in result.stderr
    assert data.read_bytes() == before


def test_export_refuses_to_overwrite_the_model(tmp_path, shared):
    model = tmp_path / "model.safetensors"
    model.write_bytes((shared / "model.safetensors").read_bytes())
    result = run("export", model, model, cwd=tmp_path)
    assert result.returncode == 1
    assert f"cannot write {model}: it is the input {model}" in result.stderr
    assert model.read_bytes() == (shared / "model.safetensors").read_bytes()


def test_predict_csv_refuses_its_source_as_destination(tmp_path, shared):
    data = write_csv(tmp_path / "data.csv", 50)
    model = TabularModel.load(shared / "model.safetensors")
    with pytest.raises(ValueError, match="it is the input"):
        model.predict_csv(data, data)
    assert data.read_text().startswith("f1,f2")


# Full disks -------------------------------------------------------------------------------


def test_a_full_device_is_named(tmp_path, shared):
    full = private_device(tmp_path, "full", 7)
    result = run("predict", shared / "model.safetensors", shared / "small.csv", "-o", full,
                 cwd=tmp_path)  # fmt: skip
    assert result.returncode == 1
    assert result.stderr == f"chainrule: error: {full}: no space left on device\n"
    assert stat.S_ISCHR(full.lstat().st_mode)


def test_no_space_left_names_the_file_and_leaves_nothing(tmp_path, shared, monkeypatch):
    def full_disk(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    import chainrule.io.files as files

    monkeypatch.setattr(files.os, "fsync", full_disk)
    model = TabularModel.load(shared / "model.safetensors")
    destination = tmp_path / "out.csv"
    with pytest.raises(OSError) as raised:
        model.predict_csv(shared / "small.csv", destination)
    assert raised.value.filename == str(destination)
    assert _message(raised.value) == f"{destination}: no space left on device"
    assert list(tmp_path.iterdir()) == []


def test_a_file_too_large_is_named_and_leaves_nothing(tmp_path, shared):
    """RLIMIT_FSIZE makes the write fail with EFBIG (SIGXFSZ ignored, as Python does)."""
    code = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))\n"
        "from chainrule.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, "predict", shared / "model.safetensors",
         shared / "big.csv", "-o", "out.csv"],
        cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr == "chainrule: error: out.csv: file too large\n"
    assert list(tmp_path.iterdir()) == []


# Signals during a write -------------------------------------------------------------------


def _wait_for_temporary(folder: Path, process: subprocess.Popen, timeout: float = 30) -> None:
    """Until the command is writing its output (its temporary file has grown)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(FileNotFoundError):  # renamed as we looked
            if any(p.stat().st_size for p in folder.glob(".*.tmp")):
                return
        time.sleep(0.005)
    raise AssertionError("the command never started writing its output")


@pytest.mark.parametrize(
    ("signum", "code", "message"),
    [(signal.SIGTERM, 143, "chainrule: terminated\n"),
     (signal.SIGINT, 130, "chainrule: interrupted\n")],
    ids=["SIGTERM", "SIGINT"],
)  # fmt: skip
def test_a_signal_during_predict_leaves_no_temporary_file(tmp_path, shared, signum, code, message):
    process = start("predict", shared / "model.safetensors", shared / "big.csv", "-o", "out.csv",
                    cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    _wait_for_temporary(tmp_path, process)
    process.send_signal(signum)
    _, err = finish(process)
    assert (process.returncode, err) == (code, message)
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_in_predict_is_never_lost(tmp_path, shared):
    """NumPy's text-to-number conversion swallowed a KeyboardInterrupt raised inside it
    (2 runs in 10 then finished with status 0, some ended in a TypeError traceback)."""
    timing = random.Random(16)
    for attempt in range(10):
        process = start("predict", shared / "model.safetensors", shared / "big.csv", "-o",
                        "out.csv", cwd=tmp_path, stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE)  # fmt: skip
        _wait_for_temporary(tmp_path, process)
        time.sleep(timing.uniform(0, 0.2))
        process.send_signal(signal.SIGINT)
        _, err = finish(process)
        assert (process.returncode, err) == (130, "chainrule: interrupted\n"), attempt
        assert list(tmp_path.iterdir()) == [], attempt


def test_ctrl_c_in_predict_to_standard_output(tmp_path, shared):
    process = start("predict", shared / "model.safetensors", shared / "big.csv",
                    cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    assert process.stdout.readline() == "prediction\n"
    process.send_signal(signal.SIGINT)
    _, err = finish(process)
    assert (process.returncode, err) == (130, "chainrule: interrupted\n")


def _start_training(tmp_path: Path, shared: Path) -> subprocess.Popen:
    """A long training run, returned once its first epoch has ended."""
    process = start("train", shared / "small.csv", "--target", "t", "--epochs", "100000",
                    "-o", "model.safetensors", "--plot", "curves.png", cwd=tmp_path,
                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    for line in process.stderr:
        if line.startswith("epoch 1/"):
            return process
    raise AssertionError(f"training ended early with status {process.wait(timeout=10)}")


def test_ctrl_c_in_train_exits_130_and_writes_nothing(tmp_path, shared):
    process = _start_training(tmp_path, shared)
    process.send_signal(signal.SIGINT)
    _, err = finish(process)
    assert process.returncode == 130
    last = err.strip().splitlines()[-1]
    assert last.startswith("chainrule: interrupted after epoch ")
    assert last.endswith(" of 100000; nothing written")
    assert list(tmp_path.iterdir()) == []


def test_train_help_says_what_ctrl_c_does(tmp_path):
    result = run("train", "--help", cwd=tmp_path)
    text = " ".join(result.stdout.split())
    assert "Ctrl-C stops training after the current batch and exits with status 130" in text
    assert "writing neither the model nor the plot" in text


def test_sigterm_in_train_exits_143_and_writes_nothing(tmp_path, shared):
    process = _start_training(tmp_path, shared)
    process.send_signal(signal.SIGTERM)
    _, err = finish(process)
    assert process.returncode == 143
    assert err.strip().splitlines()[-1] == "chainrule: terminated"
    assert list(tmp_path.iterdir()) == []


# A reader that goes away ------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["predict", "{model}", "{big}"],
        ["examples"],
        ["explain", "(x + y) * z", "--at", "x=-2,y=5,z=-4", "--json"],
        ["inspect", "{model}", "--json"],
        ["inspect", "{model}"],
        ["evaluate", "{model}", "{small}"],
        ["evaluate", "{model}", "{small}", "--json"],
    ],
    ids=" ".join,
)
def test_a_closed_standard_output_ends_the_command_quietly(tmp_path, shared, args):
    """As `chainrule ... | head` when head has gone: status 141 (what a shell shows for a
    tool ended by SIGPIPE), nothing on stderr."""
    paths = {"model": shared / "model.safetensors", "big": shared / "big.csv",
             "small": shared / "small.csv"}  # fmt: skip
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the command writes anything
    try:
        process = start(*(a.format(**paths) for a in args), cwd=tmp_path, stdout=write_end,
                        stderr=subprocess.PIPE)  # fmt: skip
    finally:
        os.close(write_end)
    _, err = finish(process)
    assert (process.returncode, err) == (141, "")
