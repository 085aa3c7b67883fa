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


def _whole_body_hits(body: str, terms) -> list[int]:
    """The probe hits of a whole-body scan: what the windowed scan must find, in order (the
    first MAX_PROBE_HITS of one-letter probes and as many of longer ones)."""
    pattern, _ = snippets._probes(frozenset(terms))
    matches = sorted({m.start(): m.end() - m.start() > 1 for m in pattern.finditer(body, overlapped=True)}.items())
    kept = [at for at, longer in matches if longer][:snippets.MAX_PROBE_HITS]
    kept += [at for at, longer in matches if not longer][:snippets.MAX_PROBE_HITS]
    return sorted(kept)


@pytest.mark.parametrize("lang, query", [("en", "harbour diplomacy"), ("th", "ท่าเรือ"), ("zh", "港口预算"),
                                         ("vi", "Hà Tĩnh"), ("ar", "التعاون")])
def test_the_windowed_probe_scan_finds_what_a_whole_body_scan_finds(lang, query):
    # Terms at every offset around the scan's window edges: a hit that starts before a window's
    # end and runs past it is found once, in order, as in one scan of the whole body.
    word = {"en": "diplomacy", "th": "ท่าเรือ", "zh": "港口", "vi": "Hà Tĩnh", "ar": "التعاون"}[lang]
    terms = set(query_terms(query, lang, query_lang=lang))
    window = snippets.SCAN_WINDOW
    for shift in range(-len(word) - 1, 2):
        body = "x" * (window + shift) + " " + word + " y" * 150 + " " + word + " " * (window - 3) + word
        hits = snippets.likely_matches(body, terms)
        assert hits == _whole_body_hits(body, terms) and len(hits) >= 3, (shift, hits)


def test_the_probe_scan_stops_at_its_hit_limit_and_where_it_is_told():
    terms = {"harbour"}
    body = "the harbour " * 400
    hits = snippets.likely_matches(body, terms)
    assert hits == _whole_body_hits(body, terms) and len(hits) == snippets.MAX_PROBE_HITS
    body = ("the harbour" + " and more" * 10).ljust(100) * 40      # a hit every 100 characters
    scan = snippets._ProbeScan(body, terms)
    scan.stop_at = 1000
    seen = [at for at, hit in scan if hit]
    assert seen == [at for at in _whole_body_hits(body, terms) if at <= seen[-1]]
    assert 1000 - 100 <= seen[-1] < 1000 + snippets.SCAN_WINDOW


@pytest.mark.parametrize("window", [snippets.SCAN_WINDOW, 50])
def test_a_snippet_is_the_same_as_from_a_scan_of_the_whole_body(monkeypatch, window):
    # A page's snippets stop scanning after their window; scanning on to the end must not
    # change one: the same first place, the same marks (all of them in the window). With small
    # scan windows, where the scan stops is what decides which hits are seen.
    monkeypatch.setattr(snippets, "SCAN_WINDOW", window)
    spread = ("the harbour" + " and more" * 10).ljust(100)           # a term every 100 characters
    cases = [("en", "harbour budget", FILLER["en"] * 60 + "The harbour budget grew. " * 3 + FILLER["en"] * 60),
             ("en", "harbour", "Nothing here yet. " * 100 + spread * 30),
             ("th", "ท่าเรือ", FILLER["th"] * 80),
             ("zh", "港口", FILLER["zh"] * 120),
             ("ar", "التعاون", "وناقش المسؤولون ميزانية الميناء. " * 40 + ("التعاون" + " بين البلدين" * 8 + ". ") * 30)]
    lazy = [snippet(query, body, lang) for lang, query, body in cases]
    # every scan to the body's end: stop_at always the body's length, whatever is set
    monkeypatch.setattr(snippets._ProbeScan, "stop_at", property(lambda scan: len(scan.body), lambda scan, value: None),
                        raising=False)
    whole = [snippet(query, body, lang) for lang, query, body in cases]
    assert lazy == whole and all(marks(html) for html in lazy), lazy
    assert len(marks(lazy[1])) >= 2 and len(marks(lazy[4])) >= 2     # more than the first place's


