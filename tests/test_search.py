"""The search core over a real index of the seed articles."""
import re
from datetime import date
from pathlib import Path

import pytest

from indexer.build import build_index
from indexer.engine import SearchEngine
from indexer.query import parse_user_query
from indexer.results import SearchError, SearchRequest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    index = tmp_path_factory.mktemp("search-index")
    build_index(REPO / "corpus", index)
    return SearchEngine(index)


def search(engine, q, **kw):
    return engine.search(SearchRequest(q, **kw))


def test_thai_query_finds_thai_article_with_highlight(engine):
    r = search(engine, "เหงะอาน")
    assert [h.id for h in r.results] == ["004_e47e9f12b4aac0de"]
    assert "<mark>" in r.results[0].snippet
    marked = re.findall(r"<mark>(.*?)</mark>", r.results[0].snippet)
    assert "".join(marked).startswith("เหงะ")


def test_chinese_and_arabic_snippets_mark_the_query_terms(engine):
    zh = search(engine, "民间外交").results
    assert zh[0].id == "002_c38fe071c0a58947"
    assert set(re.findall(r"<mark>(.*?)</mark>", zh[0].snippet)) <= {"民间", "外交", "民间外交"}
    ar = search(engine, "الدبلوماسية الشعبية").results
    assert ar[0].id == "003_3b6ac94297977e52"
    assert re.search(r"<mark>[^<]*(الدبلوماسية|الشعبية)[^<]*</mark>", ar[0].snippet)


def test_noise_from_footers_and_related_news_is_not_searchable(engine):
    assert search(engine, "Agribank").total == 0
    assert search(engine, '"推动越中立法机构合作"').total == 0
    # the headline's own words exist only in the removed trailer
    for word in ("推动", "越中", "立法"):
        assert "002_c38fe071c0a58947" not in [h.id for h in search(engine, word).results]


def test_one_ranked_list_across_languages_with_facets(engine):
    r = search(engine, "การต่างประเทศ 民间外交")
    langs = {h.lang for h in r.results}
    assert {"th", "zh"} <= langs
    assert r.facets["lang"]["th"] >= 1 and r.facets["lang"]["zh"] == 1
    scores = [h.score for h in r.results]
    assert scores == sorted(scores, reverse=True)


def test_language_filter_keeps_facet_counts_of_other_languages(engine):
    r = search(engine, "การต่างประเทศ 民间外交", lang="zh")
    assert {h.lang for h in r.results} == {"zh"}
    assert r.facets["lang"].get("th", 0) >= 1  # chips still show the other languages


def test_date_range_and_pagination(engine):
    q = "การต่างประเทศ 民间外交"
    in_2024 = search(engine, q, date_from=date(2024, 1, 1), date_to=date(2024, 12, 31)).results
    assert [h.id for h in in_2024] == ["002_c38fe071c0a58947"]
    everything = search(engine, q, size=100)
    page2 = search(engine, q, size=1, page=2)
    assert page2.total == everything.total
    assert [h.id for h in page2.results] == [everything.results[1].id]
    past_end = search(engine, q, size=10, page=50)
    assert past_end.results == [] and past_end.total == everything.total


def test_phrases_and_exclusion(engine):
    assert search(engine, '"民间外交"').results[0].id == "002_c38fe071c0a58947"
    assert "002_c38fe071c0a58947" not in [h.id for h in search(engine, "การต่างประเทศ 民间外交 -海防").results]


@pytest.mark.parametrize("q", ['"unbalanced', "AND OR NOT", "((((", "*", "?x", ":", "title:", "\x00\x01",
                               "\u200f\u202e", '"""', "-", "ไฮ*ฟอง~2^3"])
def test_malformed_syntax_never_errors(engine, q):
    r = search(engine, q)
    assert r.total >= 0


def test_bad_requests_raise_search_error(engine):
    for kw in ({"size": 0}, {"size": 101}, {"page": 0}, {"mode": "magic"},
               {"date_from": date(2024, 2, 1), "date_to": date(2024, 1, 1)}):
        with pytest.raises(SearchError):
            search(engine, "x", **kw)
    with pytest.raises(SearchError):
        search(engine, "x" * 1001)


def test_empty_query_returns_index_facets(engine):
    r = search(engine, "   ")
    assert r.total == 0 and r.results == []
    assert sum(r.facets["lang"].values()) == 5


def test_two_word_query_requires_both_words(engine):
    # "การต่างประเทศ" is in several articles; with a word found nowhere, nothing matches.
    assert search(engine, "การต่างประเทศ zzzqqq").total == 0
    assert search(engine, "การต่างประเทศ").total >= 2


def test_article_lookup(engine):
    a = engine.article("002_c38fe071c0a58947")
    assert a["lang"] == "zh" and a["date"] == "2024-05-27" and "海防" in a["title"]
    assert engine.article("../../etc/passwd") is None
    assert engine.article("") is None


def test_parse_user_query():
    p = parse_user_query('hai phong "people diplomacy" -laos "open')
    assert p.phrases == ["people diplomacy"] and p.excluded == ["laos"]
    assert p.text == "hai phong open"


def test_a_name_in_another_script_is_marked_in_the_snippet(engine):
    """A Thai query for Haiphong finds the Chinese article through the lexicon's names, and
    its snippet marks the Chinese name, not just the article's opening."""
    r = search(engine, "ไฮฟอง")
    zh = [h for h in r.results if h.lang == "zh"]
    assert zh and "<mark>海防</mark>" in zh[0].snippet
