"""Example tests for the per-language analyzers: what each language's reader expects to match."""
import pickle
import unicodedata
from pathlib import Path

import pytest
from whoosh import fields
from whoosh.filedb.filestore import RamStorage
from whoosh.qparser import QueryParser

from analyzers import analyze, analyzer_for
from analyzers.scripts import ARABIC, HAN, THAI, WORD, dominant_script, script_runs

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
THAI_SEED = CORPUS / "000_c67f822c665e0ab4.txt"
CHINESE_SEED = CORPUS / "002_c38fe071c0a58947.txt"
ARABIC_SEED = CORPUS / "003_3b6ac94297977e52.txt"


def terms(lang: str, text: str, exact: bool = False, mode: str = "index") -> list[str]:
    return [t.text for t in analyze(analyzer_for(lang, exact=exact), text, mode=mode)]


def as_single_term(lang: str, text: str) -> list[str]:
    """How Whoosh filters a term it does not tokenize (range query bounds)."""
    return [t.text for t in analyzer_for(lang)(text, tokenize=False, mode="query")]


def assert_offsets_slice_source(analyzer, text: str) -> list:
    """Every token's offsets slice a piece of text that, filtered alone, is the token again."""
    tokens = analyze(analyzer, text)
    assert tokens
    for token in tokens:
        piece = text[token.startchar:token.endchar]
        assert [t.text for t in analyzer(piece, tokenize=False)] == [token.text], (piece, token.text)
    return tokens


# --- Thai ----------------------------------------------------------------------------------

def test_thai_trailing_vowel_stays_on_the_word():
    # Meilisearch indexed วิทยุ (radio) as วิทย: the final sara u was cut off.
    assert terms("th", "วิทยุ") == ["วิทยุ"]
    assert "วิทยุ" in terms("th", "ฟังวิทยุทุกวัน")


def test_thai_repeated_vowels_and_tone_marks_collapse():
    assert terms("th", "ดีีี") == ["ดี"]
    assert terms("th", "ดีีี") == terms("th", "ดี")
    assert terms("th", "น้้้ำ") == terms("th", "น้ำ")


def test_thai_mai_yamok_is_dropped_attached_or_spaced():
    assert terms("th", "ต่างๆ") == terms("th", "ต่าง ๆ") == ["ต่าง"]
    assert "ๆ" not in "".join(terms("th", "คนไทยรักกันมากๆ นะ"))


def test_thai_zero_width_space_inside_a_word_is_invisible():
    tokens = analyze(analyzer_for("th"), "จังหวัด\u200bด่งนาย")
    assert [t.text for t in tokens] == terms("th", "จังหวัดด่งนาย")
    # The offsets still cover the original characters, zero-width space included.
    assert tokens[0].startchar == 0 and tokens[-1].endchar == len("จังหวัด\u200bด่งนาย")


def test_byte_order_mark_is_not_arabic():
    # U+FEFF sat in the Arabic presentation-forms range and split Thai words into two runs.
    assert terms("th", "\ufeffจังหวัด") == terms("th", "จัง\ufeffหวัด") == terms("th", "จังหวัด")
    assert [s for s, _, _ in script_runs("ไทย\ufeffไทย")] == [THAI]


def test_thai_decomposed_sara_am_meets_composed():
    # Nikhahit + sara aa (from PDFs and legacy fonts) must segment like sara am.
    assert terms("th", "ทํางาน") == terms("th", "ทำงาน") == ["ทำงาน"]
    assert terms("th", "น้ําใจ") == terms("th", "น้ำใจ")


def test_thai_digits_fold_to_ascii():
    assert terms("th", "ในปี ๒๕๖๖ มี ๑๒ จังหวัด") == ["ใน", "ปี", "2566", "มี", "12", "จังหวัด"]
    assert terms("th", "พ.ศ. ๒๕๖๖") == terms("th", "พ.ศ. 2566")


