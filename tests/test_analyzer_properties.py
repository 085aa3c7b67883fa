"""Property tests: every field analyzer survives any text and reports honest offsets.

Whoosh stores positions and character offsets from these analyzers; highlighting
slices the original text with them and phrase queries rely on the positions.
So for arbitrary input (biased towards the scripts of the corpus and the
characters that trip segmenters: combining marks, zero-width characters,
repeated Thai marks, full-width forms, long unbroken runs) each analyzer must
terminate without raising, and every token must point at the text it came from.
"""
import os
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analyzers import analyze, analyzer_for
from analyzers.normalize import fold_width_same_length

# (id, analyzer) for every field the index has.
ANALYZERS = [(lang, analyzer_for(lang)) for lang in ("th", "zh", "ar", "vi", "en", "other")]
ANALYZERS.append(("vi-exact", analyzer_for("vi", exact=True)))
ANALYZER_IDS = [name for name, _ in ANALYZERS]
MODES = ("index", "query")

# ANALYZER_PROPERTY_EXAMPLES=2000 for a longer bug hunt; the default keeps this file well under a minute.
EXAMPLES = int(os.environ.get("ANALYZER_PROPERTY_EXAMPLES", "300"))
PROPERTY_SETTINGS = settings(max_examples=EXAMPLES, deadline=None,
                             suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _chars(*ranges: tuple[int, int]) -> list[str]:
    return [chr(cp) for lo, hi in ranges for cp in range(lo, hi + 1)
            if unicodedata.category(chr(cp)) not in ("Cn", "Cs")]


ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"]
SPACES_AND_PUNCT = list(" \t\n.,;:!?-'\"()[]“”’«»、。，：；！？（）《》·…") + ["\u3000", "\u00a0"]
COMBINING = _chars((0x0300, 0x036F), (0x1AB0, 0x1ABE), (0x20D0, 0x20F0))
THAI = _chars((0x0E01, 0x0E5B))
# Frequent Thai marks and the repetition sign again, so runs of them (ดีีี, ๆๆ) actually occur.
THAI_MARKS = list("\u0E31\u0E34\u0E35\u0E36\u0E37\u0E38\u0E39\u0E47\u0E48\u0E49\u0E4A\u0E4B\u0E4C\u0E46")
HAN = _chars((0x4E00, 0x4FFF), (0x6D4B, 0x6D5B)) + list("臺灣測試體國際關係發展經濟與們這個學會議") + _chars((0x3400, 0x3410), (0x20000, 0x20010), (0xF900, 0xF910))
FULL_WIDTH = _chars((0xFF01, 0xFF5E))
KANA = _chars((0x3041, 0x30FF), (0xFF66, 0xFF9F))
HANGUL = _chars((0xAC00, 0xAC40), (0x1100, 0x1112), (0x3131, 0x3140))
ARABIC = _chars((0x0600, 0x06FF), (0xFB50, 0xFB60), (0xFE70, 0xFE80)) + ["\u0640"] * 5
VIETNAMESE = list("aăâbcdđeêghiklmnoôơpqrstuưvxyAĂÂĐÊÔƠƯ"
                  "áàảãạắằẳẵặấầẩẫậéèẻẽẹếềểễệíìỉĩịóòỏõọốồổỗộớờởỡợúùủũụứừửữựýỳỷỹỵ")
LATIN_WORDS = list("abcdefghijklmnopqrstuvwxyzABCXYZ0123456789ßİıçğşöüéñ")
NOSPACE = _chars((0x0E81, 0x0EDF), (0x1780, 0x17DD), (0x1000, 0x104F))
INDIC_CYRILLIC_GREEK = _chars((0x0900, 0x097F), (0x0400, 0x045F), (0x0370, 0x03FF))
DIGITS = list("0123456789٠١٢٣٤٥٦٧٨٩๐๑๒๓๔๕๖๗๘๙０１２３")

any_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80)


def _text_from(*alphabets: list[str], max_size: int = 80) -> st.SearchStrategy[str]:
    alphabet = sorted({ch for a in alphabets for ch in a})
    return st.text(alphabet=st.sampled_from(alphabet), max_size=max_size)


thai_text = _text_from(THAI, THAI_MARKS, THAI_MARKS, ZERO_WIDTH, [" "], DIGITS)
cjk_text = _text_from(HAN, FULL_WIDTH, KANA, HANGUL, SPACES_AND_PUNCT, ZERO_WIDTH)
arabic_text = _text_from(ARABIC, [" ", "،", "؟"], DIGITS, ZERO_WIDTH)
vietnamese_text = st.builds(
    lambda s, form: unicodedata.normalize(form, s),
    _text_from(VIETNAMESE, [" ", ",", "."], COMBINING[:40]), st.sampled_from(["NFC", "NFD"]))
marks_and_invisibles_text = _text_from(
    LATIN_WORDS, COMBINING, ZERO_WIDTH, THAI_MARKS, INDIC_CYRILLIC_GREEK, [" "])
mixed_script_text = st.lists(
    st.one_of(thai_text, cjk_text, arabic_text, vietnamese_text, _text_from(LATIN_WORDS),
              _text_from(NOSPACE), _text_from(INDIC_CYRILLIC_GREEK), _text_from(SPACES_AND_PUNCT)),
    max_size=6).map("".join)
# Long unbroken runs: segmenters' worst cases (no spaces, no dictionary words).
long_run_text = st.one_of(
    _text_from(THAI, max_size=3000).filter(lambda s: len(s) > 200),
    _text_from(HAN, max_size=3000).filter(lambda s: len(s) > 200),
    st.integers(200, 3000).map(lambda n: "ก" * n),
    st.integers(200, 3000).map(lambda n: "\u0E35" * n),
    st.integers(200, 3000).map(lambda n: "a\u0301" * n),
    st.integers(200, 3000).map(lambda n: "的" * n),
    st.integers(200, 3000).map(lambda n: "ສະ" * n),
)


