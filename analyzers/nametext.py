"""How the entity lexicon compares names with running text.

Names and texts are folded alike (fold_text: case, accents incl. đ, Arabic letter forms,
Traditional→Simplified, width), one character at a time, so that every folded offset maps back
into the original text (fold_with_offsets). Separators are squeezed as name_key leaves them in
names: a run of spaces, hyphens and dashes is one space, and none is kept between letters of the
scripts written without spaces (Squeezed). A name found in folded text must also sit on its
script's word boundaries (start_ok, end_ok). analyzers/lexicon.py holds the names and the
matching; this module only the text rules both sides share.
"""
from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right

import numpy as np

from .normalize import fold_text, fold_width_same_length

SEPARATORS = frozenset(" \t\n\r\f\v\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
                       "\u2008\u2009\u200a\u202f\u205f\u3000-\u2010\u2011\u2012\u2013\u2014\u2015\u2212")
_NOSPACE_RANGES = (r"\u0E00-\u0EFF\u1000-\u109F\u1780-\u17FF\u1100-\u11FF\u3040-\u30FF\u3130-\u318F"
                   r"\u3400-\u4DBF\u4E00-\u9FFF\uAC00-\uD7AF\uF900-\uFAFF")
_NOSPACE = re.compile(rf"[{_NOSPACE_RANGES}]")
BRAHMIC = re.compile(r"[\u0E00-\u0EFF\u1000-\u109F\u1780-\u17FF]")  # Thai, Lao, Myanmar, Khmer
# Where a name can start: any no-space-script char, or a word start in the other scripts.
NAME_START = re.compile(rf"[{_NOSPACE_RANGES}]|(?<![^\W{_NOSPACE_RANGES}])\w")
_THAI_LEADING_VOWELS = frozenset("เแโใไ")
_THAI_ATTACHED = frozenset("ะัาำิีึืฺุู็่้๊๋์ํ๎ๅ")  # would belong to the matched syllable
ARABIC_CLITICS = frozenset({"و", "ف", "ب", "ل", "ك", "ال", "وال", "فال", "بال", "كال", "لل", "ول",
                           "فل", "وب", "فب", "وك", "ولل", "فلل", "وبال", "فبال", "وكال"})


def script_of(ch: str) -> str:
    """'thai', 'nospace' (other scripts written without spaces), 'arabic', 'cyrillic' or 'spaced'."""
    if "\u0e00" <= ch <= "\u0e7f":
        return "thai"
    if _NOSPACE.match(ch) or ord(ch) >= 0x20000:
        return "nospace"
    if "\u0600" <= ch <= "\u06ff" or "\u0750" <= ch <= "\u077f":
        return "arabic"
    if "\u0400" <= ch <= "\u04ff":
        return "cyrillic"
    return "spaced"


class _FoldTable(dict):
    """str.translate table filled on demand with fold_text of single characters.

    Folding char by char keeps a map back to the original offsets; `irregular` holds the
    characters whose fold is not exactly one character (tashkeel, ß, decomposed accents).
    """

    def __init__(self):
        super().__init__()
        self.irregular: set[str] = set()
        self._pattern: tuple[int, re.Pattern | None] = (0, None)

    def irregular_pattern(self) -> re.Pattern | None:
        """A regex finding the irregular characters known so far (None while there are none):
        searching a body with it is 4x faster than set.isdisjoint, which hashes every char."""
        count, pattern = self._pattern
        if count != len(self.irregular):         # the set only grows: its size says if stale
            chars = frozenset(self.irregular)
            pattern = re.compile("[" + "".join(re.escape(c) for c in sorted(chars)) + "]")
            self._pattern = count, pattern = len(chars), pattern
        return pattern

    def __missing__(self, code: int) -> str:
        ch = chr(code)
        folded = fold_text(ch)
        if len(folded) != 1:
            self.irregular.add(ch)
        self[code] = folded
        return folded


