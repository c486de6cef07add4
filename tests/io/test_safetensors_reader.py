"""The scan that measures a JSON text's nesting and longest string before it is parsed
(chainrule/io/safetensors_reader.py), checked against the parsed value."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from chainrule.io.safetensors_reader import json_extent

TRICKY_TEXT = st.text(alphabet='ab"\\[]{}\n\u00e9\u2028', max_size=12)
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TRICKY_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TRICKY_TEXT, inner, max_size=4),
    max_leaves=30,
)


def depth(value) -> int:
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    return 0


def strings(value):
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)
    elif isinstance(value, str):
        yield value


@settings(max_examples=150, deadline=None)
@given(VALUES, st.booleans())
def test_the_scan_measures_what_the_parser_finds(value, ascii_only):
    """Quotes, backslashes and brackets inside strings (escaped or not) do not count."""
    text = json.dumps(value, ensure_ascii=ascii_only)
    found_depth, longest = json_extent(text)
    assert found_depth == depth(value)
    written = [len(json.dumps(s, ensure_ascii=ascii_only).encode()) - 2 for s in strings(value)]
    assert longest == max(written, default=0)