@pytest.mark.parametrize("query, body_word", [
    ("آسيا", "آسيا"),          # the root اسا: the word has a yeh between its last two letters
    ("النشيد", "النشيد"),      # نشد
    ("قرن", "القرون"),         # a broken plural: a waw between the root's last two letters
])
def test_an_arabic_root_is_found_past_the_start_of_a_long_body(query, body_word):
    # Deep in the body, beyond the start that is analyzed when no probe hit is confirmed: the
    # root's probe allows a long vowel or a hamza's seat between its letters.
    body = "وناقش المسؤولون ميزانية الميناء. " * 40 + f"وقال إن {body_word} مهم. " + "وناقش المسؤولون ميزانية الميناء. " * 5
    assert len(body) > 2 * snippets.ROOT_FALLBACK_CHARS
    html = snippet(query, body, "ar")
    assert body_word in marks(html), html


def test_a_root_probe_hit_in_a_word_of_another_root_is_not_marked():
    # اسا (آسيا) also hits أساس, whose stem is اسس: the analyzer does not confirm it.
    body = "وناقش المسؤولون ميزانية الميناء. " * 40 + "وهذا أساس الاتفاق. " + "وناقش المسؤولون ميزانية الميناء. " * 5
    terms = set(query_terms("آسيا", "ar", query_lang="ar"))
    assert snippets.likely_matches(body, terms)
    html = make_snippet(body, terms, field_analyzer("ar"))
    assert not marks(html), html


def test_a_stray_letter_of_the_query_does_not_use_up_the_places_checked():
    # ทำนาผ่อนผันกอนสำรวจ is cut into ทำนา|ผ่อนผัน|กอ|น|สำรวจ: the letter น is in almost every
    # Thai word, and its hits alone once used up MAX_PROBE_HITS before the words were reached.
    terms = set(query_terms("ทำนาผ่อนผันกอนสำรวจ", "th", query_lang="th"))
    assert "น" in terms and "สำรวจ" in terms
    body = FILLER["th"] * 30 + "เจ้าหน้าที่ออกสำรวจพื้นที่ " + FILLER["th"] * 5
    hits = snippets.likely_matches(body, terms)
    assert hits == _whole_body_hits(body, terms) and len(hits) > snippets.MAX_PROBE_HITS
    assert "สำรวจ" in marks(snippet("ทำนาผ่อนผันกอนสำรวจ", body, "th"))


def test_hits_in_spaced_text_are_checked_in_their_whole_words_and_unspaced_text_in_a_window():
    body = "The committee met again on Tuesday to discuss the harbour budget. " * 3
    at = body.index("harbour")
    start, end = snippets._words_around(body, at, at + 3)
    assert body[start:end] == "harbour"
    start, end = snippets._words_around(body, 0, 2)                    # the body's first word
    assert body[start:end] == "The"
    last = body.rindex("budget.")
    assert body[slice(*snippets._words_around(body, last, last + 1))] == "budget."   # up to the end
    unspaced = FILLER["zh"] * 20
    at = unspaced.index("港口", 100)
    start, end = snippets._words_around(unspaced, at, at + 2)
    assert (start, end) == (at - snippets.CONFIRM_CHARS, at + 2 + 2 * snippets.CONFIRM_CHARS)


@pytest.mark.parametrize("lang", ["en", "th", "zh"])
def test_marks_are_the_same_from_whole_words_as_from_a_window(monkeypatch, lang):
    # The words around the hits (spaced text) give the marks a window of context gives.
    body = FILLER[lang] * 30 + {"en": "The harbour budget grew. ", "th": "งบประมาณท่าเรือเพิ่มขึ้น ",
                                "zh": "港口预算增加了。"}[lang] + FILLER[lang] * 30
    query = {"en": "harbour budget", "th": "งบประมาณท่าเรือ", "zh": "港口预算"}[lang]
    words = snippet(query, body, lang)
    monkeypatch.setattr(snippets, "_words_around", lambda text, first, last: (
        max(0, first - snippets.CONFIRM_CHARS), last + 2 * snippets.CONFIRM_CHARS))
    assert snippet(query, body, lang) == words and marks(words), words


def test_no_analyzer_makes_a_token_across_a_space():
    # What _words_around relies on: in spaced text a token never spans a space, so a hit's
    # words analyzed alone give the tokens the whole body gives there.
    from pathlib import Path

    from analyzers import FIELD_LANGUAGES

    texts = [p.read_text(encoding="utf-8") for p in sorted(Path(__file__).parent.parent.glob("corpus/*.txt"))]
    texts += ["Hà Tĩnh và Hải Phòng, AM-FM 1,000.5 don't e-mail foo@bar.com http://x.y/z 3 000 km",
              "ไฮฟอง และ ฮานอย  海防 市 和 河内", "وزارة  الخارجية ال فيتنامية"]
    assert len(texts) >= 6
    for lang in FIELD_LANGUAGES:
        analyzer = field_analyzer(lang)
        for text in texts:
            spans = [text[t.startchar:t.endchar] for t in analyzer(text, mode="query", chars=True, removestops=False)]
            assert spans and not [s for s in spans if " " in s], (lang, [s for s in spans if " " in s][:3])