def test_thai_digits_as_a_single_term_fold_like_indexed_digits():
    # Range query bounds are filtered without tokenizing; a bare Thai number must still fold.
    assert as_single_term("th", "๒๕๖๖") == ["2566"]
    assert dominant_script("๒๕๖๖") == THAI
    assert dominant_script("2024年") == HAN  # letters outrank digits


def test_thai_text_with_latin_name_keeps_the_name_whole():
    text = "ชาวเนเนตส์ Nenetskiy ในรัสเซีย"
    tokens = analyze(analyzer_for("th"), text)
    latin = [t for t in tokens if t.text.isascii()]
    assert [t.text for t in latin] == ["nenetskiy"]
    assert text[latin[0].startchar:latin[0].endchar] == "Nenetskiy"


def test_thai_seed_article_offsets_slice_the_token_text():
    text = THAI_SEED.read_text(encoding="utf-8")
    tokens = assert_offsets_slice_source(analyzer_for("th"), text)
    thai_tokens = [t for t in tokens if dominant_script(t.text) == THAI]
    assert len(thai_tokens) > 500
    for token in thai_tokens:
        assert text[token.startchar:token.endchar] == token.text
    assert "nenetskiy" in [t.text for t in tokens]


def test_thai_seed_article_words():
    words = set(terms("th", THAI_SEED.read_text(encoding="utf-8")))
    assert {"จังหวัด", "ประชาชน", "การต่างประเทศ"} <= words
    assert not any("ๆ" in w for w in words)


# --- Chinese -------------------------------------------------------------------------------

def test_chinese_search_mode_finds_sub_words():
    assert "工具" in terms("zh", "测试工具箱")
    assert "测试" in terms("zh", "测试工具箱")


def test_chinese_traditional_folds_to_simplified():
    assert terms("zh", "臺灣") == ["台湾"]
    assert terms("zh", "測試") == terms("zh", "测试") == ["测试"]
    assert terms("zh", "這個國際關係發展", mode="query") == terms("zh", "这个国际关系发展")


def test_chinese_full_width_forms_fold_to_half_width():
    assert terms("zh", "ＡＢＣ１２３") == ["abc123"]
    assert terms("zh", "中国ＡＩ发展") == terms("zh", "中国AI发展")


def test_chinese_keeps_latin_words_and_numbers_whole():
    text = "King’s Day是荷兰的节日，AI在2024年发展"
    tokens = analyze(analyzer_for("zh"), text)
    words = [t.text for t in tokens]
    assert {"king", "day", "ai", "2024"} <= set(words)
    assert "k" not in words and "20" not in words  # jieba never sees the Latin run
    day = next(t for t in tokens if t.text == "day")
    assert text[day.startchar:day.endchar] == "Day"


def test_chinese_seed_article_offsets_slice_the_token_text():
    text = CHINESE_SEED.read_text(encoding="utf-8")
    tokens = assert_offsets_slice_source(analyzer_for("zh"), text)
    han_tokens = [t for t in tokens if dominant_script(t.text) == HAN]
    assert len(han_tokens) > 500
    for token in han_tokens:  # the seed is already Simplified, half-width
        assert text[token.startchar:token.endchar] == token.text
    words = {t.text for t in tokens}
    assert {"海防", "友好", "民间", "外交"} <= words


# --- Arabic --------------------------------------------------------------------------------

def test_arabic_orthographic_variants_fold():
    from analyzers.normalize import normalize_arabic

    assert normalize_arabic("أحمد إسلام آخر") == "احمد اسلام اخر"
    assert normalize_arabic("مستشفى") == "مستشفي"
    assert normalize_arabic("مدرسة") == "مدرسه"
    assert normalize_arabic("مُحَمَّد") == "محمد"
    assert normalize_arabic("مـحـمـد") == "محمد"
    assert terms("ar", "مُحَمَّد") == terms("ar", "محمد") == terms("ar", "مـحـمـد")
    assert terms("ar", "أحمد") == terms("ar", "احمد")
    assert terms("ar", "إلكتروني") == terms("ar", "الكتروني")


