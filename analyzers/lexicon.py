"""Multilingual entity lexicon (gazetteer): provinces, cities, countries, organisations, concepts.

    from analyzers.lexicon import Lexicon
    lex = Lexicon.load()                      # analyzers/data/entities.tsv, cached
    text = "Đoàn đại biểu tỉnh Hà Tĩnh thăm Lào"
    lex.find(text)          # [Mention('vn-hatinh', 14, 26, 'tỉnh Hà Tĩnh', 'vi'), Mention('country-la', ...)]
    lex.entities_in(text)   # {'vn-hatinh', 'country-la'}
    lex.expansions("vn-haiphong", exclude_lang="vi")   # {'en': ['Hai Phong', 'Haiphong'], 'zh': [...], ...}

Matching is leftmost-longest over one trie of folded names (fold_text: case, accents incl. đ,
Arabic letter forms, Traditional→Simplified, width), with offsets into the original text.
Per script (see the data file header for the name markers):
  * Latin, Cyrillic, Arabic names must sit on word boundaries; a run of spaces/hyphens/dashes in
    the text matches one separator in the name ("Bà Rịa - Vũng Tàu" = "Bà Rịa–Vũng Tàu").
    Russian names may carry up to two case-ending letters (Вьетнама). Arabic names may carry the
    attached prefixes و ف ب ك ل ال (وهانوي, لمقاطعة ها تينه); names with ال also match after لل.
    Short or ambiguous Latin names are matched exactly (tones and case): 'Lào' but not 'lao động',
    'US' but not 'us', 'Pháp' but neither 'phương pháp' nor an all-caps 'PHÁP' (the caps headline
    still matches the longer forms: 'TỈNH HUẾ', 'CỘNG HÒA PHÁP'). Names that are common words even
    so (Anh, Đức, Nhật, Vinh) are listed only in unambiguous forms (nước Đức, thành phố Vinh).
  * Thai, Lao, Khmer, CJK, kana, Hangul are matched as substrings (no spaces between words), at
    least 3 characters for the Brahmic scripts and 2 for CJK/Hangul, so 老 or 越 alone never
    match. A Thai match must not split a syllable: no leading vowel (เ แ โ ใ ไ) just before it,
    no vowel sign, tone mark or ะ/า/ำ just after it (ลาว matches, ลาวา does not). Spaces and
    hyphens between Thai/CJK letters are skipped (บ่าเหรีย หวุงเต่า = บ่าเหรียหวุงเต่า).
"""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

from .nametext import (ARABIC_CLITICS, BRAHMIC, NAME_START, SEPARATORS, end_ok, exact_form, fold_and_squeeze,
                       fold_with_offsets, name_key, script_of, start_ok)

LANGUAGES = ("vi", "en", "th", "zh", "ar", "ru", "fr", "ja", "ko", "lo", "km", "de", "es")
TYPES = frozenset({"province", "city", "region", "country", "org", "concept", "person", "block"})
_COLUMNS = ("id", "type", "admin2025") + LANGUAGES

# Province/city/country words the loader adds around names ('{}' is the name).
_AFFIXES = {
    "province": {"vi": ("tỉnh {}", "thành phố {}", "TP {}", "TP. {}", "TP.{}"),
                 "en": ("{} province", "{} city"), "th": ("จังหวัด{}", "นคร{}"),
                 "ar": ("مقاطعة {}", "محافظة {}", "مدينة {}")},
    "city": {"vi": ("thành phố {}", "TP {}", "TP. {}", "TP.{}"), "en": ("{} city",),
             "th": ("เมือง{}",), "ar": ("مدينة {}",)},
    "country": {"vi": ("nước {}",), "th": ("ประเทศ{}",)},
}
_AFFIX_WORDS = ("tỉnh", "thành phố", "tp", "nước", "จังหวัด", "นคร", "เมือง", "ประเทศ", "مقاطعة", "مدينة")

_END = ""  # trie key of the terminal record


