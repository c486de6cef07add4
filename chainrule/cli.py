"""The ``chainrule`` command line: train, evaluate, predict, inspect, export, examples.

Thin by design: it parses, calls the library, prints.  Exit codes: 0 success, 1 a user
error (one line naming the problem, no traceback), 2 a usage error (argparse), 130 Ctrl-C
(``train`` then writes neither model nor plot), 143 SIGTERM, 141 when the reader of the
output went away (``chainrule ... | head``: quietly, the status a shell shows for a tool
that SIGPIPE ended).  An interrupted or terminated command leaves no temporary file.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ._version import __version__
from .errors import MissingExtraError, ModelFileError
from .evaluation import EvaluationReport, RegressionReport
from .io.interrupts import Terminated, sigterm_raises
from .nn import StateDictError

EXAMPLES = {
    "train": """examples:
  chainrule train --dataset digits
  chainrule train data.csv --target species --hidden 64,32 --epochs 100 \\
      --validation-split 0.2 --early-stopping -o model.safetensors --plot curves.png

Ctrl-C stops training after the current batch and exits with status 130, writing neither
the model nor the plot (a partial model is not the one asked for).""",
    "evaluate": """example:
  chainrule evaluate model.safetensors test.csv --target species --json""",
    "predict": """example:
  chainrule predict model.safetensors new.csv -o predictions.csv --proba""",
    "inspect": """example:
  chainrule inspect model.safetensors""",
    "export": """example:
  chainrule export model.safetensors model.onnx""",
    "examples": """examples:
  chainrule examples
  chainrule examples copy""",
    "explain": """examples:
  chainrule explain "(x + y) * z" --at x=-2,y=5,z=-4
  chainrule explain "1 / (1 + exp(-(w0*x0 + w1*x1 + w2)))" \\
      --at w0=2,x0=-1,w1=-3,x1=-2,w2=-3 --gates compact --draw neuron.svg --compare""",
    "playground": """examples:
  chainrule playground
  chainrule playground --port 8080 --no-browser""",
    "plot": """examples:
  chainrule plot activations -o activations.png
  chainrule plot losses -o losses.png
  chainrule plot boundary --dataset moons --hidden 8,8 --activation tanh --epochs 300 \\
      -o boundary.png
  chainrule plot boundary --dataset spiral --hidden 32,32 --lr 0.03 --epochs 500 --gif""",
}


class UserError(Exception):
    """An error the user can fix; printed as one line."""


class _OutputConsole(Console):
    """rich's Console, except that when the reader of standard output goes away it raises
    BrokenPipeError (main() then exits quietly with 141) instead of SystemExit(1)."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))


def _console() -> Console:
    """Where the commands print.  Markup is off: labels, column names and file names are
    the user's data and are printed as they are (``[low]`` is a label, not a style)."""
    return _OutputConsole(markup=False, highlight=False, soft_wrap=True)


def _int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None
    if any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"layer sizes must be positive, got {text!r}")
    return values


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1), got {text}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return value


def _na_values_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--na-values",
        action="append",
        type=_texts,
        default=[],
        metavar="TEXT",
        help="texts that mean a missing value, exactly as written (repeat it or give a comma "
        "list); always missing: the empty cell, and in a feature NaN, NA, N/A, null, none, ? "
        "(a label is its text: 'NA' is a class unless named here)",
    )


def _texts(text: str) -> list[str]:
    return text.split(",")


def _na_values(args: argparse.Namespace) -> list[str]:
    return [text for texts in args.na_values for text in texts]