def test_arabic_document_and_query_forms_meet():
    assert terms("ar", "المدرسة") == terms("ar", "مدرسه", mode="query")
    assert terms("ar", "الدبلوماسية الشعبية") == terms("ar", "الدبلوماسيه الشعبيه", mode="query")
    assert terms("ar", "ووكالات") == terms("ar", "وكالات")


def test_arabic_article_is_stripped_from_five_letter_words():
    # Whoosh's ISRI port kept ال on five-letter words (الصين -> الص, but بالصين -> صين).
    china = terms("ar", "صين")
    assert terms("ar", "الصين") == terms("ar", "بالصين") == terms("ar", "والصين") == china
    assert terms("ar", "البيت") == terms("ar", "بيت")


def test_arabic_stopwords_are_removed():
    assert terms("ar", "في من على إلى عن هذا") == []
    assert len(terms("ar", "زار الوفد في هانوي")) == 3


def test_arabic_seed_article_offsets_slice_the_source():
    text = ARABIC_SEED.read_text(encoding="utf-8")
    tokens = assert_offsets_slice_source(analyzer_for("ar"), text)
    assert len(tokens) > 500
    assert terms("ar", "الدبلوماسية")[0] in {t.text for t in tokens}


# --- Vietnamese ----------------------------------------------------------------------------

def test_vietnamese_folded_matches_with_and_without_accents():
    assert terms("vi", "hai phong") == terms("vi", "Hải Phòng") == ["hai", "phong"]
    assert terms("vi", "Đồng Nai") == ["dong", "nai"]
    assert terms("vi", "Thành phố Hồ Chí Minh") == ["thanh", "pho", "ho", "chi", "minh"]
    assert terms("vi", "Nước Mỹ") == ["nuoc", "my"]


def test_vietnamese_decomposed_input_matches_composed():
    text = "Hải Phòng, Đồng Nai, Nghệ An, Quảng Ninh"
    nfd = unicodedata.normalize("NFD", text)
    assert nfd != text
    assert terms("vi", nfd) == terms("vi", text)
    assert terms("vi", nfd, exact=True) == terms("vi", text, exact=True)
    tokens = analyze(analyzer_for("vi"), nfd)
    assert tokens[0].endchar == len(unicodedata.normalize("NFD", "Hải"))


def test_vietnamese_exact_analyzer_keeps_diacritics():
    assert terms("vi", "Hải Phòng", exact=True) == ["hải", "phòng"]
    assert terms("vi", "Đồng Nai", exact=True) == ["đồng", "nai"]
    assert terms("vi", "hai phong", exact=True) != terms("vi", "Hải Phòng", exact=True)


# --- English -------------------------------------------------------------------------------

def test_english_lowercase_stem_and_stopwords():
    assert terms("en", "The Quick Brown Foxes are running") == ["quick", "brown", "fox", "run"]
    assert terms("en", "a of the and") == []
    assert terms("en", "RUNNING") == terms("en", "runs") == ["run"]


def test_english_stopword_positions_leave_no_decrease():
    tokens = analyze(analyzer_for("en"), "the minister of the interior")
    assert [t.text for t in tokens] == ["minist", "interior"]
    assert tokens[0].pos < tokens[1].pos


# --- Other languages ----------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("Москва Санкт-Петербург", ["москва", "санкт", "петербург"]),
    ("Αθήνα ΑΘΗΝΑ", ["αθηνα", "αθηνα"]),
    ("Straße STRASSE", ["strasse", "strasse"]),
    ("El niño comió piñas", ["el", "nino", "comio", "pinas"]),
    ("İstanbul ISTANBUL ılık", ["istanbul", "istanbul", "ilik"]),
    ("ＡＢＣ Ｔｅｓｔ", ["abc", "test"]),
])
def test_other_languages_case_accent_and_width_folding(text, expected):
    assert terms("other", text) == expected