@dataclass(frozen=True, slots=True)
class Mention:
    entity_id: str
    start: int  # offsets into the original text
    end: int
    surface: str  # text[start:end]
    lang: str  # language column of the name that matched


@dataclass(frozen=True)
class Entity:
    id: str
    type: str
    names: dict[str, tuple[str, ...]]  # per language, markers stripped, file order
    uncertain: frozenset[tuple[str, str]] = frozenset()  # (lang, name) marked '?'
    admin2025: str = ""

    def label(self, lang: str = "en") -> str:
        """Display label: the first name in `lang`, else in English, else in Vietnamese."""
        for candidate in (lang, "en", "vi"):
            if self.names.get(candidate):
                return self.names[candidate][0]
        return self.id

    @property
    def labels(self) -> dict[str, str]:
        return {lang: names[0] for lang, names in self.names.items() if names}

    @property
    def pre2025(self) -> bool:
        """One of Vietnam's 63 provincial-level units before the 2025 merger."""
        return bool(self.admin2025)

    @property
    def post2025(self) -> bool:
        """One of the 34 provincial-level units after the 2025 merger."""
        return self.admin2025 in ("kept", "enlarged")

    @property
    def merged_into(self) -> str | None:
        """The post-2025 unit this pre-2025 province belongs to (itself if it survived)."""
        if self.admin2025.startswith("merged>"):
            return self.admin2025[len("merged>"):]
        return self.id if self.post2025 else None


@dataclass(slots=True)
class _Entry:
    entity_id: str
    lang: str
    exact: frozenset[str] | None  # accepted exact surfaces, or None for folded matching


