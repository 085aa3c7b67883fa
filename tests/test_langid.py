"""analyzers.langid: script shortcuts, Vietnamese, mixed text, edge cases, xquad-dev accuracy."""
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzers.langid import detect_language, script_profile

REPO_ROOT = Path(__file__).resolve().parent.parent
XQUAD_DEV = REPO_ROOT.parent / "shared" / "eval" / "xquad-dev"


# One realistic news query per script that names its language outright.
SCRIPT_SHORTCUTS = [
    ("th", "นายกรัฐมนตรีประชุมคณะรัฐมนตรีวันนี้"),
    ("lo", "ຂ່າວລາວມື້ນີ້"),
    ("km", "ព័ត៌មានកម្ពុជាថ្ងៃនេះ"),
    ("my", "မြန်မာနိုင်ငံ သတင်း"),
    ("ko", "대한민국 대통령 선거 결과"),
    ("ja", "東京の天気はどうですか"),
    ("ja", "日本の首相は誰ですか"),
    ("zh", "黑豹队的防守丢了多少分？"),
    ("zh", "東京都知事選挙"),  # Han without kana reads as Chinese
    ("ar", "من فاز بالسوبر بول 49؟"),
    ("el", "Ποιος κέρδισε τις εκλογές;"),
    ("he", "מי ניצח בבחירות בישראל?"),
    ("hi", "भारत के प्रधानमंत्री कौन हैं?"),
    ("ka", "საქართველოს პრეზიდენტი"),
    ("hy", "Հայաստանի նախագահ"),
    ("am", "የኢትዮጵያ ጠቅላይ ሚኒስትር"),
    ("ta", "தமிழ்நாடு செய்திகள்"),
    ("bn", "বাংলাদেশের প্রধানমন্ত্রী কে?"),
    ("si", "ශ්‍රී ලංකා පුවත්"),
]


@pytest.mark.parametrize("expected, text", SCRIPT_SHORTCUTS)
def test_script_shortcuts(expected, text):
    assert detect_language(text) == expected


@pytest.mark.parametrize("expected, text", [
    ("fa", "چه کسی در انتخابات ایران پیروز شد؟"),
    ("ur", "پاکستان میں انتخابات کون جیتا؟"),
    ("mr", "महाराष्ट्राचे मुख्यमंत्री कोण आहेत?"),
    ("ru", "Кто выиграл выборы в России?"),
    ("ru", "Москва новости сегодня"),
    ("uk", "Зеленський їде до Києва"),
    ("bg", "Кой спечели изборите в България?"),
    ("sr", "Вучић се састао са Путином"),
    ("en", "How many points did the Panthers defense surrender?"),
    ("de", "Wer hat die Bundestagswahl gewonnen?"),
    ("fr", "Qui a gagné la coupe du monde?"),
    ("es", "¿Dónde está el presidente del gobierno?"),
    ("tr", "Cumhurbaşkanı Erdoğan Ankara'da konuştu"),
    ("pl", "Kto wygrał wybory w Polsce?"),
    ("hr", "Novak Đoković osvojio je turnir u Beogradu"),  # đ alone is not Vietnamese
])
def test_shared_scripts_ask_the_model_within_the_script(expected, text):
    assert detect_language(text) == expected


@pytest.mark.parametrize("text", [
    "Hải Phòng đẩy mạnh hợp tác kinh tế với Nhật Bản",
    "Giá vàng hôm nay tăng mạnh",
    "Thủ tướng Chính phủ họp với các bộ ngành",
    "Đà Nẵng",
    "Ai là người đứng đầu Bộ Ngoại giao?",
])
def test_vietnamese_with_tone_marks(text):
    assert detect_language(text) == "vi"


@pytest.mark.parametrize("text", [
    "hai phong hop tac",
    "gia vang hom nay tang manh",
    "thu tuong chinh phu hop voi cac bo nganh",
    "ket qua bong da viet nam",
    "Ai da gianh Super Bowl XLIX?",  # foreign names inside toneless Vietnamese
])
def test_vietnamese_without_tone_marks(text):
    assert detect_language(text) == "vi"


@pytest.mark.parametrize("text", [
    "man to man", "hot tin roof", "in the news today", "ban on hot dogs",
    "Hanoi and Ho Chi Minh City are growing fast",
])
def test_short_english_is_not_taken_for_toneless_vietnamese(text):
    # Three-word English can fool the model into another language; never into vi.
    assert detect_language(text) != "vi"


