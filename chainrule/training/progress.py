"""What fit() shows while it trains: a rich progress bar per epoch (verbose=1), one line
per epoch (verbose=2) or nothing (verbose=0).  Output goes to stderr, leaving stdout to
the program's results.  The bar is drawn only on a terminal: in a pipe or a log file
verbose=1 writes the epoch lines alone, plain text without control codes."""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


def format_logs(logs: dict[str, float]) -> str:
    return "  ".join(f"{k} {v:.4g}" for k, v in logs.items())


class ProgressDisplay:
    def __init__(self, verbose: int, epochs: int, batches: int) -> None:
        self.verbose, self.epochs, self.batches = verbose, epochs, batches
        self.console = Console(stderr=True, markup=False, highlight=False, soft_wrap=True)
        self.progress: Progress | None = None
        self.task = None
        self.epoch_start = 0.0
        self.samples = 0
        self.loss_sum = 0.0

    def start_epoch(self, epoch: int) -> None:
        self.epoch_start = time.perf_counter()
        self.samples, self.loss_sum = 0, 0.0
        if self.verbose != 1 or not self.console.is_terminal:
            return
        self.progress = Progress(
            TextColumn(f"epoch {epoch}/{self.epochs}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"),
            TextColumn("{task.fields[rate]} samples/s"),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
        )
        self.progress.start()
        self.task = self.progress.add_task("train", total=self.batches, loss="-", rate="-")

    def batch_done(self, batch_size: int, loss: float) -> None:
        self.samples += batch_size
        self.loss_sum += loss * batch_size
        if self.progress is not None:
            elapsed = max(time.perf_counter() - self.epoch_start, 1e-9)
            self.progress.update(
                self.task,
                advance=1,
                loss=f"{self.loss_sum / self.samples:.4f}",
                rate=f"{self.samples / elapsed:,.0f}",
            )

    def end_epoch(self, epoch: int, logs: dict[str, float]) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
        if self.verbose >= 1:
            seconds = time.perf_counter() - self.epoch_start
            self.console.print(
                f"epoch {epoch}/{self.epochs}  {format_logs(logs)}  ({seconds:.2f}s)"
            )

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None

    def note(self, message: str) -> None:
        if self.verbose:
            self.console.print(message)