def test_hindi_vowel_signs_stay_inside_words():
    assert terms("other", "हिन्दी भाषा") == ["हिन्दी", "भाषा"]


def test_japanese_kana_bigrams_and_kanji_words():
    assert terms("other", "カタカナ") == ["カタ", "タカ", "カナ"]
    # Half-width katakana folds to full width.
    assert terms("other", "ｶﾞｲﾄﾞ") == terms("other", "ガイド") == ["ガイ", "イド"]
    words = terms("other", "東京タワー")
    assert words[0] == "东京" and "タワ" in words


def test_korean_syllable_bigrams():
    assert terms("other", "대한민국") == ["대한", "한민", "민국"]
    assert terms("other", "한") == ["한"]


@pytest.mark.parametrize(("text", "expected"), [
    ("ພາສາລາວ", ["ພາ", "າສ", "ສາ", "າລ", "ລາ", "າວ"]),   # Lao
    ("ភាសាខ្មែរ", ["ភាសា", "សាខ្មែ", "ខ្មែរ"]),            # Khmer: clusters stay whole
    ("မြန်မာ", ["မြန်", "န်မ", "မာ"]),                     # Myanmar
])
def test_unsegmented_scripts_give_grapheme_bigrams(text, expected):
    assert terms("other", text) == expected


# --- Mixed scripts ---------------------------------------------------------------------------

def test_latin_and_han_runs_split():
    text = "Hải Phòng 友好"
    assert [script for script, _, _ in script_runs(text)] == [WORD, HAN]
    tokens = analyze(analyzer_for("vi"), text)
    assert [t.text for t in tokens] == ["hai", "phong", "友好"]
    assert [t.pos for t in tokens] == [0, 1, 2]
    assert text[tokens[2].startchar:tokens[2].endchar] == "友好"


def test_script_runs_cover_the_text_in_order():
    text = "(VOVWORLD) - จังหวัด Dong Nai ส่งเสริม 友好 السلام"
    runs = script_runs(text)
    assert [s for s, _, _ in runs] == [WORD, THAI, WORD, THAI, HAN, ARABIC]
    assert runs[0][1] == 0 and runs[-1][2] == len(text)
    assert all(a[2] == b[1] for a, b in zip(runs, runs[1:]))


def test_thai_sentence_with_english_name_positions_increase():
    text = "นายกรัฐมนตรี Pham Minh Chinh เดินทางเยือนประเทศไทย"
    for lang in ("th", "en", "vi", "other"):
        tokens = analyze(analyzer_for(lang), text)
        assert [t.pos for t in tokens] == list(range(len(tokens)))
        assert {"pham", "minh", "chinh"} <= {t.text for t in tokens}
        assert "ประเทศไทย" in {t.text for t in tokens} or "ไทย" in {t.text for t in tokens}


def test_positions_continue_across_many_runs():
    text = "ไทย English 中文 العربية 한국어 ไทย"
    tokens = analyze(analyzer_for("other"), text)
    positions = [t.pos for t in tokens]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    assert [t.startchar for t in tokens] == sorted(t.startchar for t in tokens)


# --- Pickling and Whoosh ----------------------------------------------------------------------

ALL_ANALYZERS = [("th", False), ("zh", False), ("ar", False), ("vi", False), ("en", False),
                 ("other", False), ("vi", True)]
SAMPLE = "วิทยุ ทํางาน 臺灣測試工具箱 المدرسة الصين Hải Phòng running ｶﾀｶﾅ 대한민국 ພາສາ ๒๕๖๖"


@pytest.mark.parametrize(("lang", "exact"), ALL_ANALYZERS)
def test_analyzer_pickles_to_an_equal_analyzer(lang, exact):
    analyzer = analyzer_for(lang, exact=exact)
    restored = pickle.loads(pickle.dumps(analyzer))
    assert restored == analyzer
    assert restored == analyzer_for(lang, exact=exact)
    assert ([(t.text, t.pos, t.startchar, t.endchar) for t in analyze(restored, SAMPLE)]
            == [(t.text, t.pos, t.startchar, t.endchar) for t in analyze(analyzer, SAMPLE)])