def test_vietnamese_names_in_a_long_english_text_stay_english():
    text = ("Vietnam's Communist Party chief Nguyễn Phú Trọng met the visiting delegation on "
            "Tuesday, and the two sides agreed to expand trade and security cooperation.")
    assert detect_language(text) == "en"


@pytest.mark.parametrize("expected, text", [
    ("th", "หนังสือพิมพ์รายงานว่าเขตปกครองตนเองเนเนตส์ (Nenetskiy) มีประชากรน้อยที่สุดในรัสเซีย"),
    ("th", "Apple iPhone ราคา"),
    ("zh", "iPhone 15 价格"),
    ("zh", "习近平 Xi Jinping"),
    ("ar", "أعلنت شركة Apple عن هاتف iPhone الجديد اليوم في كاليفورنيا"),
    ("en", "The Chinese president Xi Jinping (习近平) arrived in Paris on Monday for talks."),
    ("ko", "삼성전자 Galaxy 신제품 발표"),
])
def test_mixed_script_dominant_script_wins_and_latin_names_do_not(expected, text):
    assert detect_language(text) == expected


@pytest.mark.parametrize("text", ["", "   ", "?!…—", "12345 67.8", "😀🎉👍", "\u200b\u200b", "#@$%^&*()"])
def test_no_letters_is_undetermined(text):
    assert detect_language(text) == "und"


def test_candidates_restrict_the_answer():
    assert detect_language("Wer hat die Bundestagswahl gewonnen?", candidates={"en", "nl"}) in {"en", "nl"}
    assert detect_language("นายกรัฐมนตรี", candidates={"th", "en"}) == "th"
    assert detect_language("hello world", candidates={"xx"}) == "und"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=60)
       | st.lists(st.sampled_from(["ข่าว", "Hà Nội", "東京の", "مدينة", "Москва", "ế", "e\u0301", "한국", " ", "7", "ـ"]),
                  max_size=12).map("".join))
def test_script_profile_counts_what_a_match_per_letter_counts(text):
    from collections import Counter
    import unicodedata

    from analyzers.langid import _SCRIPT_LETTER

    expected = Counter(m.lastgroup for m in _SCRIPT_LETTER.finditer(unicodedata.normalize("NFC", text)))
    assert script_profile(text) == dict(expected)


def test_script_profile_counts_letters_per_script():
    profile = script_profile("ข่าว Nenetskiy 2024!")
    assert profile == {"Thai": 4, "Latin": 9}  # ข ่ า ว: the tone mark is counted with its script
    assert script_profile("東京の天気") == {"Han": 4, "Hiragana": 1}
    assert script_profile("123 !?") == {}


def test_detection_is_thread_safe():
    texts = ["How many points?", "Кто выиграл выборы?", "Đội thủ Panthers", "黑豹队"] * 25
    expected = [detect_language(t) for t in texts]
    results: dict[int, list[str]] = {}

    def worker(n):
        results[n] = [detect_language(t) for t in texts]

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r == expected for r in results.values())


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_never_raises_and_always_returns_a_code(text):
    result = detect_language(text)
    assert isinstance(result, str) and result


@settings(max_examples=100, deadline=None)
@given(st.text(), st.sets(st.sampled_from(["en", "vi", "th", "zh", "ar", "ru", "xx"])))
def test_never_raises_with_candidates(text, candidates):
    result = detect_language(text, candidates=candidates)
    assert result == "und" or result in candidates


def _read_topics(path: Path) -> list[str]:
    return [line.split("\t", 1)[1] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_accuracy_on_xquad_dev_topics():
    if not XQUAD_DEV.is_dir():
        pytest.skip(f"evaluation data not found at {XQUAD_DEV} (expected next to the repository)")
    correct = total = 0
    for lang in ("th", "zh", "ar", "vi", "en"):
        path = XQUAD_DEV / f"topics.{lang}.tsv"
        if not path.exists():
            pytest.skip(f"missing {path}")
        questions = _read_topics(path)
        correct += sum(detect_language(q) == lang for q in questions)
        total += len(questions)
    assert total > 0
    assert correct / total >= 0.99, f"accuracy {correct / total:.4f} below 0.99"