@dataclass
class Lexicon:
    entities: dict[str, Entity]
    _trie: dict = field(default_factory=dict, repr=False)
    _keys: dict[str, list[_Entry]] = field(default_factory=dict, repr=False)
    _prefixes: set[str] = field(default_factory=set, repr=False)  # first two chars of every key
    _explicit: set[tuple[str, str]] = field(default_factory=set, repr=False)  # (key, id) marked '='
    _starts: re.Pattern | None = field(default=None, repr=False, compare=False)  # see _start_pattern
    _automaton: object = field(default=None, repr=False, compare=False)  # see _key_automaton

    # -- loading ------------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path | None = None) -> Lexicon:
        """The lexicon in `path`, or the packaged analyzers/data/entities.tsv (loaded once)."""
        if path is None:
            return _default_lexicon()
        return cls.from_tsv(Path(path).read_text(encoding="utf-8"))

    @classmethod
    def from_tsv(cls, source: str) -> Lexicon:
        lexicon = cls(entities={})
        header: list[str] | None = None
        rows = []
        for lineno, line in enumerate(source.splitlines(), 1):
            if not line.strip() or line.startswith("#"):
                continue
            cells = [c.strip() for c in line.split("\t")]
            if header is None:
                header = cells
                if tuple(header) != _COLUMNS:
                    raise ValueError(f"line {lineno}: header must be {'|'.join(_COLUMNS)}")
                continue
            if len(cells) > len(header):
                raise ValueError(f"line {lineno}: {len(cells)} cells, header has {len(header)}")
            rows.append((lineno, dict(zip(header, cells + [""] * (len(header) - len(cells))))))
        for lineno, row in rows:
            lexicon._add_row(lineno, row)
        for entity in lexicon.entities.values():
            target = entity.merged_into
            if target and not (target in lexicon.entities and lexicon.entities[target].post2025):
                raise ValueError(f"{entity.id}: merged into unknown post-2025 unit {target!r}")
        return lexicon

    def _add_row(self, lineno: int, row: dict[str, str]) -> None:
        entity_id, kind = row["id"], row["type"]
        if kind not in TYPES:
            raise ValueError(f"line {lineno}: unknown type {kind!r}")
        if entity_id in self.entities:
            raise ValueError(f"line {lineno}: duplicate id {entity_id!r}")
        admin = row["admin2025"]
        if admin and (kind != "province" or not (admin in ("kept", "enlarged") or admin.startswith("merged>"))):
            raise ValueError(f"line {lineno}: bad admin2025 {admin!r}")
        names: dict[str, tuple[str, ...]] = {}
        uncertain: set[tuple[str, str]] = set()
        for lang in LANGUAGES:
            plain = []
            for raw in filter(None, (v.strip() for v in row[lang].split("|"))):
                exact, unsure = raw.startswith("="), raw.endswith("?")
                name = raw.strip("=?").strip()
                if name not in plain:
                    plain.append(name)
                if unsure:
                    uncertain.add((lang, name))
                self._index(lineno, entity_id, lang, name, exact)
                for derived in _derived_names(kind, lang, name):
                    self._index(lineno, entity_id, lang, derived, False)
            if plain:
                names[lang] = tuple(plain)
        if kind != "block" and not (names.get("vi") and names.get("en")):
            raise ValueError(f"line {lineno}: {entity_id} needs vi and en names")
        self.entities[entity_id] = Entity(entity_id, kind, names, frozenset(uncertain), admin)

    def _index(self, lineno: int, entity_id: str, lang: str, name: str, exact: bool) -> None:
        key = name_key(name)
        script = script_of(key[0]) if key else "spaced"
        letters = len(key.replace(" ", ""))
        if BRAHMIC.search(key) or script == "arabic":
            minimum = 3  # ลาว, مصر; two Thai/Lao/Khmer letters are usually part of another word
        else:
            minimum = 2  # 老挝 but never 老; US, Úc (and those are exact, below)
        if letters < minimum:
            raise ValueError(f"line {lineno}: name {name!r} is too short to match safely")
        explicit = exact
        if script in ("spaced", "cyrillic") and (letters <= 3 or name.isupper()):
            exact = True  # short Latin names and acronyms: only as written (US, not 'us')
        # Only as written: in an all-caps headline 'PHƯƠNG PHÁP' the case that told Pháp apart is gone.
        surfaces = frozenset({exact_form(name)}) if exact else None
        keys = [key]
        if script == "arabic" and key.startswith("ال") and len(key) > 4:
            keys.append("لل" + key[2:])  # ل + ال contracts: للصين
        for k in keys:
            entries = self._keys.setdefault(k, [])
            same = [e for e in entries if e.entity_id == entity_id]
            if same and any((e.exact is None) != (surfaces is None) for e in same):
                if explicit or (k, entity_id) in self._explicit:
                    raise ValueError(f"line {lineno}: {name!r} is exact (=) in one column but not in another")
                # An automatic exact form (ASEAN) yields to a listed folded one (Asean).
                entries[:] = [e for e in entries if e.entity_id != entity_id]
                surfaces = None
            elif same and surfaces is None:
                continue
            if explicit:
                self._explicit.add((k, entity_id))
            entries.append(_Entry(entity_id, lang, surfaces))
            entries.sort(key=lambda e: e.exact is None)  # exact (more specific) entries first
            node = self._trie
            for ch in k:
                node = node.setdefault(ch, {})
            node[_END] = (k, script_of(k[0]), script_of(k[-1]), entries)
            # A separator in the key matches any separator char in the text.
            self._prefixes.update([k[:2]] if k[1:2] != " " else [k[0] + s for s in SEPARATORS])
            self._starts = self._automaton = None

    # -- lookups --------------------------------------------------------------------------------
    def get(self, entity_id: str) -> Entity | None:
        return self.entities.get(entity_id)

    def ids(self, type: str | None = None) -> list[str]:
        return [e.id for e in self.entities.values() if type is None or e.type == type]

    def expansions(self, entity_id: str, exclude_lang: str | None = None,
                   include_uncertain: bool = False) -> dict[str, list[str]]:
        """Names of the entity per language, for query expansion (uncertain ones left out)."""
        entity = self.entities.get(entity_id)
        if entity is None or entity.type == "block":
            return {}
        out = {lang: [n for n in names if include_uncertain or (lang, n) not in entity.uncertain]
               for lang, names in entity.names.items() if lang != exclude_lang}
        return {lang: names for lang, names in out.items() if names}

    def resolve(self, query: str) -> str | None:
        """The entity a whole query names ("ha tinh", "海防"), or None."""
        mentions = self.find(query.strip())
        if len(mentions) == 1 and mentions[0].end - mentions[0].start == len(query.strip()):
            return mentions[0].entity_id
        return None

    def collisions(self) -> dict[str, set[str]]:
        """Match keys shared by different entities (data smell: the first listed wins)."""
        shared = {key: {e.entity_id for e in entries} for key, entries in self._keys.items()}
        return {key: ids for key, ids in shared.items() if len(ids) > 1}

    # -- matching -------------------------------------------------------------------------------
    def entities_in(self, text: str) -> set[str]:
        return {m.entity_id for m in self.find(text)}

    def find(self, text: str) -> list[Mention]:
        """Leftmost-longest, non-overlapping mentions, with offsets into `text`."""
        automaton = self._key_automaton()
        if automaton is None:
            return self._find_by_trie(text)
        folded, offsets, squeezed = fold_and_squeeze(text)
        # Every place a key occurs: folded start -> [(folded end, key record)]. Keys never start
        # or end with a separator, so their first and last characters map back one to one.
        found = defaultdict(list)
        keys, matches = automaton
        if squeezed.same:
            for k, start, end in matches(folded, overlapping=True):
                found[start].append((end, keys[k]))
        else:
            back = squeezed.folded_offset
            for k, start, end in matches(squeezed.text, overlapping=True):
                found[back(start)].append((back(end - 1) + 1, keys[k]))
        # Where a name can start (see _find_by_trie): a candidate place with a key there, or a
        # candidate Arabic word start followed by attached prefixes and a key.
        starts = set(found)
        for at in found:
            if at and "\u0600" <= folded[at - 1] <= "\u06ff":
                starts.update(at - width for width in (1, 2, 3, 4) if folded[at - width:at] in ARABIC_CLITICS)
        return _leftmost_longest(
            folded, (i for i in sorted(starts) if NAME_START.match(folded, i)),
            lambda i: self._longest_at(folded, i, found[i], text, offsets) if i in found else None)

    def _key_automaton(self):
        """(key records by number, the matcher) for Squeezed text: an Aho-Corasick automaton of
        every key (ahocorasick-rs) that finds all of a body's key occurrences in one pass, as
        (key number, start, end) in characters. Tagging 10,000 generated articles was 14% of a
        reindex's CPU with the trie walked from every candidate place in Python; pyahocorasick
        then took 180-230 µs per body, this 53. Its contiguous NFA: the DFA took 40 µs, but
        18 MB more in every process (each server worker) against 1.5 MB. None without
        ahocorasick-rs: find() then walks the trie (same mentions, slower)."""
        if self._automaton is None:
            try:
                import ahocorasick_rs
            except ImportError:
                return None
            keys = list(self._keys)
            automaton = ahocorasick_rs.AhoCorasick(keys, matchkind=ahocorasick_rs.MatchKind.Standard,
                                                   implementation=ahocorasick_rs.Implementation.ContiguousNFA)
            records = [(key, script_of(key[0]), script_of(key[-1]), self._keys[key]) for key in keys]
            self._automaton = records, automaton.find_matches_as_indexes
        return self._automaton

    def _find_by_trie(self, text: str) -> list[Mention]:
        """find(), walking the trie from every place a name can start (the reference)."""
        folded, offsets = fold_with_offsets(text)
        prefixes = self._prefixes
        return _leftmost_longest(
            folded, (m.start() for m in self._start_pattern().finditer(folded)),
            lambda i: self._match_at(folded, i, text, offsets) if folded[i:i + 2] in prefixes else None)

    def _start_pattern(self) -> re.Pattern:
        """NAME_START narrowed to characters that some key or Arabic clitic begins with.

        In Thai and Chinese text every character is a candidate, each checked in Python: tagging
        1,000 generated articles took 1.45 s of CPU, 1.18 s with this narrowing.
        """
        if self._starts is None:
            firsts = {p[0] for p in self._prefixes} | {c[0] for c in ARABIC_CLITICS}
            chars = "".join(re.escape(c) for c in sorted(firsts))
            self._starts = re.compile(rf"(?=[{chars}])(?:{NAME_START.pattern})")
        return self._starts

    def _match_at(self, f: str, i: int, text: str, offsets) -> tuple[int, Mention | None] | None:
        """Longest acceptable name starting at folded offset i: (folded end, mention or None for
        a block phrase), or None."""
        node, j, n = self._trie, i, len(f)
        terminals = []
        while j < n:
            ch = f[j]
            if ch in SEPARATORS:
                k = j
                while k < n and f[k] in SEPARATORS:
                    k += 1
                if " " in node:
                    node, j = node[" "], k
                    continue
                if j > i and script_of(f[j - 1]) in ("thai", "nospace") and k < n and script_of(f[k]) in ("thai", "nospace"):
                    j = k  # "บ่าเหรีย หวุงเต่า": spaces inside a Thai/CJK name
                    continue
                break
            node = node.get(ch)
            if node is None:
                break
            j += 1
            if _END in node:
                terminals.append((j, node[_END]))
        return self._longest_at(f, i, terminals, text, offsets)

    def _longest_at(self, f: str, i: int, terminals, text: str, offsets) -> tuple[int, Mention | None] | None:
        """Of the keys at folded offset i [(folded end, key record)], the longest acceptable:
        (folded end, mention or None for a block phrase), or None."""
        for j, (key, first, last, entries) in sorted(terminals, key=lambda t: -t[0]):
            if not (start_ok(f, i, first) and end_ok(f, j, last)):
                continue
            start = i if offsets is None else offsets[i]
            end = j if offsets is None else offsets[j - 1] + 1
            surface = text[start:end]
            for entry in entries:
                if entry.exact is None or exact_form(surface) in entry.exact:
                    if self.entities[entry.entity_id].type == "block":
                        return j, None
                    return j, Mention(entry.entity_id, start, end, surface, entry.lang)
        return None