_FOLD = _FoldTable()


class _OffsetMap:
    """Folded offset → original offset, when some characters folded to 0 or 2+ characters.

    Only those few characters are recorded; other offsets are shifted by the running
    difference (bisect), so Arabic text with tashkeel stays cheap.
    """

    def __init__(self, text: str):
        pattern = _FOLD.irregular_pattern()
        self._after, self._first, self._orig, self._shift = [], [], [], []
        shift = 0  # folded offset - original offset, so far
        for m in pattern.finditer(text):
            k = m.start()
            width = len(_FOLD[ord(text[k])])
            self._first.append(k + shift)  # folded offset of this char's first output char
            self._orig.append(k)
            shift += width - 1
            self._after.append(k + 1 + shift)  # folded offset just after its output
            self._shift.append(shift)

    def __getitem__(self, folded_offset: int) -> int:
        """Original offset of the character that produced folded char `folded_offset`."""
        idx = bisect_right(self._first, folded_offset) - 1
        if idx < 0:
            return folded_offset
        if folded_offset < self._after[idx]:
            return self._orig[idx]  # inside the expansion of an irregular char
        return folded_offset - self._shift[idx]


def fold_with_offsets(text: str) -> tuple[str, _OffsetMap | None]:
    """Folded text, plus the map back to offsets in `text` (None: same offsets)."""
    folded = text.translate(_FOLD)
    irregular = _FOLD.irregular_pattern()       # after translate: it may have met new ones
    if len(folded) == len(text) and (irregular is None or irregular.search(text) is None):
        return folded, None
    return folded, _OffsetMap(text)


_NOSPACE_CHAR = rf"[{_NOSPACE_RANGES}\U00020000-\U0010FFFF]"
_NOSPACE_AT = re.compile(_NOSPACE_CHAR)     # script_of() is "thai" or "nospace"
_SEPARATOR_CLASS = "[" + "".join(re.escape(c) for c in sorted(SEPARATORS)) + "]"
# Separator runs that name_key would not leave as one plain space: longer runs, other separator
# characters, and a space between letters of no-space scripts (dropped there).
# (The leading lookahead lets the regex engine skip non-separators fast: 2.3x.)
_IRREGULAR_SEPARATORS = re.compile(rf"(?={_SEPARATOR_CLASS})(?:{_SEPARATOR_CLASS}{{2,}}|(?! ){_SEPARATOR_CLASS}"
                                   rf"|(?<={_NOSPACE_CHAR}) (?={_NOSPACE_CHAR}))")


