"""Reading a safetensors file that may have been crafted to do harm.

A safetensors file is an 8-byte little-endian header length N, N bytes of JSON (each
tensor's ``dtype``, ``shape`` and ``data_offsets``; optional ``__metadata__``, a map of
strings) and the tensors' bytes.  Nothing here trusts the file: it must be a regular file
(a FIFO would hang, a device never end); the header is read only up to a bound and parsed
with bounded nesting (measured before Python's recursive parser runs), bounded number
literals and strings, and no duplicate keys; the declared tensors must tile the data
section exactly (no gap, no overlap, nothing past the end), so what the header declares is
paid for by bytes that exist.  The caller checks the layout against what it expects
*before* the data is read; only then are the bytes read, each tensor a view of them.
Every refusal is a :class:`ModelFileError` naming the file.
"""

from __future__ import annotations

import json
import math
import os
import stat
import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ..errors import ModelFileError

MAX_HEADER_BYTES = 16 * 1024 * 1024
MAX_JSON_DEPTH = 64  # chainrule writes 4 levels; a user's info may nest, not without end
MAX_NUMBER_CHARS = 40  # int64 has 19 digits, a float's repr at most 24 characters
MAX_STRING_BYTES = 65536  # a feature name, a label, a line of notes in the info
MAX_TENSORS = 4096
MAX_DIMENSIONS = 8
DTYPES = {
    "F16": np.dtype("<f2"),
    "F32": np.dtype("<f4"),
    "F64": np.dtype("<f8"),
    "I8": np.dtype("i1"),
    "I16": np.dtype("<i2"),
    "I32": np.dtype("<i4"),
    "I64": np.dtype("<i8"),
    "U8": np.dtype("u1"),
    "U16": np.dtype("<u2"),
    "U32": np.dtype("<u4"),
    "U64": np.dtype("<u8"),
    "BOOL": np.dtype("?"),
}
_FILE_KINDS = (
    (stat.S_ISDIR, "is a folder, not a model file"),
    (stat.S_ISFIFO, "is a FIFO (named pipe), not a model file"),
    (stat.S_ISCHR, "is a character device, not a model file"),
    (stat.S_ISBLK, "is a block device, not a model file"),
    (stat.S_ISSOCK, "is a socket, not a model file"),
)
_TOO_DEEP = f"nests more than {MAX_JSON_DEPTH} levels of arrays and objects"


@dataclass(frozen=True)
class TensorSpec:
    """One tensor as the header declares it: bytes ``begin:end`` of the data section."""

    dtype: np.dtype
    shape: tuple[int, ...]
    begin: int
    end: int

    def array(self, data: bytearray) -> np.ndarray:
        """The tensor: a view of ``data`` (the data section) in native byte order."""
        count = math.prod(self.shape)
        flat = np.frombuffer(data, self.dtype, count, self.begin)
        return flat.reshape(self.shape).astype(self.dtype.newbyteorder("="), copy=False)


Layout = dict[str, TensorSpec]
Check = Callable[[Layout, dict[str, str]], None]