def _lead_of_the_whole_body(body: str, chars: int = snippets.SNIPPET_CHARS) -> str:
    """lead() as it was: the whole body's whitespace collapsed, then cut."""
    from html import escape
    text = " ".join(body.split())
    if len(text) > chars:
        text = text[:chars].rsplit(" ", 1)[0] if " " in text[:chars] else text[:chars]
        text += " …"
    return escape(text, quote=False)


def test_the_lead_is_that_of_the_whole_body():
    # lead() collapses the whitespace of a prefix only: the same text for bodies whose prefix is
    # cut inside a word or a run of spaces, mostly whitespace, unspaced, short, or just long enough.
    import random
    rng = random.Random(3)
    n = snippets.SNIPPET_CHARS
    bodies = ["", "short body", "x" * n, "x" * (n + 1), "word " * (n // 5), "word " * (n // 5) + "w",
              " \n\t" * (2 * n) + "late words <&> here " * 20, "a" + " " * (4 * n - 1) + "b" * (n + 5),
              FILLER["th"] * 20, FILLER["zh"] * 30, "ab " * (4 * n // 3) + "c" * 10]
    for _ in range(400):
        words = [rng.choice(["ha", "tinh", "港口预算", "ท่าเรือ", "a&b", "x" * rng.randint(1, 90)]) for _ in range(rng.randint(0, 400))]
        bodies.append("".join(w + rng.choice([" ", "  ", "\n", " " * rng.randint(1, 300)]) for w in words))
    for body in bodies:
        assert snippets.lead(body) == _lead_of_the_whole_body(body), body[:80]


@pytest.mark.parametrize("query_lang, query", [("th", "ท่าเรือ"), ("zh", "港口预算"), ("en", "harbour budget"),
                                               ("ar", "التعاون"), ("vi", "Hà Tĩnh")])
def test_a_body_without_the_first_letter_of_any_probe_is_not_scanned_and_its_snippet_is_the_same(
        monkeypatch, query_lang, query):
    # A query's terms in bodies of every script: where no probe's first letter occurs, the scan
    # is skipped (it could find nothing); every snippet is what the scan gives.
    bodies = {"en": FILLER["en"] * 60, "th": FILLER["th"] * 60, "zh": FILLER["zh"] * 120,
              "ar": "وناقش المسؤولون ميزانية الميناء والتعاون. " * 40,
              "vi": "Tỉnh Hà Tĩnh bàn về ngân sách cảng biển. " * 60}
    cases = []
    for lang, body in bodies.items():
        terms = frozenset(query_terms(query, lang, query_lang=query_lang))
        if terms:
            cases.append((lang, body, terms))
    skipped = {lang for lang, body, terms in cases if snippets._ProbeScan(body, terms).pattern is None}
    assert query_lang not in skipped and skipped          # its own script is scanned, another is not
    made = [make_snippet(body, terms, field_analyzer(lang)) for lang, body, terms in cases]
    monkeypatch.setattr(snippets, "_first_letters", lambda terms: re.compile(""))   # always scan
    assert not any(snippets._ProbeScan(body, terms).pattern is None for _, body, terms in cases)
    assert [make_snippet(body, terms, field_analyzer(lang)) for lang, body, terms in cases] == made
    assert any(marks(html) for html in made)


def test_a_first_letter_in_another_case_or_form_still_gets_its_body_scanned():
    # The first letters' class holds every form a probe's letter matches: an all-capitals body,
    # or one with the letter only accented, is scanned and marked.
    found = marks(snippet("harbour", "THE HARBOUR BUDGET GREW AGAIN. " * 30, "en"))
    assert found and set(found) == {"HARBOUR"}
    assert marks(snippet("Ha Tinh", "Tỉnh HÀ TĨNH BÀN VỀ NGÂN SÁCH. " * 30, "vi"))
    # and a Traditional Chinese body, whose letters are looked for once made Simplified (經 → 经)
    assert marks(snippet("经济", "委員會星期二再次開會討論港口預算。" * 20 + "兩國經濟合作。" * 5, "zh"))