def test_analyzers_of_different_languages_differ():
    assert analyzer_for("en") != analyzer_for("vi")
    assert analyzer_for("vi") != analyzer_for("vi", exact=True)


def _search(lang: str, document: str, query: str) -> int:
    """Index one document in a Whoosh index (schema pickled and reloaded), count hits for query."""
    storage = RamStorage()
    schema = fields.Schema(body=fields.TEXT(analyzer=analyzer_for(lang)))
    storage.create_index(schema)
    writer = storage.open_index().writer()
    writer.add_document(body=document)
    writer.commit()
    index = storage.open_index()  # the schema, analyzers included, comes back unpickled
    with index.searcher() as searcher:
        return len(searcher.search(QueryParser("body", index.schema).parse(query)))


@pytest.mark.parametrize(("lang", "document", "query", "hits"), [
    ("zh", "台湾的测试工具箱", "臺灣", 1),
    ("zh", "台湾的测试工具箱", "工具", 1),
    ("zh", "台湾的测试工具箱", "香港", 0),
    ("th", "เขาฟังวิทยุทุกวัน", "วิทยุ", 1),
    ("th", "ผมทํางานที่นี่", "ทำงาน", 1),
    ("ar", "زار الوفد الصين", "بالصين", 1),
    ("vi", "Thành phố Hải Phòng", "hai phong", 1),
    ("vi", "Thành phố Hải Phòng", "\"hai phong\"", 1),
    ("en", "The ministers were running", "run", 1),
])
def test_whoosh_index_round_trip(lang, document, query, hits):
    assert _search(lang, document, query) == hits


# --- short texts (queries) ---------------------------------------------------------------------
@pytest.mark.parametrize("tokenizer_class,texts", [
    ("ThaiTokenizer", ["ความร่วมมือไทยเวียดนาม", "ท่าเรือไฮฟอง ทํางาน ดีีี", "ไทย"]),
    ("ChineseTokenizer", ["越南泰国合作协议", "海防港 集裝箱 ＡＢＣ", "老挝"]),
    ("BigramTokenizer", ["ハイフォン港", "하이퐁 항구"]),
])
def test_short_texts_spans_are_remembered_and_the_same_as_segmenting_again(tokenizer_class, texts):
    from analyzers import bigrams, chinese, thai, tokens

    cls = {"ThaiTokenizer": thai.ThaiTokenizer, "ChineseTokenizer": chinese.ChineseTokenizer,
           "BigramTokenizer": bigrams.BigramTokenizer}[tokenizer_class]
    for text in texts:
        tokens._short_text_spans.cache_clear()
        first = [(t.text, t.startchar, t.endchar) for t in cls()(text, chars=True)]
        again = [(t.text, t.startchar, t.endchar) for t in cls()(text, chars=True)]
        assert first == again == [(text[s:e], s, e) for s, e in cls().spans(text)]
        assert tokens._short_text_spans.cache_info().hits == 1


def test_a_query_is_segmented_once_for_all_the_fields(monkeypatch):
    """Every field's analyzer routes the query's Thai words to the same segmenter: once is enough."""
    from analyzers import thai, tokens
    from indexer.query import ParsedQuery, build_query

    calls = []
    segment = thai.segment_thai
    monkeypatch.setattr(thai, "segment_thai", lambda text: calls.append(text) or segment(text))
    tokens._short_text_spans.cache_clear()
    assert build_query(ParsedQuery("ความร่วมมือ ท่าเรือไฮฟอง"), query_lang="th") is not None
    assert calls and len(calls) == len(set(calls))
    long_text = "ความร่วมมือ " * (tokens.SHORT_TEXT_CHARS // 11 + 1)     # a body: not remembered
    calls.clear()
    for _ in range(2):
        assert [t.text for t in analyzer_for("th")(long_text)]
    assert len(calls) == 2