def assert_honest_tokens(analyzer, text: str, mode: str) -> None:
    """The invariants Whoosh's index, highlighter and phrase queries rely on."""
    tokens = analyze(analyzer, text, mode=mode)
    last_pos = -1
    for token in tokens:
        assert token.text, f"empty token from {text!r}"
        assert 0 <= token.startchar < token.endchar <= len(text), (token.text, token.startchar, token.endchar)
        assert token.pos >= last_pos, f"position went back at {token.text!r}"
        last_pos = token.pos
        piece = text[token.startchar:token.endchar]
        assert piece.strip(), f"whitespace-only slice for {token.text!r}"
        # The slice, filtered as a single term by the same analyzer, must give the token back:
        # this catches offsets that point at the wrong characters, or at too few or too many.
        as_term = [t.text for t in analyzer(piece, tokenize=False, mode=mode)]
        assert as_term == [token.text], (piece, token.text, as_term)


def _check_both_modes(analyzer, text):
    for mode in MODES:
        assert_honest_tokens(analyzer, text, mode)
    # Queries and documents meet only if both modes produce the same terms.
    assert ([t.text for t in analyze(analyzer, text, "index")]
            == [t.text for t in analyze(analyzer, text, "query")])


parametrize_analyzers = pytest.mark.parametrize("analyzer", [a for _, a in ANALYZERS], ids=ANALYZER_IDS)


@parametrize_analyzers
@PROPERTY_SETTINGS
@given(text=any_text)
def test_any_unicode_text(analyzer, text):
    _check_both_modes(analyzer, text)


@parametrize_analyzers
@PROPERTY_SETTINGS
@given(text=st.one_of(thai_text, cjk_text, arabic_text, vietnamese_text))
def test_corpus_scripts(analyzer, text):
    _check_both_modes(analyzer, text)


@parametrize_analyzers
@PROPERTY_SETTINGS
@given(text=st.one_of(marks_and_invisibles_text, mixed_script_text))
def test_marks_invisibles_and_mixed_scripts(analyzer, text):
    _check_both_modes(analyzer, text)


@parametrize_analyzers
@settings(PROPERTY_SETTINGS, max_examples=max(EXAMPLES // 6, 5))
@given(text=long_run_text)
def test_very_long_runs(analyzer, text):
    assert_honest_tokens(analyzer, text, "index")


@PROPERTY_SETTINGS
@given(text=vietnamese_text)
def test_vietnamese_nfd_and_nfc_meet(text):
    """Decomposed input (common from Mac/Windows keyboards) must index like composed input."""
    for analyzer in (analyzer_for("vi"), analyzer_for("vi", exact=True)):
        nfc = [t.text for t in analyze(analyzer, unicodedata.normalize("NFC", text))]
        nfd = [t.text for t in analyze(analyzer, unicodedata.normalize("NFD", text))]
        assert nfc == nfd


@PROPERTY_SETTINGS
@given(text=_text_from(VIETNAMESE, [" "]))
def test_vietnamese_folded_terms_are_stable(text):
    """Folding is idempotent: typing the folded form finds the accented document."""
    analyzer = analyzer_for("vi")
    folded = [t.text for t in analyze(analyzer, text)]
    assert [t.text for t in analyze(analyzer, " ".join(folded))] == folded
    assert all(ch.isascii() for term in folded for ch in term)


def _terms(analyzer, text: str) -> list[str]:
    return [t.text for t in analyze(analyzer, text)]


THAI_MARK_SET = set(THAI_MARKS) | {"\u0E4D", "\u0E32", " "}  # chars the noise rules look around


@PROPERTY_SETTINGS
@given(text=_text_from(THAI, [" "]), data=st.data())
def test_thai_invisible_characters_change_nothing(text, data):
    """A zero-width character or BOM between two Thai letters leaves the terms unchanged."""
    gaps = [i for i in range(1, len(text))
            if text[i - 1] not in THAI_MARK_SET and text[i] not in THAI_MARK_SET]
    if not gaps:
        return
    i = data.draw(st.sampled_from(gaps), label="gap")
    invisible = data.draw(st.sampled_from(ZERO_WIDTH), label="invisible")
    analyzer = analyzer_for("th")
    assert _terms(analyzer, text[:i] + invisible + text[i:]) == _terms(analyzer, text)


@PROPERTY_SETTINGS
@given(text=cjk_text)
def test_full_width_text_indexes_like_half_width(text):
    analyzer = analyzer_for("zh")
    assert _terms(analyzer, text) == _terms(analyzer, fold_width_same_length(text))


def _script_runs_by_character(text: str) -> list[tuple[str, int, int]]:
    """script_runs' definition, one character at a time (what it computes in C and a regex)."""
    from analyzers.scripts import char_script

    runs: list[list] = []
    for i, ch in enumerate(text):
        script = char_script(ch)
        if script is None:
            continue
        if runs and runs[-1][0] == script:
            runs[-1][2] = i + 1
        else:
            if runs:
                runs[-1][2] = i  # neutral chars between runs go to the earlier run
            runs.append([script, i if runs else 0, i + 1])
    if runs:
        runs[-1][2] = len(text)
    return [tuple(r) for r in runs]


@PROPERTY_SETTINGS
@given(st.one_of(any_text, mixed_script_text))
def test_script_runs_are_the_character_by_character_definition(text):
    from analyzers.scripts import script_runs

    assert script_runs(text) == _script_runs_by_character(text)
