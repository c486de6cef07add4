"""Which cells are missing values: what the user says, with a documented default.

* The target: only the empty cell, unless ``--na-values`` names more.  A class called
  ``none``, ``NA``, ``null`` or ``?`` is a label like any other.
* A feature: the empty cell and, since none of them is a number, ``NaN``, ``NA``, ``N/A``,
  ``null``, ``none`` and ``?`` in any case and with spaces around; also the texts named by
  ``--na-values`` (exact), and any value that is not finite (``inf``, ``1e400``).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass

FEATURE_MISSING = ("", "nan", "na", "n/a", "null", "none", "?")


def _every_case(word: str) -> list[str]:
    options = [(c.lower(), c.upper()) if c.isalpha() else (c,) for c in word]
    return sorted({"".join(letters) for letters in itertools.product(*options)})


@dataclass(frozen=True)
class MissingValues:
    """The texts that mean "missing" (besides the empty cell) as the user gave them."""

    extra: tuple[str, ...] = ()

    @classmethod
    def of(cls, values: Iterable[str] | None) -> MissingValues:
        return cls(tuple(dict.fromkeys(values or ())))

    def feature_cell(self, text: str) -> bool:
        return text.strip().lower() in FEATURE_MISSING or text in self.extra

    def target_cell(self, text: str) -> bool:
        return text == "" or text in self.extra

    def feature_texts(self) -> list[str]:
        """Every exact text a feature cell may hold to be missing (for Arrow's null_values)."""
        texts = {case for word in FEATURE_MISSING for case in _every_case(word)}
        return sorted(texts | set(self.extra))

    def target_texts(self) -> list[str]:
        return sorted({"", *self.extra})