def _column_names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"expected column names separated by commas, got {text!r}")
    return names


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (np.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive finite number, got {text!r}")
    return value


def _memory_size(text: str) -> int:
    from .data.footprint import parse_size

    try:
        return parse_size(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """The examples as written, and every option's default after its help."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        shown = action.default not in (None, argparse.SUPPRESS) and action.nargs != 0
        if shown and action.option_strings and "%(default)" not in text:
            text += " (default: %(default)s)"
        return text


def build_parser() -> argparse.ArgumentParser:
    from .datasets import NAMES
    from .explain.drawing import FORMATS
    from .explain.expressions import GATE_MODES
    from .explain.figures import BOUNDARY_DEFAULTS, FIGURES, TOY_DATASETS
    from .lecture import EXAMPLE_NAMES
    from .nn.mlp import OUTPUTS
    from .tabular import OPTIMIZERS, TASKS

    parser = argparse.ArgumentParser(
        prog="chainrule",
        description="Feedforward neural networks trained by backpropagation.",
        formatter_class=_HelpFormatter,
        epilog=EXAMPLES["train"],
    )
    parser.add_argument("--version", action="version", version=f"chainrule {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        return commands.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=EXAMPLES[name],
            formatter_class=_HelpFormatter,
        )

    train = command("train", "Train a network on a CSV file or a built-in data set.")
    train.add_argument(
        "data",
        nargs="?",
        help="CSV file with a header row (.csv, .csv.gz) or Parquet (file or folder)",
    )
    train.add_argument("--dataset", choices=NAMES, help="a built-in data set instead of a file")
    train.add_argument("--target", help="the column to predict (CSV input)")
    train.add_argument("--task", choices=TASKS, help="default: guessed from the target")
    train.add_argument(
        "--hidden", type=_int_list, default="64", help="hidden layer sizes, e.g. 64,32"
    )
    train.add_argument(
        "--activation", default="relu", help="hidden activation, or one per layer: relu,tanh"
    )
    train.add_argument(
        "--output", choices=OUTPUTS, help="final layer (default: softmax, identity to regress)"
    )
    train.add_argument(
        "--loss",
        help="cross_entropy, binary_cross_entropy, mse, half_mse (default: cross_entropy, "
        "binary_cross_entropy for a sigmoid output, mse to regress)",
    )
    train.add_argument(
        "--optimizer",
        choices=OPTIMIZERS,
        default="adam",
        help="adam, or sgd with Nesterov momentum 0.9",
    )
    train.add_argument(
        "--lr", type=_positive_float, help="learning rate (default: 1e-3 adam, 1e-2 sgd)"
    )
    train.add_argument("--epochs", type=_positive_int, default=50, help="passes over the data")
    train.add_argument(
        "--batch-size", type=_positive_int, default=32, help="samples per gradient step"
    )
    train.add_argument(
        "--validation-split",
        type=_fraction,
        default=0.2,
        help="fraction held out to report validation figures; 0 for none",
    )
    train.add_argument(
        "--test-split",
        type=_fraction,
        default=0.0,
        help="fraction held out before training and scored after it, as evaluate scores; "
        "stratified by class; 0 for none",
    )
    train.add_argument(
        "--early-stopping", action="store_true", help="stop when validation loss stalls"
    )
    train.add_argument(
        "--patience",
        type=_positive_int,
        default=10,
        help="epochs without a better validation loss before early stopping",
    )
    train.add_argument(
        "--seed",
        type=_non_negative_int,
        default=0,
        help="seeds the weights, the splits and the batch order",
    )
    scaling = train.add_mutually_exclusive_group()
    scaling.add_argument("--standardize", dest="standardize", action="store_true", default=True,
                         help="standardise features (the default)")  # fmt: skip
    scaling.add_argument("--no-standardize", dest="standardize", action="store_false",
                         help="train on the features as they are")  # fmt: skip
    train.add_argument("--drop-missing", action="store_true", help="skip rows with missing values")
    _na_values_option(train)
    train.add_argument("-o", "--out", help="where to write the model (.safetensors)")
    train.add_argument("--plot", help="write the loss and metric curves to this PNG")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.add_argument(
        "--stream",
        action="store_true",
        help="train without loading the file: a pass for the statistics, then blocks "
        "through a shuffle buffer each epoch (the validation rows picked by a seeded hash)",
    )
    train.add_argument(
        "--cache-dir",
        help="where --stream keeps the file's rows as read in epoch 1 for the epochs after it "
        "(default: the system's temporary folder; deleted at the end)",
    )
    train.add_argument(
        "--no-cache",
        action="store_true",
        help="with --stream, read the file again every epoch instead of caching its rows",
    )
    train.add_argument(
        "--memory",
        type=_memory_size,
        help="memory budget, e.g. 2G: a file whose features (as float32) exceed it is "
        "streamed (default: a quarter of the machine's memory)",
    )

    evaluate = command("evaluate", "Score a model on a labelled CSV file.")
    evaluate.add_argument("model")
    evaluate.add_argument("data")
    evaluate.add_argument("--target", help="default: the column the model was trained on")
    evaluate.add_argument("--json", action="store_true", help="machine-readable output")
    evaluate.add_argument(
        "--drop-missing", action="store_true", help="skip rows with missing values"
    )
    _na_values_option(evaluate)

    predict = command("predict", "Write predictions for every row of a CSV file.")
    predict.add_argument("model")
    predict.add_argument("data")
    predict.add_argument(
        "-o",
        "--out",
        help="output CSV, or Parquet if it ends in .parquet (default: standard output)",
    )
    predict.add_argument(
        "--proba", action="store_true", help="add one probability column per class"
    )
    predict.add_argument(
        "--drop-missing", action="store_true", help="leave rows with missing values empty"
    )
    predict.add_argument(
        "--keep",
        action="append",
        type=_column_names,
        default=[],
        metavar="COL",
        help="copy this column (e.g. an id) into the output before the prediction; "
        "repeat it or give a comma list",
    )
    predict.add_argument(
        "--ignore",
        action="append",
        type=_column_names,
        default=[],
        metavar="COL",
        help="a column the model does not use that the file may hold; "
        "repeat it or give a comma list",
    )
    _na_values_option(predict)

    inspect = command("inspect", "Show a model's architecture and training summary.")
    inspect.add_argument("model")
    inspect.add_argument("--json", action="store_true", help="machine-readable output")

    export = command("export", "Export a model to ONNX.")
    export.add_argument("model")
    export.add_argument("destination", help="the .onnx file to write")
    export.add_argument(
        "--opset",
        type=int,
        default=17,
        help="ONNX opset, 7 or later (default: %(default)s)",
    )

    examples = command(
        "examples", "Print the notes' worked examples with their values and gradients."
    )
    examples.add_argument(
        "which",
        nargs="?",
        choices=EXAMPLE_NAMES,
        help="one example (default: all, in the notes' order)",
    )

    explain = command("explain", "Trace backpropagation through an expression, node by node.")
    explain.add_argument("expression", help='e.g. "(x + y) * z"')
    explain.add_argument("--at", required=True, type=_assignments, help="the point: x=-2,y=5,z=-4")
    explain.add_argument(
        "--gates",
        choices=GATE_MODES,
        default="as-typed",
        help="sigmoid as one gate (compact) or as negate, exp, +1, 1/x (elementary)",
    )
    formats = ", ".join(f".{name}" for name in FORMATS)
    explain.add_argument("--draw", help=f"draw the graph to a file: {formats}")
    explain.add_argument(
        "--compare", action="store_true", help="numerical and symbolic gradients beside"
    )
    explain.add_argument(
        "--numerical",
        choices=("forward", "central"),
        default="central",
        help="--compare's differences: forward (f(x+h) - f(x))/h as in the notes, or central",
    )
    explain.add_argument(
        "--dpi",
        type=_positive_int,
        default=180,
        help="resolution of a drawing written as PNG, in dots per inch",
    )
    explain.add_argument("--json", action="store_true", help="the trace as data")

    plot = command("plot", "Draw the notes' plots: activations, losses, decision boundaries.")
    plot.add_argument("what", choices=FIGURES)
    plot.add_argument("-o", "--out", help="the .png or .svg to write (default: WHAT.png)")
    plot.add_argument(
        "--dataset", choices=TOY_DATASETS, default="moons", help="boundary: the toy data set"
    )
    defaults = "; ".join(f"{name}: {d}" for name, d in BOUNDARY_DEFAULTS.items())
    plot.add_argument(
        "--hidden",
        type=_int_list,
        help=f"boundary: hidden layer sizes; unset, each data set has its own network ({defaults})",
    )
    plot.add_argument("--activation", help="boundary: hidden activation (default: as above)")
    plot.add_argument(
        "--epochs", type=_positive_int, help="boundary: passes over the data (default: as above)"
    )
    plot.add_argument(
        "--lr", type=_positive_float, help="boundary: Adam's step size (default: as above)"
    )
    plot.add_argument(
        "--seed",
        type=_non_negative_int,
        default=0,
        help="boundary: the data, the test split, the weights",
    )
    plot.add_argument(
        "--gif",
        action="store_true",
        help="animate the boundary from the untrained network (epoch 0) on; -o must be a .gif",
    )
    playground = command(
        "playground", "Watch a network learn and step through backprop, live, in the browser."
    )
    playground.add_argument("--port", type=_port, default=8000, help="the port to serve on")
    playground.add_argument(
        "--host",
        default="127.0.0.1",
        help="the address to serve on; another than a loopback one prints a warning",
    )
    playground.add_argument(
        "--no-browser", action="store_true", help="print the address, do not open a browser"
    )
    return parser


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is a whole number from 0 to 65535, got {text!r}")
    return port


def _assignments(text: str) -> dict[str, float]:
    """x=-2,y=5,z=-4 as {"x": -2.0, "y": 5.0, "z": -4.0}."""
    values: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, number = part.partition("=")
        try:
            value = float(number)
        except ValueError:
            value = float("nan")
        if not sep or not name.strip().isidentifier() or not np.isfinite(value):
            raise argparse.ArgumentTypeError(
                f"expected name=number pairs like x=-2,y=5; got {part!r}"
            )
        values[name.strip()] = value
    if not values:
        raise argparse.ArgumentTypeError("give at least one name=number")
    return values


# ------------------------------------------------------------------------------------------
# Commands
# ------------------------------------------------------------------------------------------


def cmd_train(args: argparse.Namespace) -> None:
    from .datasets import load as load_dataset
    from .distributed import resolve
    from .io import check_not_an_input, check_writable
    from .tabular import TabularModel
    from .training.data import DataError
    from .training.parallel import raise_together

    # under mpirun -n N, each rank trains on its share of the rows; rank 0 alone prints
    # and writes
    comm = resolve("auto")
    shares = comm.size > 1 and args.data is not None
    console = _console()
    if comm.rank != 0:
        console.quiet = True
    if (args.data is None) == (args.dataset is None):
        raise UserError("give a CSV file or --dataset NAME (one of the two)")
    if args.data is not None and not args.target:
        raise UserError("--target COLUMN is required with a CSV file")
    if args.cache_dir and not Path(args.cache_dir).is_dir():
        raise UserError(f"--cache-dir {args.cache_dir}: no such folder")
    if args.out and args.plot and Path(args.out).resolve() == Path(args.plot).resolve():
        raise UserError(f"-o and --plot both name {args.out}: the plot would replace the model")
    for destination in (args.out, args.plot):
        if destination:
            check_not_an_input(destination, [args.data])
            check_writable(destination)
    if _streams(args, comm, console):
        model, history = _train_streamed(args, console)
        _finish_training(args, console, comm, model, history, args.data)
        return
    if args.cache_dir or args.no_cache:
        console.print("--cache-dir and --no-cache go with --stream: this run reads into memory")
    if args.data is not None and comm.size == 1:  # the rows held as float32 (tabular_files)
        model, history, report = _train_file(args, console)
        _finish_training(args, console, comm, model, history, args.data, report)
        return
    if args.dataset:
        data = load_dataset(args.dataset)
        X, y, names, target, task = (
            data.X,
            data.y,
            data.feature_names,
            data.target_name,
            args.task or data.task,
        )
        source = f"data set {args.dataset}"
    else:
        # under mpirun each rank reads only its share of the file's rows
        from .mpi_files import read_rank_table

        table, _, dropped = read_rank_table(
            comm, args.data, args.target, None, args.drop_missing, _na_values(args)
        )
        X, y, names, target, task = (
            table.features,
            table.target,
            table.feature_names,
            args.target,
            args.task,
        )
        source = args.data
        if task == "regress":
            with raise_together(comm):
                y = table.numeric_target(source, "--task regress needs a numeric target")
        if dropped:
            console.print(f"dropped {dropped} rows with missing values")
    X_test = y_test = None
    if args.test_split:
        from .holdout import held_out_rows
        from .tabular import guess_task_of_ranks

        classify = (task or guess_task_of_ranks(y, comm)) == "classify"
        try:
            if shares:
                from .mpi_files import held_out_share

                train_rows, test_rows = held_out_share(
                    comm, y, args.test_split, args.seed, classify
                )
            else:
                train_rows, test_rows = held_out_rows(y, args.test_split, args.seed, classify)
        except DataError as error:
            raise UserError(f"{source}: {error}") from None
        (X, X_test), (y, y_test) = (X[train_rows], X[test_rows]), (y[train_rows], y[test_rows])
    samples = sum(comm.allgather(len(X))) if shares else len(X)
    if comm.size > 1 and not shares:  # every rank has the data set; it keeps rows rank::size
        X, y = X[comm.rank :: comm.size], y[comm.rank :: comm.size]
    options = _train_options(args, quiet=args.quiet or comm.rank != 0)
    ranks = f" on {comm.size} ranks" if comm.size > 1 else ""
    console.print(f"training on {source}: {samples} samples, {X.shape[1]} features{ranks}")
    try:
        # a file's shares are its rows end to end in rank order; a data set's rank::size
        shard = False if shares else "strided"
        model, history = TabularModel.train(X, y, names, target, task, options, comm, shard)
    except DataError as error:
        raise UserError(f"{source}: {error}") from None
    report = None
    if args.test_split and not history.interrupted:
        if shares:  # each rank holds its test rows: the report is on all of them
            from .mpi_files import evaluate_rows

            report = evaluate_rows(comm, model, X_test, y_test)
        else:
            report = model.evaluate(X_test, y_test)
    _finish_training(args, console, comm, model, history, source, report)


def _train_options(args: argparse.Namespace, quiet: bool):
    from .tabular import TrainOptions

    activation = args.activation.split(",") if "," in args.activation else args.activation
    return TrainOptions(
        hidden=args.hidden, activation=activation, output=args.output, loss=args.loss,
        optimizer=args.optimizer, lr=args.lr, epochs=args.epochs, batch_size=args.batch_size,
        validation_split=args.validation_split, early_stopping=args.early_stopping,
        patience=args.patience, seed=args.seed, standardize=args.standardize,
        verbose=0 if quiet else 1,
    )  # fmt: skip


def _train_file(args: argparse.Namespace, console):
    """Training on a file held in memory (one process): the model, its history and the
    test split's report (or None)."""
    from .tabular import TabularModel
    from .training.data import DataError

    try:
        return TabularModel.train_file(
            args.data, args.target, args.task, _train_options(args, args.quiet),
            drop_missing=args.drop_missing, na_values=_na_values(args),
            test_split=args.test_split, notify=console.print,
        )  # fmt: skip
    except DataError as error:
        raise UserError(f"{args.data}: {error}") from None


def _finish_training(args, console, comm, model, history, source, report=None):
    """After training (in memory or streamed): the figures, the test split's scores
    (``report``), and the model and plot written (by rank 0), unless Ctrl-C stopped it."""
    if history.interrupted:  # Ctrl-C means stop: a partial model is not what -o asked for
        unwritten = "; nothing written" if args.out or args.plot else ""
        raise KeyboardInterrupt(f"after epoch {len(history.epochs)} of {args.epochs}{unwritten}")
    model.summary["source"] = source
    net = model.network
    console.print(
        f"network {'-'.join(map(str, net.sizes))}, hidden {', '.join(net.activations) or 'none'}, "
        f"output {net.output}, task {model.task}"
        + (f", {len(model.classes)} classes" if model.classes else "")
    )
    final = model.summary["final"]
    shown = {k: v for k, v in final.items() if k != "lr"}
    table = Table(
        title=_training_title(history),
        caption="train: running mean over the epoch's batches; validation: after the epoch",
    )
    table.add_column("figure")
    table.add_column("train", justify="right")
    table.add_column("validation", justify="right")
    for key in [k for k in shown if not k.startswith("val_")]:
        val = shown.get(f"val_{key}")
        label = FIGURE_LABELS.get((model.task, key), key)
        table.add_row(label, f"{shown[key]:.4f}", "-" if val is None else f"{val:.4f}")
    console.print(table)
    if report is not None:
        model.summary["test_split"] = args.test_split
        model.summary["test"] = report.to_dict()
        console.print(f"test set: {report.samples} samples held out before training")
        if comm.rank == 0:
            _print_evaluation(report)
    if comm.rank != 0:  # the model is the same on every rank: rank 0 writes it
        return
    if args.out:
        model.save(args.out)
        console.print(f"model written to {args.out}")
    else:
        console.print("the model was not saved: add -o model.safetensors to keep it")
    if args.plot:
        from .plots import plot_history

        plot_history(history, args.plot, title=f"chainrule on {source}")
        console.print(f"curves written to {args.plot}")


def _streams(args: argparse.Namespace, comm, console) -> bool:
    """Whether to train on the file streamed: asked for (--stream), or the data would not
    fit the memory budget (--memory, by default a share of the machine's memory)."""
    from .data.footprint import default_budget, estimated_bytes

    if args.dataset or args.data is None:
        if args.stream:
            raise UserError("--stream reads a file: give a CSV or Parquet file, not --dataset")
        return False
    stream = args.stream
    if not stream and comm.size == 1:
        need, budget = estimated_bytes(args.data), args.memory or default_budget()
        if need > budget:
            console.print(
                f"{args.data}: about {_bytes(need)} as float32, over the memory budget of "
                f"{_bytes(budget)} (--memory): training on it streamed (--stream)"
            )
            stream = True
    if stream and comm.size > 1:
        raise UserError("--stream trains in one process, not under mpirun")
    if stream and args.test_split:
        raise UserError(
            "--test-split holds the test rows in memory, which --stream does not; keep a "
            "test file aside and score the model with chainrule evaluate"
        )
    return stream


def _bytes(size: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size / 1024:.1f} kB"


def _train_streamed(args: argparse.Namespace, console):
    from .tabular import TabularModel
    from .training.data import DataError

    try:
        return TabularModel.train_stream(
            args.data, args.target, args.task, _train_options(args, args.quiet),
            drop_missing=args.drop_missing, na_values=_na_values(args), notify=console.print,
            cache=not args.no_cache, cache_dir=args.cache_dir,
        )  # fmt: skip
    except DataError as error:
        raise UserError(f"{args.data}: {error}") from None


def _training_title(history) -> str:
    """ "after 72 epochs (stopped early; weights of epoch 62 restored)": how training
    ended and which epoch's weights (and figures) the model holds."""
    notes = ["stopped early"] if history.stopped_early else []
    restored = history.restored_epoch
    if restored is not None and restored != history.epochs[-1]:
        notes.append(f"weights of epoch {restored} restored")
    return f"after {len(history.epochs)} epochs" + (f" ({'; '.join(notes)})" if notes else "")


# a regression trains on (y - mean) / scale: its loss is in those units, rmse in y's
FIGURE_LABELS = {
    ("regress", "loss"): "loss (standardised target)",
    ("regress", "rmse"): "rmse (target's units)",
}


def _load_model(path: str):
    from .tabular import TabularModel

    try:
        return TabularModel.load(path)
    except ModelFileError as error:
        if not error.text:
            raise
        raise ModelFileError(
            f"{error}; the first argument is the model file (what chainrule train writes)"
        ) from None


def cmd_evaluate(args: argparse.Namespace) -> None:
    model = _load_model(args.model)
    target = args.target or model.target_name
    if not target:
        raise UserError("--target COLUMN is required: the model does not name its target")
    from .distributed import resolve

    comm = resolve("auto")
    if comm.size > 1:  # under mpirun each rank reads and predicts its share of the rows
        from .mpi_files import evaluate_file

        report = evaluate_file(comm, model, args.data, target, args.drop_missing, _na_values(args))
        if comm.rank != 0:  # rank 0 alone prints the report, the same on every rank
            return
    else:
        report = model.evaluate_csv(args.data, target, args.drop_missing, _na_values(args))
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
        return
    _print_evaluation(report)


def _print_evaluation(report: EvaluationReport) -> None:
    console = _console()
    if isinstance(report, RegressionReport):
        table = Table(title=f"regression on {report.samples} samples (in the target's units)")
        table.add_column("metric")
        table.add_column("value", justify="right")
        for name, value in (
            ("MSE", report.mse),
            ("RMSE", report.rmse),
            ("MAE", report.mae),
            ("R^2", report.r2),
        ):
            table.add_row(name, f"{value:.6g}")
        console.print(table)
        return
    console.print(f"accuracy {report.accuracy:.4f} on {report.samples} samples")
    if report.log_loss is not None:
        auc = (
            f"{report.roc_auc:.4f}"
            if report.roc_auc is not None
            else f"n/a ({report.roc_auc_undefined})"
        )
        kind = "" if len(report.classes) == 2 else ", one-vs-rest macro"
        console.print(f"log-loss {report.log_loss:.4f}  ROC-AUC{kind} {auc}")
    classes = [str(c) for c in report.classes]
    matrix = Table(title="confusion matrix (rows: true class, columns: predicted)")
    matrix.add_column("")
    for c in classes:
        matrix.add_column(c, justify="right")
    for c, row in zip(classes, report.confusion_matrix, strict=True):
        matrix.add_row(c, *[str(v) for v in row])
    console.print(matrix)
    per_class = Table(title="per class")
    for column in ("class", "precision", "recall", "F1", "support"):
        per_class.add_column(column, justify="right" if column != "class" else "left")
    for c, scores in report.per_class.items():
        per_class.add_row(
            str(c),
            f"{scores.precision:.4f}",
            f"{scores.recall:.4f}",
            f"{scores.f1:.4f}",
            str(scores.support),
        )
    per_class.add_section()
    for name, average in report.averages.items():
        per_class.add_row(
            f"{name} average",
            f"{average.precision:.4f}",
            f"{average.recall:.4f}",
            f"{average.f1:.4f}",
            str(report.samples),
            style="italic",
        )
    console.print(per_class)


def cmd_predict(args: argparse.Namespace) -> None:
    from .io import check_not_an_input

    if args.out:
        check_not_an_input(args.out, [args.data, args.model])
    model = _load_model(args.model)
    if args.proba and model.task != "classify":
        raise UserError("--proba needs a classification model")
    proba, skip_missing = args.proba, args.drop_missing
    columns = {
        name: [c for names in getattr(args, name) for c in names] for name in ("keep", "ignore")
    }
    columns["na_values"] = _na_values(args)
    from .distributed import resolve

    comm = resolve("auto")
    if comm.size > 1:  # each rank predicts its share of the rows; rank 0 writes them all
        from .mpi_files import predict_file

        predict_file(
            comm, model, args.data, args.out, proba=proba, skip_missing=skip_missing, **columns
        )
    elif args.out:
        model.predict_csv(args.data, args.out, proba=proba, skip_missing=skip_missing, **columns)
    else:
        model.write_predictions(
            args.data, sys.stdout, proba=proba, skip_missing=skip_missing, **columns
        )


def cmd_inspect(args: argparse.Namespace) -> None:
    model = _load_model(args.model)
    net = model.network
    info = {
        "task": model.task,
        "sizes": net.sizes,
        "hidden_activations": net.activations,
        "output": net.output,
        "dtype": net.dtype.name,
        "U": {f"U{i}": list(u.shape) for i, u in enumerate(net.U, start=1)},
        "parameters": net.num_parameters(),
        "features": model.feature_names,
        "target": model.target_name,
        "classes": model.classes,
        "standardized_inputs": model.input_mean is not None,
        "training": model.summary,
    }
    if args.json:
        print(json.dumps(info, indent=2))
        return
    console = _console()
    console.print(
        Text.assemble(
            (str(args.model), "bold"), f": {model.task} network {'-'.join(map(str, net.sizes))}"
        )
    )
    table = Table(title="layers")
    for column in ("layer", "shape", "parameters"):
        table.add_column(column)
    for i, layer in enumerate(net.linear_layers, start=1):
        activation = net.activations[i - 1] if i <= len(net.activations) else net.output
        count = layer.U.size + (layer.b.size if layer.b is not None else 0)
        table.add_row(
            f"U{i} + b{i}, then {activation}",
            f"{layer.U.shape[0]} x {layer.U.shape[1]}",
            str(count),
        )
    console.print(table)
    console.print(f"parameters: {info['parameters']}  dtype: {info['dtype']}")
    names = model.feature_names
    shown = ", ".join(names[:8]) + (f", ... ({len(names)} in all)" if len(names) > 8 else "")
    console.print(f"features: {shown}")
    if model.classes is not None:
        console.print(f"classes: {', '.join(map(str, model.classes))}")
    if model.summary:
        console.print("training: " + json.dumps(model.summary))


def cmd_export(args: argparse.Namespace) -> None:
    from .io import check_not_an_input, export_onnx
    from .io.onnx_export import OpsetError

    check_not_an_input(args.destination, [args.model])
    model = _load_model(args.model)
    try:
        export_onnx(model, args.destination, opset=args.opset)
    except OpsetError as error:
        raise UserError(f"--{error}") from None  # "--opset N cannot express ..."
    _console().print(f"ONNX model written to {args.destination} (opset {args.opset})")


def cmd_examples(args: argparse.Namespace) -> None:
    from .lecture import print_examples

    print_examples(args.which, _console())


def cmd_explain(args: argparse.Namespace) -> None:
    from .explain import compare, parse, trace
    from .explain.drawing import render, trace_graph_source
    from .explain.report import print_comparison, print_trace

    expression = parse(args.expression)
    result = trace(expression, args.at, args.gates)
    comparison = compare(expression, args.at, args.gates, args.numerical) if args.compare else None
    if args.json:
        document = result.to_dict()
        if comparison is not None:
            document["comparison"] = comparison.to_dict()
        print(json.dumps(document, indent=2))
    else:
        console = _console()
        print_trace(result, console)
        if comparison is not None:
            print_comparison(comparison, console)
    if args.draw:
        # without dot: GraphvizMissing, exit 1
        render(trace_graph_source(result), args.draw, dpi=args.dpi)
        print(f"graph drawn to {args.draw}", file=sys.stderr)


def cmd_plot(args: argparse.Namespace) -> None:
    from .explain import figures

    suffix = ".gif" if args.gif else ".png"
    out = args.out or f"{args.what}{suffix}"
    if args.gif and args.what != "boundary":
        raise UserError("--gif animates the boundary only: chainrule plot boundary --gif")
    if args.what == "activations":
        figures.plot_activations(out)
    elif args.what == "losses":
        figures.plot_losses(out)
    else:
        with figures.reporting_progress(sys.stderr) as progress:
            result = figures.plot_boundary(
                out,
                args.dataset,
                None if args.hidden is None else tuple(args.hidden),
                args.activation,
                args.epochs,
                args.lr,
                args.seed,
                args.gif,
                progress,
            )
        print(
            f"training: accuracy {result.train_accuracy:.3f}, loss {result.train_loss:.4f}\n"
            f"test (held out): accuracy {result.test_accuracy:.3f}, loss {result.test_loss:.4f}"
        )
    print(f"plot written to {out}", file=sys.stderr)


def cmd_playground(args: argparse.Namespace) -> None:
    from .playground import serve

    serve(args.host, args.port, open_browser=not args.no_browser)


COMMANDS = {
    "train": cmd_train,
    "evaluate": cmd_evaluate,
    "predict": cmd_predict,
    "inspect": cmd_inspect,
    "export": cmd_export,
    "examples": cmd_examples,
    "explain": cmd_explain,
    "plot": cmd_plot,
    "playground": cmd_playground,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with sigterm_raises():
            COMMANDS[args.command](args)
    except KeyboardInterrupt as error:
        print(f"chainrule: interrupted {error}".rstrip(), file=sys.stderr)
        return 130
    except Terminated:
        print("chainrule: terminated", file=sys.stderr)
        return 143
    except BrokenPipeError:
        _silence_stdout()
        return 141
    except (UserError, ValueError, OSError, MissingExtraError, StateDictError) as error:
        print(f"chainrule: error: {_message(error)}", file=sys.stderr)
        _abort_mpi_job(1)
        return 1
    return 0


def _abort_mpi_job(status: int) -> None:
    """Under mpirun, end every rank of the job: a rank that stops alone would leave the
    others waiting in a collective for it."""
    mpi = sys.modules.get("mpi4py.MPI")
    if mpi is not None and mpi.Is_initialized() and mpi.COMM_WORLD.Get_size() > 1:
        sys.stderr.flush()
        mpi.COMM_WORLD.Abort(status)


def _silence_stdout() -> None:
    """After the reader of standard output went away, point it at the null device, so the
    flush at exit does not fail again (Python's documented recipe for SIGPIPE)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def _message(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror and error.filename:
        return f"{error.filename}: {error.strerror.lower()}"
    text = str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)
    return text.splitlines()[0] if text else type(error).__name__


if __name__ == "__main__":
    sys.exit(main())
