"""Launching a real MPI job from a test: ``mpirun`` on loopback, bounded in time, its
processes cleaned up whatever happens.

Outside CI a machine without ``mpirun`` or mpi4py skips these tests; under CI
(``CHAINRULE_CI=1``, set by ``.ci/run``, which installs Open MPI) a missing one fails."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# one machine, as root, loopback only, more ranks than cores, waiting ranks not spinning
MPIRUN_FLAGS = (
    "--oversubscribe",
    "--bind-to", "none",
    "--mca", "btl", "self,vader",
    "--mca", "oob_tcp_if_include", "lo",
    "--mca", "mpi_yield_when_idle", "1",
)  # fmt: skip


def require_mpi() -> str:
    """The mpirun command; skip (fail under CI) when it or mpi4py is missing."""
    mpirun = shutil.which("mpirun")
    missing = []
    if mpirun is None:
        missing.append("mpirun (apt-get install openmpi-bin libopenmpi-dev)")
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        missing.append('mpi4py (pip install "chainrule[mpi]")')
    if missing:
        message = "needs " + " and ".join(missing)
        if os.environ.get("CHAINRULE_CI"):
            pytest.fail(f"CI must run the MPI tests: {message}")
        pytest.skip(message)
    return mpirun


def mpi_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        OMPI_ALLOW_RUN_AS_ROOT="1",
        OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
        OMPI_MCA_rmaps_base_oversubscribe="1",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
        OMP_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
    )
    return env


def mpirun(
    ranks: int, *command: str, cwd: Path, timeout: float = 120.0
) -> subprocess.CompletedProcess:
    """Run ``command`` (after ``python``: e.g. "-m", "chainrule", "train", ...) on
    ``ranks`` ranks; the whole job is killed if it outlives ``timeout`` seconds."""
    launcher = require_mpi()
    args = [launcher, *MPIRUN_FLAGS, "-n", str(ranks), sys.executable, *command]
    process = subprocess.Popen(
        args,
        cwd=cwd,
        env=mpi_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # the job's processes form one group, killed together
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        pytest.fail(f"mpirun -n {ranks} outlived {timeout} s:\n{stdout}\n{stderr}")
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return subprocess.CompletedProcess(args, process.returncode, stdout, stderr)
