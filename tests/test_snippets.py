"""Snippets: the real analyzers mark the query's terms wherever they are in a long body."""
import re
import unicodedata

import pytest

from indexer import snippets
from indexer.query import field_analyzer, query_terms
from indexer.snippets import make_snippet

FILLER = {
    "en": "The committee met again on Tuesday to discuss the harbour budget. ",
    "th": "คณะกรรมการประชุมอีกครั้งในวันอังคารเพื่อหารืองบประมาณท่าเรือ ",
    "zh": "委员会星期二再次开会讨论港口预算。",
}


def marks(html: str) -> list[str]:
    return re.findall(r"<mark>(.*?)</mark>", html)


def snippet(query: str, body: str, lang: str) -> str:
    return make_snippet(body, set(query_terms(query, lang, query_lang=lang)), field_analyzer(lang))


@pytest.mark.parametrize("lang, query, word", [
    ("en", "diplomacy", "diplomacy"),
    ("th", "กรุงเทพ", "กรุงเทพ"),
    ("zh", "外交", "外交"),
])
def test_a_term_deep_in_a_long_body_is_marked(lang, query, word):
    body = FILLER[lang] * 80 + f" {word} " + FILLER[lang] * 5
    html = snippet(query, body, lang)
    assert marks(html), html
    assert len(html) < 3 * snippets.SNIPPET_CHARS


def test_a_probe_hit_inside_another_word_is_skipped_for_the_real_one():
    # "art" occurs inside "party" and "start" long before the word itself.
    body = ("The party will start the harbour talks. " * 30) + "A gallery of art opened. " + FILLER["en"] * 5
    html = snippet("art", body, "en")
    assert marks(html) == ["art"], html


def test_traditional_chinese_body_is_marked_for_a_simplified_query():
    body = FILLER["zh"] * 40 + "兩國加強國際合作。" + FILLER["zh"] * 5
    html = snippet("国际合作", body, "zh")
    assert set(marks(html)) <= {"國際", "合作"} and marks(html), html


def test_an_arabic_word_whose_stem_is_not_a_substring_is_still_marked():
    body = "وقالت الوزارة إن الحالة مستقرة في المحافظة. " + "وناقش المسؤولون ميزانية الميناء. " * 40
    html = snippet("حالة", body, "ar")
    assert "الحالة" in marks(html), html


def test_a_body_without_the_terms_gets_its_unmarked_lead():
    body = FILLER["th"] * 60
    html = snippet("ฮานอย", body, "th")
    assert not marks(html)
    assert html.startswith(FILLER["th"].strip()[:20])


def test_tashkeel_before_the_term_does_not_shift_the_mark():
    # Every ٌ and ّ is dropped by the folding (also inside the word itself): the mark must still
    # land on the word.
    voweled = "من محاطٌ للمتحف تؤمّن " * 40
    body = voweled + "وقالت الوزارة إن الصِّين مستقرة. " + voweled
    html = snippet("الصين", body, "ar")
    assert marks(html) == ["الصِّين"], html


@pytest.mark.parametrize("form", ["HẢI PHÒNG", "Hải Phòng", unicodedata.normalize("NFD", "Hải Phòng")])
def test_vietnamese_names_are_marked_in_any_case_and_normalization(form):
    body = "Đoàn đại biểu đã thăm nhiều địa phương trong tuần. " * 20 + f"Lãnh đạo {form} tiếp đoàn. " + \
        "Đoàn đại biểu đã thăm nhiều địa phương trong tuần. " * 5
    html = snippet("hai phong", body, "vi")
    assert [unicodedata.normalize("NFC", m) for m in marks(html)] == [
        unicodedata.normalize("NFC", w) for w in form.split()], html


class CountingAnalyzer:
    """The real analyzer, counting how often a snippet asks it for tokens."""

    def __init__(self, analyzer):
        self.analyzer, self.calls = analyzer, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.analyzer(*args, **kwargs)


def test_arabic_roots_are_looked_for_only_where_there_are_arabic_letters():
    # An Arabic query's terms reach a Chinese article's snippet (a cross-language or dense hit):
    # with no Arabic letter in the body, there is no root to find, and nothing to analyze.
    terms = set(query_terms("حالة", "ar", query_lang="ar"))
    chinese = CountingAnalyzer(field_analyzer("zh"))
    html = make_snippet(FILLER["zh"] * 40, terms, chinese)
    assert not marks(html) and html.startswith(FILLER["zh"][:10])
    assert chinese.calls == 0
    # In an Arabic body the start is still analyzed for the root, and the word is marked.
    arabic = CountingAnalyzer(field_analyzer("ar"))
    body = "وقالت الوزارة إن الحالة مستقرة في المحافظة. " + "وناقش المسؤولون ميزانية الميناء. " * 40
    assert "الحالة" in marks(make_snippet(body, terms, arabic))
    assert arabic.calls >= 1