class Squeezed:
    """Folded text with its separators as name_key leaves them in names: a run of them one
    space, none between letters of no-space scripts; and the way back to folded offsets."""

    __slots__ = ("text", "same", "_at", "_shift")

    def __init__(self, folded: str):
        pieces, self._at, self._shift = [], [], []   # from squeezed offset _at[k]: + _shift[k]
        last = shift = 0
        size = len(folded)
        for start, end in [m.span() for m in _IRREGULAR_SEPARATORS.finditer(folded)]:
            drop = 0 < start and end < size and _NOSPACE_AT.match(folded, start - 1) is not None \
                and _NOSPACE_AT.match(folded, end) is not None
            pieces.append(folded[last:start])
            if drop:
                shift += end - start
            else:
                pieces.append(" ")
                shift += end - start - 1
            self._at.append(end - shift)
            self._shift.append(shift)
            last = end
        pieces.append(folded[last:])
        self.same = not self._at           # nothing squeezed: the offsets are the folded ones
        self.text = folded if self.same else "".join(pieces)

    def folded_offset(self, at: int) -> int:
        """Offset in the folded text of the squeezed character at `at` (not a squeezed space)."""
        k = bisect_right(self._at, at) - 1
        return at if k < 0 else at + self._shift[k]

    @classmethod
    def from_codes(cls, folded: str, codes: np.ndarray) -> Squeezed:
        """Squeezed(folded), given folded's code points as uint32: the same separator runs
        found and squeezed with array operations instead of a regex scan."""
        squeezed = cls.__new__(cls)
        squeezed.same, squeezed.text, squeezed._at, squeezed._shift = True, folded, [], []
        size = len(codes)
        kinds = np.zeros(size + 1, dtype=np.uint8)        # [size] stays 0: "no character" on both ends
        _code_tables().kinds_of(codes, kinds[:size])
        separator = (kinds & _KIND_SEPARATOR).view(bool)
        if not separator.any():
            return squeezed
        edges = np.flatnonzero(separator[1:] != separator[:-1]) + 1   # where runs start or end
        if separator[0]:
            edges = np.concatenate(([0], edges))
        starts, ends = edges[0::2], edges[1::2]            # separator[size] is False: runs end
        # Dropped between two letters of no-space scripts; a single plain space is left as it
        # is; any other run becomes one space.
        drop = (kinds[starts - 1] & kinds[ends] & _KIND_NOSPACE) != 0      # [-1] is [size]: no character
        squeeze = drop | (ends - starts > 1) | ((kinds[starts] & _KIND_SPACE) == 0)
        if not squeeze.any():
            return squeezed
        starts, ends, drop = starts[squeeze], ends[squeeze], drop[squeeze]
        kept_first = ~drop
        shift = np.cumsum(ends - starts - kept_first)       # characters removed so far
        cut_from = starts + kept_first
        marks = np.zeros(size + 1, dtype=np.int8)
        marks[cut_from] += 1                                 # += then -=: an empty cut cancels out
        marks[ends] -= 1
        out = codes.copy()
        out[starts[kept_first]] = 32
        squeezed.same = False
        squeezed.text = out[np.cumsum(marks[:size]) == 0].tobytes().decode("utf-32-le", "surrogatepass")
        squeezed._at, squeezed._shift = (ends - shift).tolist(), shift.tolist()
        return squeezed


_KIND_SEPARATOR, _KIND_NOSPACE, _KIND_SPACE = 1, 2, 4      # bits of _CodeTables.kinds


class _CodeTables:
    """Per-code-point tables over the BMP for fold_and_squeeze: a character's one-character fold
    (filled from _FOLD as characters are met; UNSET, DROPPED for a fold to nothing, IRREGULAR
    for a longer one), and its kind for Squeezed: separator, letter of a no-space script, plain
    space (bits)."""

    UNSET, IRREGULAR, DROPPED = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD
    SIZE = 0x10000
    LIMIT = 0x110000             # past the last code point: a marker

    def __init__(self):
        self.fold = np.full(self.SIZE, self.UNSET, dtype=np.uint32)
        # kinds of the BMP, then of the planes 1 (spaced) and 2-16 (no-space, as _NOSPACE_AT)
        self.kinds = np.zeros(self.SIZE + 2, dtype=np.uint8)
        every = "".join(map(chr, range(self.SIZE)))
        self.kinds[[m.start() for m in _NOSPACE_AT.finditer(every)]] |= _KIND_NOSPACE
        self.kinds[self.SIZE + 1] = _KIND_NOSPACE
        self.kinds[[ord(c) for c in SEPARATORS]] |= _KIND_SEPARATOR
        self.kinds[ord(" ")] |= _KIND_SPACE

    def kinds_of(self, codes: np.ndarray, out: np.ndarray) -> None:
        if codes.size and codes.max() >= self.SIZE:
            codes = np.where(codes < self.SIZE, codes, self.SIZE + (codes >= 0x20000))
        np.take(self.kinds, codes, out=out)

    def learn(self, codes: np.ndarray) -> None:
        for code in np.unique(codes).tolist():
            folded = _FOLD[code]
            self.fold[code] = ord(folded) if len(folded) == 1 else self.DROPPED if not folded else self.IRREGULAR


_CODE_TABLES: _CodeTables | None = None