def _leftmost_longest(folded: str, starts, longest_at) -> list[Mention]:
    """Non-overlapping mentions, left to right: at each start (ascending) past the last mention,
    longest_at(start), the longest acceptable name there as (folded end, mention or None for a
    block phrase) or None; failing that, after attached Arabic prefixes."""
    out: list[Mention] = []
    resume = 0
    for i in starts:
        if i < resume:
            continue
        hit = longest_at(i)
        if hit is None and "\u0600" <= folded[i] <= "\u06ff":
            for width in (4, 3, 2, 1):  # attached prefixes, longest first: وبال، لل، و
                if folded[i:i + width] in ARABIC_CLITICS:
                    hit = longest_at(i + width)
                    if hit is not None:
                        break
        if hit is not None:
            resume, mention = hit
            if mention is not None:
                out.append(mention)
    return out


def _derived_names(kind: str, lang: str, name: str) -> list[str]:
    """Forms with the province/city/country word (tỉnh Đồng Nai, จังหวัดด่งนาย, مقاطعة ها تينه)."""
    templates = _AFFIXES.get(kind, {}).get(lang, ())
    folded = name_key(name)
    if not templates or name.isupper() or any(folded.startswith(name_key(w)) for w in _AFFIX_WORDS):
        return []
    return [t.format(name) for t in templates]


@lru_cache(maxsize=1)
def _default_lexicon() -> Lexicon:
    source = resources.files("analyzers").joinpath("data/entities.tsv").read_text(encoding="utf-8")
    return Lexicon.from_tsv(source)


def get_lexicon() -> Lexicon:
    """The packaged lexicon, loaded on first use."""
    return _default_lexicon()
