"""Data-parallel scaling of the MNIST-shaped epoch over MPI, measured and modelled.

Measured: one epoch of a 784-256-128-10 network (float32, synthetic MNIST-shaped data,
global batch 128, SGD with momentum) at 1 rank x 1 thread and 2 ranks x 1 thread
(OMP/OPENBLAS threads 1), under mpirun on this machine: samples per second, and the
time per step spent in the gradients' Allreduce and its share of the step.

Modelled, past one machine: a step on N ranks costs the compute of a per-rank batch,
t_c(b) (measured here at 1 rank for several b), plus a ring allreduce of the P
parameters' bytes S = 4P,

    t_ar(N) = 2 (N - 1) alpha + 2 (N - 1)/N S / bandwidth

(alpha, the latency per message, 5 us assumed).  With per-rank batch b the efficiency
(speedup / N, against one process doing all N b rows) is

    E = N t_c(b) / (N (t_c(b) + t_ar(N))) = t_c(b) / (t_c(b) + t_ar(N)),

taking t_c(b) per rank as measured; for a global batch B, b = B / N.  The smallest b
with E >= 0.8 is where data parallelism still pays.  The model's 2-rank figure on this
machine (t_ar from an Allreduce measured alone, no compute) is printed beside the
measured one.

Each rank count runs ``--repeat`` epochs (3) and the fastest counts (the time of an epoch
is its slowest rank's).

Run: python bench/mpi_scaling.py [--rows 60000] [--ranks 2] [--repeat 3] [--yield]
[--single-copy-none]
(needs mpirun and mpi4py: apt-get install openmpi-bin libopenmpi-dev; pip install
"chainrule[mpi]").
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SIZES = [784, 256, 128, 10]
BATCH = 128
PER_RANK_BATCHES = (2, 4, 8, 16, 32, 64, 128, 256, 512)
LATENCY = 5e-6  # seconds per message of a ring allreduce step, assumed
MPIRUN_FLAGS = (
    "--oversubscribe", "--bind-to", "none",
    "--mca", "btl", "self,vader", "--mca", "oob_tcp_if_include", "lo",
)  # fmt: skip
# with a rank per core, a waiting rank polls (yielding would hand its core to whatever
# else runs and come back a scheduler slice later); --yield restores the test's setting
YIELD = ("--mca", "mpi_yield_when_idle", "1")


def worker(rows: int, repeat: int) -> None:
    """One rank: an epoch of fit over MPI, timed, with its Allreduce time."""
    import chainrule as cr
    from chainrule.distributed import MPICommunicator

    class Timed(MPICommunicator):
        allreduce_seconds, allreduces = 0.0, 0

        def allreduce_sum(self, buffer):
            started = time.perf_counter()
            super().allreduce_sum(buffer)
            if buffer.size > 1000:  # the gradients' buffer, not the per-epoch shares
                self.allreduce_seconds += time.perf_counter() - started
                self.allreduces += 1

    comm = Timed()
    rng = np.random.default_rng(0)
    X = rng.random((rows, SIZES[0]), dtype=np.float32)
    y = rng.integers(0, 10, rows)

    def run(n: int, epochs: int = 1) -> float:
        model = cr.nn.MLP(SIZES, "relu", "softmax", seed=0)
        opt = cr.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        started = time.perf_counter()
        cr.fit(model, "cross_entropy", opt, X[:n], y[:n], epochs=epochs, batch_size=BATCH,
               verbose=0, seed=0, comm=comm, shard=True)  # fmt: skip
        return time.perf_counter() - started

    run(16 * BATCH)  # warm up
    best = None
    for _ in range(repeat):  # the fastest epoch: the machine is shared
        comm.allreduce_seconds, comm.allreduces = 0.0, 0
        seconds = float(comm.comm.allreduce(run(rows), op=comm._mpi.MAX))
        if best is None or seconds < best[0]:
            best = (seconds, comm.allreduces, comm.allreduce_seconds)
    seconds, steps, allreduce = best
    params = sum(p.size for p in cr.nn.MLP(SIZES, "relu", "softmax", seed=0).parameters())
    buffer = np.zeros(params + 2, dtype=np.float32)
    alone = []
    for _ in range(30):  # the Allreduce by itself, every rank at it together
        comm.comm.Barrier()
        started = time.perf_counter()
        comm.comm.Allreduce(comm._mpi.IN_PLACE, buffer, op=comm._mpi.SUM)
        alone.append(time.perf_counter() - started)
    compute = per_rank_compute_times() if comm.size == 1 else {}
    if comm.rank == 0:
        result = {
            "ranks": comm.size, "seconds": seconds, "rows": rows, "params": params,
            "steps": steps, "allreduce_seconds": allreduce,
            "allreduce_alone": float(np.median(alone)), "compute": compute,
        }  # fmt: skip
        print("RESULT " + json.dumps(result), flush=True)


def per_rank_compute_times() -> dict[str, float]:
    """Seconds per training step (forward, backward, update) at each per-rank batch."""
    import chainrule as cr

    model = cr.nn.MLP(SIZES, "relu", "softmax", seed=0)
    opt = cr.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    step = cr.nn.value_and_grad(model, "cross_entropy")
    rng = np.random.default_rng(1)
    times = {}
    for b in PER_RANK_BATCHES:
        x = rng.random((b, SIZES[0]), dtype=np.float32)
        t = rng.integers(0, 10, b)
        repeats = max(20, 4000 // b)
        samples = []
        for _ in range(3):
            started = time.perf_counter()
            for _ in range(repeats):
                step(x, t)
                opt.step(release_grads=True)
            samples.append((time.perf_counter() - started) / repeats)
        times[str(b)] = min(samples)
    return times


def launch(ranks: int, rows: int, repeat: int, yield_when_idle: bool, copy_none: bool) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    flags = [*MPIRUN_FLAGS, *(YIELD if yield_when_idle else ())]
    if copy_none:  # shared-memory copies through Open MPI's own buffers, not CMA
        flags += ["--mca", "btl_vader_single_copy_mechanism", "none"]
    command = [shutil.which("mpirun") or "mpirun", *flags, "-n", str(ranks),
               sys.executable, __file__, "--worker", "--rows", str(rows),
               "--repeat", str(repeat)]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800)
    if done.returncode:
        sys.exit(f"mpirun -n {ranks} failed:\n{done.stderr}")
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])


def ring_allreduce(ranks: int, nbytes: float, gbit: float) -> float:
    """Seconds for a ring allreduce of nbytes on ranks ranks over gbit Gbit/s links."""
    if ranks == 1:
        return 0.0
    return 2 * (ranks - 1) * LATENCY + 2 * (ranks - 1) / ranks * nbytes / (gbit * 1e9 / 8)


def compute_time(compute: dict[str, float], batch: float) -> float:
    """t_c at a per-rank batch, interpolated linearly between the measured ones."""
    sizes = np.array([int(b) for b in compute], dtype=float)
    return float(np.interp(batch, sizes, [compute[k] for k in compute]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=60000)
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--yield", dest="yield_when_idle", action="store_true",
                        help="launch with --mca mpi_yield_when_idle 1")  # fmt: skip
    parser.add_argument("--repeat", type=int, default=3, help="epochs run; the fastest counts")
    parser.add_argument("--single-copy-none", action="store_true",
                        help="launch with --mca btl_vader_single_copy_mechanism none")  # fmt: skip
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.rows, args.repeat)
        return
    options = (args.repeat, args.yield_when_idle, args.single_copy_none)
    one = launch(1, args.rows, *options)
    many = launch(args.ranks, args.rows, *options)
    print(f"MNIST-shaped epoch {'-'.join(map(str, SIZES))}, {args.rows} rows, global batch "
          f"{BATCH}, float32, 1 thread per rank\n")  # fmt: skip
    print("| ranks | samples/s | speedup | ms/step | Allreduce ms/step | share |")
    print("|---|---|---|---|---|---|")
    for r in (one, many):
        steps = max(r["steps"], -(-r["rows"] // BATCH))
        per_step = r["seconds"] / steps
        allreduce = r["allreduce_seconds"] / steps
        print(f"| {r['ranks']} | {r['rows'] / r['seconds']:,.0f} | "
              f"{one['seconds'] / r['seconds']:.2f}x | {per_step * 1e3:.2f} | "
              f"{allreduce * 1e3:.3f} | {allreduce / per_step:.1%} |")  # fmt: skip
    compute, nbytes = one["compute"], 4 * one["params"]
    print("\ncompute per step t_c(b), 1 rank: "
          + ", ".join(f"b={b}: {t * 1e3:.2f} ms" for b, t in compute.items()))  # fmt: skip
    n = args.ranks
    predicted = compute_time(compute, BATCH) / (
        compute_time(compute, BATCH / n) + many["allreduce_alone"]
    )
    print(f"\nmodel, {n} ranks here (t_c measured, Allreduce alone "
          f"{many['allreduce_alone'] * 1e3:.3f} ms): speedup {predicted:.2f}x; "
          f"measured {one['seconds'] / many['seconds']:.2f}x")  # fmt: skip
    print(f"\nmodel past one machine: {one['params']:,} parameters, {nbytes / 1e6:.2f} MB "
          f"per allreduce, latency {LATENCY * 1e6:.0f} us per message\n")  # fmt: skip
    print(
        "| ranks | link | Allreduce ms | efficiency at global batch 128 "
        "| smallest batch per rank for 80% |"
    )
    print("|---|---|---|---|---|")
    for ranks in (4, 16, 64):
        for gbit in (10, 100):
            t_ar = ring_allreduce(ranks, nbytes, gbit)
            b = BATCH / ranks
            efficiency = compute_time(compute, b) / (compute_time(compute, b) + t_ar)
            enough = [int(k) for k in compute if compute[k] >= 4 * t_ar]
            smallest = f"{min(enough)}" if enough else f"> {PER_RANK_BATCHES[-1]}"
            print(f"| {ranks} | {gbit} Gbit/s | {t_ar * 1e3:.2f} | {efficiency:.0%} | "
                  f"{smallest} |")  # fmt: skip


if __name__ == "__main__":
    main()