def _code_tables() -> _CodeTables:
    """The tables, made on first use (~20 ms), not when the module is imported."""
    global _CODE_TABLES
    if _CODE_TABLES is None:
        _CODE_TABLES = _CodeTables()
    return _CODE_TABLES


class _KeptOffsets:
    """Folded offset -> original offset when characters were only dropped (fold_and_squeeze):
    the kept characters' original offsets, looked up as Python ints (a list of them would cost
    more than the folding)."""

    __slots__ = ("_kept",)

    def __init__(self, kept: np.ndarray):
        self._kept = kept

    def __getitem__(self, folded_offset: int) -> int:
        return int(self._kept[folded_offset])


def fold_and_squeeze(text: str) -> tuple[str, _OffsetMap | _KeptOffsets | None, Squeezed]:
    """fold_with_offsets(text) and the Squeezed folded text. When every character is in the BMP
    and folds to at most one character (nearly all text; Arabic tashkeel and tatweel fold to
    none), both are made with array operations from the code points: several times faster than
    str.translate through _FOLD and the separators' regex scan (which remain the reference, used
    otherwise)."""
    tables = _code_tables()
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    if codes.size and codes.max() < tables.SIZE:
        folded_codes = tables.fold.take(codes)
        top = folded_codes.max()                 # past LIMIT: a marker (unset, dropped, irregular)
        if top >= tables.LIMIT:
            unset = folded_codes == tables.UNSET
            if unset.any():
                tables.learn(codes[unset])
                folded_codes = tables.fold.take(codes)
                top = folded_codes.max()
        offsets = None
        if top >= tables.LIMIT:
            kept = folded_codes != tables.DROPPED
            folded_codes = folded_codes[kept]
            offsets = _KeptOffsets(np.flatnonzero(kept))
            top = folded_codes.max() if folded_codes.size else 0
        if top < tables.LIMIT:
            folded = folded_codes.tobytes().decode("utf-32-le", "surrogatepass")
            return folded, offsets, Squeezed.from_codes(folded, folded_codes)
    folded, offsets = fold_with_offsets(text)
    return folded, offsets, Squeezed(folded)


def _collapse_separators(s: str) -> str:
    """Runs of spaces/dashes → one space; dropped between letters of no-space scripts."""
    out: list[str] = []
    pending = False
    for ch in s:
        if ch in SEPARATORS:
            pending = bool(out)
            continue
        if pending and not (script_of(out[-1]) in ("thai", "nospace") and script_of(ch) in ("thai", "nospace")):
            out.append(" ")
        pending = False
        out.append(ch)
    return "".join(out)


def name_key(name: str) -> str:
    """The match key of a name: folded, separators collapsed."""
    return _collapse_separators(name.translate(_FOLD))


def exact_form(s: str) -> str:
    return _collapse_separators(unicodedata.normalize("NFC", fold_width_same_length(s)))


def start_ok(f: str, i: int, script: str) -> bool:
    if i == 0 or script == "nospace":
        return True
    prev = f[i - 1]
    if script == "thai":
        return prev not in _THAI_LEADING_VOWELS
    if script == "arabic":
        k = i
        while k > 0 and f[k - 1].isalnum():
            k -= 1
        return k == i or f[k:i] in ARABIC_CLITICS
    return not (prev.isalnum() and script_of(prev) not in ("thai", "nospace"))


def end_ok(f: str, j: int, script: str) -> bool:
    if j == len(f) or script == "nospace":
        return True
    nxt = f[j]
    if script == "thai":
        return nxt not in _THAI_ATTACHED
    if script == "cyrillic":  # case endings: Вьетнам-а, Лаос-е
        k = j
        while k < len(f) and k - j < 3 and "\u0400" <= f[k] <= "\u04ff":
            k += 1
        return k - j <= 2 and (k == len(f) or not f[k].isalnum())
    return not (nxt.isalnum() and script_of(nxt) not in ("thai", "nospace"))
