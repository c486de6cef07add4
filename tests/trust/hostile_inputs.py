"""Hostile data files and command lines for the CLI: a corpus generated here, not committed.

Each CSV case is a function that writes one file (and returns its path) with a note of
what it attacks; each flag case is a command line that must be refused.  The tests in
``test_hostile_inputs.py`` run every case through ``chainrule`` and require a one-line
error naming the file or the option, the right exit code, no traceback and no file left
behind.  ``python -m tests.trust.hostile_inputs DIR`` writes the CSV corpus to DIR, to
try by hand or with other tools.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

HEADER = "a,b,y\n"
GOOD_ROWS = "".join(
    f"{i % 7 * 0.5},{(i * 3) % 5 - 2.0},{'cat' if i % 2 else 'dog'}\n" for i in range(40)
)


def _text(content: str) -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        path = folder / "data.csv"
        path.write_text(content, encoding="utf-8")
        return path

    return write


def _bytes(content: bytes) -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        path = folder / "data.csv"
        path.write_bytes(content)
        return path

    return write


# name -> (what it attacks, writer, a fragment the one-line message must hold)
CSV_CASES: dict[str, tuple[str, Callable[[Path], Path], str]] = {
    "empty": ("a file of no bytes", _text(""), "empty"),
    "header_only": ("a header and no rows", _text(HEADER), "no data rows"),
    "blank_lines_only": ("a header and blank lines", _text(HEADER + "\n\n  \n"), "no data rows"),
    "numeric_header": ("numbers where names belong", _text("1,2,3\n4,5,6\n"), "line 1"),
    "unnamed_column": ("a header cell left empty", _text("a,,y\n1,2,cat\n"), "no name"),
    "duplicate_column": ("a column named twice", _text("a,a,y\n1,2,cat\n"), "twice"),
    "short_row": ("a row with a cell missing", _text(HEADER + GOOD_ROWS + "1,cat\n"), "line 42"),
    "long_row": ("a row with a cell too many", _text(HEADER + "1,2,3,cat\n" + GOOD_ROWS), "line 2"),
    "text_feature": ("a word among numbers", _text(HEADER + GOOD_ROWS + "1,two,cat\n"), "'b'"),
    "nan_feature": ("NaN as a value", _text(HEADER + GOOD_ROWS + "nan,2,cat\n"), "'a'"),
    "inf_feature": ("inf as a value", _text(HEADER + GOOD_ROWS + "inf,2,cat\n"), "'a'"),
    "overflowing_number": (
        "1e400 (inf as a float)",
        _text(HEADER + GOOD_ROWS + "1e400,2,cat\n"),
        "'a'",
    ),
    "missing_target": ("an empty label", _text(HEADER + GOOD_ROWS + "1,2,\n"), "'y'"),
    "invalid_utf8": (
        "bytes that are not UTF-8",
        _bytes(HEADER.encode() + b"1,2,\xff\xfe\n"),
        "line 2",
    ),
    "nul_bytes": ("NUL characters", _bytes(HEADER.encode() + b"1,\x002,cat\n" * 3), "data.csv"),
    "unterminated_quote": (
        "a quote never closed",
        _text(HEADER + '1,2,"cat\n3,4,dog\n'),
        "line 2 opens a quoted cell that is never closed",
    ),
    "huge_field": (
        "a cell of 200,000 characters",
        _text(HEADER + "1,2," + "x" * 200_000 + "\n"),
        "data.csv",
    ),
    "no_features": ("only the target column", _text("y\ncat\ndog\n"), "no feature columns"),
    "one_row": ("a single row", _text(HEADER + "1,2,cat\n"), "data.csv"),
    "one_class": (
        "a single label",
        _text(HEADER + "".join(f"{i},{i},cat\n" for i in range(20))),
        "single class",
    ),
    "binary_junk": ("random bytes", _bytes(bytes(range(256)) * 64), "data.csv"),
}


def _parquet(table_of: Callable[[], object], name: str = "data.parquet") -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        import pyarrow.parquet as pq

        path = folder / name
        pq.write_table(table_of(), path)
        return path

    return write


def _parquet_bytes(content: bytes) -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        path = folder / "data.parquet"
        path.write_bytes(content)
        return path

    return write


def _good_columns(**changes) -> Callable[[], object]:
    def table():
        import pyarrow as pa

        columns = {
            "a": [i % 7 * 0.5 for i in range(40)],
            "b": [(i * 3) % 5 - 2.0 for i in range(40)],
            "y": ["cat" if i % 2 else "dog" for i in range(40)],
        }
        columns.update(changes)
        return pa.table({k: v for k, v in columns.items() if v is not None})

    return table


# name -> (what it attacks, writer, a fragment the one-line message must hold)
PARQUET_CASES: dict[str, tuple[str, Callable[[Path], Path], str]] = {
    "parquet_empty": ("a .parquet file of no bytes", _parquet_bytes(b""), "empty"),
    "parquet_corrupt": (
        "Parquet's magic around junk",
        _parquet_bytes(b"PAR1" + bytes(range(256)) * 8 + b"PAR1"),
        "not a readable Parquet file",
    ),
    "parquet_text": ("bytes that are not Parquet", _parquet_bytes(b"a,b,y\n1,2,cat\n"), "Parquet"),
    "parquet_text_feature": (
        "a feature column of strings",
        _parquet(_good_columns(b=[str(i) for i in range(40)])),
        "column 'b' holds string values",
    ),
    "parquet_null_feature": (
        "a null among the features",
        _parquet(_good_columns(a=[None, *range(39)])),
        "column 'a' has a missing value (null) at row 1",
    ),
    "parquet_nan_feature": (
        "NaN among the features",
        _parquet(_good_columns(b=[*range(39), float("nan")])),
        "column 'b' has a missing value ('nan') at row 40",
    ),
    "parquet_missing_target": (
        "no target column",
        _parquet(_good_columns(y=None)),
        "no column 'y'",
    ),
    "parquet_no_rows": (
        "a schema and no rows",
        _parquet(lambda: _good_columns()().slice(0, 0)),
        "no data rows",
    ),
}

# name -> (the options after `train data.csv --target y`, a fragment the message must hold)
FLAG_CASES: dict[str, tuple[list[str], str]] = {
    "hidden_zero": (["--hidden", "0"], "--hidden"),
    "hidden_words": (["--hidden", "a,b"], "--hidden"),
    "epochs_zero": (["--epochs", "0"], "--epochs"),
    "epochs_negative": (["--epochs", "-3"], "--epochs"),
    "batch_size_zero": (["--batch-size", "0"], "--batch-size"),
    "validation_one": (["--validation-split", "1"], "--validation-split"),
    "validation_nan": (["--validation-split", "nan"], "--validation-split"),
    "lr_negative": (["--lr", "-1"], "--lr"),
    "lr_nan": (["--lr", "nan"], "--lr"),
    "lr_inf": (["--lr", "inf"], "--lr"),
    "lr_zero": (["--lr", "0"], "--lr"),
    "seed_negative": (["--seed", "-1"], "--seed"),
    "seed_words": (["--seed", "one"], "--seed"),
    "patience_zero": (["--patience", "0"], "--patience"),
    "unknown_activation": (["--activation", "swishy"], "swishy"),
    "activation_count": (["--hidden", "8", "--activation", "relu,tanh"], "activation"),
    "unknown_loss": (["--loss", "hinge"], "hinge"),
    "loss_mismatch": (
        ["--loss", "binary_cross_entropy", "--output", "softmax"],
        "binary_cross_entropy",
    ),
    "unknown_optimizer": (["--optimizer", "lion"], "--optimizer"),
    "unknown_task": (["--task", "cluster"], "--task"),
    "regress_on_text": (["--task", "regress"], "'y'"),
}


def write_corpus(folder: Path) -> list[Path]:
    """Write every CSV case to ``folder/NAME.csv`` and every Parquet case to
    ``folder/NAME.parquet``; return the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for cases, suffix in ((CSV_CASES, ".csv"), (PARQUET_CASES, ".parquet")):
        for name, (_, writer, _) in cases.items():
            path = writer(folder)
            written.append(path.rename(folder / f"{name}{suffix}"))
    return written


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m tests.trust.hostile_inputs FOLDER")
    for path in write_corpus(Path(sys.argv[1])):
        print(path)