def short(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters: a crafted value in a message stays one
    short line."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def read_safetensors(
    path: str | os.PathLike, check: Check | None = None
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The tensors and the ``__metadata__`` strings of the safetensors file ``path``.

    ``check(layout, metadata)`` runs after the header is validated and before any tensor
    byte is read: it raises to refuse the file (a declared architecture that does not
    match the tensors, say), so nothing is allocated for a file that will be refused."""
    path = Path(path)
    with _open_regular(path) as (stream, size):
        header_size = _header_size(stream, size, path)
        header = _parse_header(_read_exactly(stream, header_size, path), path)
        metadata = _metadata(header, path)
        layout = _layout(header, size - 8 - header_size, path)
        if check is not None:
            check(layout, metadata)
        data = _read_data(stream, size - 8 - header_size, path)
    return {name: spec.array(data) for name, spec in layout.items()}, metadata


@contextmanager
def _open_regular(path: Path) -> Iterator[tuple[BinaryIO, int]]:
    """The open file and its size, if ``path`` is a regular file.  Opened non-blocking, so
    a FIFO put in its place after the check cannot hang the open; checked again open."""
    try:
        kind = os.stat(path).st_mode
        _refuse_special(kind, path)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ModelFileError(f"{path}: is a folder, not a model file") from None
    except OSError as error:
        raise ModelFileError(f"{path}: cannot be read ({error.strerror})") from None
    except ValueError as error:  # a NUL byte in the name
        raise ModelFileError(f"{short(str(path))}: not a file name ({error})") from None
    with os.fdopen(fd, "rb") as stream:
        status = os.fstat(fd)
        _refuse_special(status.st_mode, path)
        yield stream, status.st_size


def _refuse_special(mode: int, path: Path) -> None:
    for test, says in _FILE_KINDS:
        if test(mode):
            raise ModelFileError(f"{path}: {says}")
    if not stat.S_ISREG(mode):
        raise ModelFileError(f"{path}: not a regular file, not a model file")


def _header_size(stream: BinaryIO, size: int, path: Path) -> int:
    if size < 8:
        raise ModelFileError(f"{path}: too short to be a safetensors file ({size} bytes)")
    start = _read_exactly(stream, min(size, 512), path)
    stream.seek(8)
    (header_size,) = struct.unpack("<Q", start[:8])
    if header_size <= MAX_HEADER_BYTES and 8 + header_size <= size:
        return header_size
    foreign = _foreign_format(start)
    if foreign:
        raise ModelFileError(f"{path}: {foreign}")
    if _looks_like_text(start):
        raise ModelFileError(
            f"{path}: not a chainrule model file: it begins with text (a CSV file?)", text=True
        )
    if header_size > MAX_HEADER_BYTES:
        raise ModelFileError(
            f"{path}: not a chainrule model file: its first 8 bytes give a header of "
            f"{header_size} bytes, larger than the {MAX_HEADER_BYTES} allowed"
        )
    raise ModelFileError(
        f"{path}: truncated or not a model file: the header says {header_size} bytes, "
        f"larger than the {size - 8} bytes after it"
    )


def _foreign_format(start: bytes) -> str | None:
    """Name the formats people mistake for model files, never opening them."""
    if start[0] == 0x80 and start[1] in (2, 3, 4, 5):
        return "this is a Python pickle; chainrule never unpickles (unpickling can run code)"
    if start[:4] == b"PK\x03\x04":
        return (
            "this is a zip archive (such as a PyTorch .pt file, which holds pickles); "
            "chainrule reads only safetensors files"
        )
    return None


def _looks_like_text(start: bytes) -> bool:
    """UTF-8 text without control characters but tab and line ends (a CSV, a README)."""
    try:
        text = start.decode("utf-8")
    except UnicodeDecodeError as error:  # a character cut at the end of the sample
        if error.start < len(start) - 4:
            return False
        text = start[: error.start].decode("utf-8")
    return all(c.isprintable() or c in "\t\r\n" for c in text)


def _read_exactly(stream: BinaryIO, count: int, path: Path) -> bytes:
    data = stream.read(count)
    if len(data) != count:
        raise ModelFileError(f"{path}: truncated while reading (the file changed?)")
    return data


def _read_data(stream: BinaryIO, size: int, path: Path) -> bytearray:
    try:
        data = bytearray(size)
    except MemoryError:
        raise ModelFileError(f"{path}: its {size} bytes of tensors do not fit in memory") from None
    view, done = memoryview(data), 0
    while done < size:
        got = stream.readinto(view[done:])
        if not got:
            raise ModelFileError(f"{path}: truncated while reading (the file changed?)")
        done += got
    return data


# The header ---------------------------------------------------------------------------------
def parse_json(
    text: str | bytes, what: str, path: Path, constants: bool = False, strings: bool = False
) -> Any:
    """Parse ``text`` as JSON within bounds: nesting depth, characters of a number, with
    ``strings`` the length of a string; no key twice in an object (parsers disagree on which
    one counts); NaN and Infinity only with ``constants``.  ``what`` names the text in the
    message."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ModelFileError(f"{path}: the {what} is not UTF-8 text ({error.reason} "
                                 f"at byte {error.start})") from None  # fmt: skip
    depth, longest = json_extent(text)
    if depth > MAX_JSON_DEPTH:
        raise ModelFileError(f"{path}: the {what} {_TOO_DEEP} ({depth})")
    if strings and longest > MAX_STRING_BYTES:
        raise ModelFileError(
            f"{path}: the {what} holds a string of {longest} bytes as written "
            f"(at most {MAX_STRING_BYTES} allowed)"
        )
    try:
        value = json.loads(
            text,
            object_pairs_hook=_unique_keys,
            parse_int=_bounded(int),
            parse_float=_bounded(float),
            parse_constant=_constant if constants else _no_constant,
        )
    except _Refused as error:
        raise ModelFileError(f"{path}: the {what} {error}") from None
    except RecursionError:  # deeper than Python's stack allows: far deeper than the bound
        raise ModelFileError(f"{path}: the {what} {_TOO_DEEP}") from None
    except ValueError as error:
        kind = "not a valid safetensors file: the header" if what == "header" else f"the {what}"
        raise ModelFileError(f"{path}: {kind} is not valid JSON ({error})") from None
    return value


def json_extent(text: str) -> tuple[int, int]:
    """How deep the arrays and objects of JSON ``text`` nest, and the length of its longest
    string as written (escapes count as written), found without parsing and without Python
    loops: a quote is a string's edge unless an odd run of backslashes precedes it; a bracket
    counts when an even number of edges precedes it."""
    codes = np.frombuffer(text.encode("utf-8", "surrogatepass"), np.uint8)
    quotes = np.flatnonzero(codes == 0x22)
    if len(quotes):
        backslash = codes == 0x5C
        position = np.arange(len(codes), dtype=np.int64)
        last_other = np.maximum.accumulate(np.where(backslash, -1, position))
        before = np.maximum(quotes - 1, 0)
        run = np.where(quotes > 0, before - last_other[before], 0)
        quotes = quotes[run % 2 == 0]
    longest = int((quotes[1::2] - quotes[: len(quotes) // 2 * 2 : 2] - 1).max(initial=0))
    brackets = np.flatnonzero((codes == 0x5B) | (codes == 0x5D) | (codes == 0x7B) | (codes == 0x7D))
    brackets = brackets[np.searchsorted(quotes, brackets) % 2 == 0]
    if not len(brackets):
        return 0, longest
    opens = (codes[brackets] == 0x5B) | (codes[brackets] == 0x7B)
    return int(np.where(opens, 1, -1).cumsum().max()), longest


class _Refused(Exception):
    """A bound of :func:`parse_json` broken; the message completes 'the <what> ...'."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _Refused(f"has the key {short(key)} twice in one object")
        result[key] = value
    return result


def _bounded(kind: type) -> Callable[[str], Any]:
    def parse(literal: str) -> Any:
        if len(literal) > MAX_NUMBER_CHARS:
            raise _Refused(
                f"holds a number of {len(literal)} characters "
                f"(at most {MAX_NUMBER_CHARS} allowed): {literal[:20]}..."
            )
        return kind(literal)

    return parse


def _constant(name: str) -> float:
    return float(name)


def _no_constant(name: str) -> float:
    raise _Refused(f"holds {name}, which it never may")


def _parse_header(raw: bytes, path: Path) -> dict[str, Any]:
    header = parse_json(raw, "header", path)
    if not isinstance(header, dict):
        raise ModelFileError(f"{path}: the header is not a JSON object; not a safetensors file")
    return header


def _metadata(header: dict[str, Any], path: Path) -> dict[str, str]:
    metadata = header.get("__metadata__", {})
    if not (isinstance(metadata, dict) and all(isinstance(v, str) for v in metadata.values())):
        raise ModelFileError(f"{path}: the header's __metadata__ is not a map of strings")
    return metadata


def _layout(header: dict[str, Any], data_size: int, path: Path) -> Layout:
    """Each tensor's dtype, shape and place, checked: known dtype, whole non-negative
    dimensions, as many bytes as the shape needs, and together the data section exactly."""
    entries = {name: entry for name, entry in header.items() if name != "__metadata__"}
    if len(entries) > MAX_TENSORS:
        raise ModelFileError(
            f"{path}: the header declares {len(entries)} tensors (at most {MAX_TENSORS})"
        )
    layout = {name: _tensor_spec(name, entry, path) for name, entry in entries.items()}
    end = 0
    for name, spec in sorted(layout.items(), key=lambda item: (item[1].begin, item[1].end)):
        if spec.begin != end:
            problem = "overlaps the one before it" if spec.begin < end else "leaves a gap"
            raise ModelFileError(
                f"{path}: tensor {short(name)} (bytes {spec.begin}-{spec.end}) {problem}"
            )
        end = spec.end
    if end != data_size:
        raise ModelFileError(
            f"{path}: the tensors declare {end} bytes of data, the file holds {data_size}"
            + (" (truncated?)" if end > data_size else "")
        )
    return layout


def _tensor_spec(name: str, entry: Any, path: Path) -> TensorSpec:
    if len(name) > 256:
        raise ModelFileError(f"{path}: a tensor name of {len(name)} characters: {short(name)}")
    if not (isinstance(entry, dict) and set(entry) == {"dtype", "shape", "data_offsets"}):
        raise ModelFileError(
            f"{path}: tensor {short(name)} is not described by dtype, shape and data_offsets"
        )
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if not (isinstance(dtype, str) and dtype in DTYPES):
        raise ModelFileError(f"{path}: tensor {short(name)} has an unknown dtype {short(dtype)}")
    if not (
        isinstance(shape, list)
        and len(shape) <= MAX_DIMENSIONS
        and all(type(n) is int and n >= 0 for n in shape)
    ):
        raise ModelFileError(f"{path}: tensor {short(name)} has an invalid shape {short(shape)}")
    if not (
        isinstance(offsets, list)
        and len(offsets) == 2
        and all(type(n) is int for n in offsets)
        and 0 <= offsets[0] <= offsets[1]
    ):
        raise ModelFileError(
            f"{path}: tensor {short(name)} has invalid data_offsets {short(offsets)}"
        )
    begin, end = offsets
    needed = math.prod(shape) * DTYPES[dtype].itemsize
    if end - begin != needed:
        raise ModelFileError(
            f"{path}: tensor {short(name)} is {dtype}{short(shape)}, {needed} bytes, "
            f"but its data_offsets span {end - begin}"
        )
    return TensorSpec(DTYPES[dtype], tuple(shape), begin, end)
