"""The entity lexicon: its data file and the matcher, on the real data and the seed articles."""
import unicodedata
from collections import Counter
from pathlib import Path

import pytest

from analyzers.lexicon import LANGUAGES, Lexicon, get_lexicon

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "analyzers" / "data" / "entities.tsv"
CORPUS = ROOT / "corpus"


@pytest.fixture(scope="module")
def lex() -> Lexicon:
    return Lexicon.load()


def seed(prefix: str) -> str:
    (path,) = CORPUS.glob(f"{prefix}_*.txt")
    return path.read_text(encoding="utf-8")


# -- the data file ------------------------------------------------------------------------------

def data_rows() -> list[list[str]]:
    lines = [l for l in DATA.read_text(encoding="utf-8").splitlines() if l.strip() and not l.startswith("#")]
    return [l.split("\t") for l in lines[1:]]


def test_data_file_ids_are_unique_and_rows_well_formed():
    rows = data_rows()
    ids = [r[0] for r in rows]
    assert len(ids) == len(set(ids))
    header = [l for l in DATA.read_text(encoding="utf-8").splitlines() if not l.startswith("#")][0].split("\t")
    assert header == ["id", "type", "admin2025", *LANGUAGES]
    assert all(len(r) <= len(header) for r in rows)


def test_every_entity_has_vietnamese_and_english_names(lex):
    for entity in lex.entities.values():
        if entity.type != "block":
            assert entity.names.get("vi") and entity.names.get("en"), entity.id


def test_provinces_before_and_after_2025_are_complete(lex):
    provinces = [e for e in lex.entities.values() if e.type == "province"]
    before = [e for e in provinces if e.pre2025]
    after = {e.id for e in provinces if e.post2025}
    assert len(before) == 63
    assert len(after) == 34
    # Every pre-2025 province belongs to exactly one post-2025 unit, and every unit is used.
    assert {e.merged_into for e in before} == after
    sizes = Counter(e.merged_into for e in before)
    assert sizes["vn-hcmc"] == 3 and sizes["vn-ninhbinh"] == 3 and sizes["vn-hatinh"] == 1
    assert sum(1 for e in provinces if e.admin2025 == "kept") == 11
    assert lex.get("vn-bariavungtau").merged_into == "vn-hcmc"
    assert lex.get("vn-binhduong").merged_into == "vn-hcmc"
    assert lex.get("vn-haiduong").merged_into == "vn-haiphong"
    assert lex.get("vn-hatinh").admin2025 == "kept" and lex.get("vn-hatinh").merged_into == "vn-hatinh"
    assert lex.get("vn-ninhbinh").post2025 and not lex.get("vn-namdinh").post2025


def test_countries_cover_foreign_affairs_news(lex):
    countries = [e for e in lex.entities.values() if e.type == "country"]
    assert len(countries) >= 80
    for entity in countries:
        for lang in ("vi", "en", "th", "zh", "ar"):
            assert entity.names.get(lang), (entity.id, lang)
    for iso in ("la", "kh", "th", "cn", "jp", "kr", "kp", "in", "ru", "us", "gb", "fr", "de", "it", "nl", "pl",
                "cz", "sk", "hu", "cu", "np", "au", "ca", "tw", "hk", "mo", "sg", "my", "id", "ph", "bn", "mm"):
        assert lex.get(f"country-{iso}") is not None, iso
    assert lex.get("org-eu") and lex.get("org-asean") and lex.get("org-vufo")


def test_no_name_means_two_entities(lex):
    assert lex.collisions() == {}


def test_loader_rejects_bad_rows():
    header = "id\ttype\tadmin2025\t" + "\t".join(LANGUAGES)
    with pytest.raises(ValueError, match="duplicate"):
        Lexicon.from_tsv(f"{header}\nx\tcountry\t\tXa\tXa\nx\tcountry\t\tYa\tYa\n")
    with pytest.raises(ValueError, match="too short"):
        Lexicon.from_tsv(f"{header}\nx\tcountry\t\tLào\tLaos\t\t老\n")
    with pytest.raises(ValueError, match="vi and en"):
        Lexicon.from_tsv(f"{header}\nx\tcountry\t\t\tLaos\n")
    with pytest.raises(ValueError, match="merged into"):
        Lexicon.from_tsv(f"{header}\nx\tprovince\tmerged>y\tXa Xa\tXa Xa\n")


# -- the seed articles --------------------------------------------------------------------------

@pytest.mark.parametrize("prefix, main, expected", [
    ("000", "vn-bariavungtau", {"vn-bariavungtau", "country-ru", "country-jp", "country-cu", "country-la", "country-fr",
             "country-it", "org-vufo", "concept-p2p-foreign-affairs", "vn-hcmc"}),
    ("001", "vn-dongnai", {"vn-dongnai", "country-kh", "country-kr", "country-us", "org-eu", "org-asean",
             "concept-peoples-diplomacy", "concept-ngo", "concept-fdi"}),
    ("002", "vn-haiphong", {"vn-haiphong", "country-la", "country-np", "country-nl", "country-kr", "country-cn", "org-vufo",
             "org-vufo-local", "concept-peoples-diplomacy", "vn-hanoi", "org-fa-vn-la"}),
    ("003", "vn-hatinh", {"vn-hatinh", "country-la", "country-th", "country-ru", "country-pl", "country-cz", "country-sk",
             "country-hu", "country-jp", "org-asean", "concept-peoples-diplomacy", "concept-p2p-foreign-affairs",
             "region-la-savannakhet"}),
    ("004", "vn-nghean", {"vn-nghean", "country-us", "country-la", "country-in", "country-kr", "country-jp", "concept-oda",
             "concept-fdi", "org-peoples-committee"}),
])
def test_seed_articles(lex, prefix, main, expected):
    text = seed(prefix)
    mentions = lex.find(text)
    assert expected <= {m.entity_id for m in mentions}
    for m in mentions:
        assert text[m.start:m.end] == m.surface
    counts = Counter(m.entity_id for m in mentions if m.entity_id.startswith("vn-"))
    assert counts.most_common(1)[0][0] == main


def test_seed_name_forms(lex):
    forms = {"000": ["บ่าเหรีย-หวุงเต่า", "บ่าเหรียหวุงเต่า", "บ่าเหรีย หวุงเต่า"], "001": ["จังหวัดด่งนาย"],
             "002": ["海防市", "老挝", "尼泊尔", "荷兰"], "003": ["ها تينه", "لاوس", "تايلاند", "الاتحاد الروسي",
                                                        "بولندا", "جمهورية التشيك", "سلوفاكيا"],
             "004": ["เหงะอาน", "สปป.ลาว"]}
    for prefix, names in forms.items():
        surfaces = {m.surface for m in lex.find(seed(prefix))}
        for name in names:
            assert any(name in s for s in surfaces), (prefix, name)


# -- queries and scripts ------------------------------------------------------------------------

@pytest.mark.parametrize("query, entity", [
    ("ไฮฟอง", "vn-haiphong"), ("海防", "vn-haiphong"), ("海防市", "vn-haiphong"), ("Hai Phong", "vn-haiphong"),
    ("Haiphong", "vn-haiphong"), ("hải phòng", "vn-haiphong"), ("هاي فونغ", "vn-haiphong"),
    ("同奈省", "vn-dongnai"), ("同奈", "vn-dongnai"), ("จังหวัดด่งนาย", "vn-dongnai"), ("ด่งนาย", "vn-dongnai"),
    ("tỉnh Đồng Nai", "vn-dongnai"), ("Đồng Nai", "vn-dongnai"), ("dong nai", "vn-dongnai"),
    ("Hà Tĩnh", "vn-hatinh"), ("ha tinh", "vn-hatinh"), ("HA TINH", "vn-hatinh"), ("河静省", "vn-hatinh"),
    ("ها تينه", "vn-hatinh"), ("Ha Tinh province", "vn-hatinh"),
    ("巴地头顿省", "vn-bariavungtau"), ("Bà Rịa - Vũng Tàu", "vn-bariavungtau"), ("ba ria vung tau", "vn-bariavungtau"),
    ("乂安省", "vn-nghean"), ("เหงะอาน", "vn-nghean"), ("ฮานอย", "vn-hanoi"), ("هانوي", "vn-hanoi"),
    ("โฮจิมินห์", "vn-hcmc"), ("TP.HCM", "vn-hcmc"), ("胡志明市", "vn-hcmc"), ("Saigon", "vn-hcmc"),
    ("Lào", "country-la"), ("ลาว", "country-la"), ("老挝", "country-la"), ("لاوس", "country-la"), ("Laos", "country-la"),
    ("老撾", "country-la"), ("臺灣", "country-tw"), ("越南友好組織聯合會", "org-vufo"),
    ("ngoại giao nhân dân", "concept-peoples-diplomacy"), ("民间外交", "concept-peoples-diplomacy"),
    ("การทูตประชาชน", "concept-peoples-diplomacy"), ("الدبلوماسية الشعبية", "concept-peoples-diplomacy"),
    ("đối ngoại nhân dân", "concept-p2p-foreign-affairs"), ("人民对外工作", "concept-p2p-foreign-affairs"),
    ("Ủy ban nhân dân tỉnh", "org-peoples-committee"), ("省人民委员会", "org-peoples-committee"),
    ("Вьетнам", "country-vn"), ("ベトナム", "country-vn"), ("베트남", "country-vn"),
])
def test_queries_resolve(lex, query, entity):
    assert lex.resolve(query) == entity


def test_traditional_chinese_offsets(lex):
    text = "越南海防市與老撾永珍"
    mentions = lex.find(text)
    assert [(m.entity_id, m.surface) for m in mentions][:3] == [
        ("country-vn", "越南"), ("vn-haiphong", "海防市"), ("country-la", "老撾")]


def test_arabic_attached_prefixes_and_tashkeel(lex):
    for text in ("وهانوي", "بهانوي", "لهانوي", "فهانوي"):
        (m,) = lex.find(text)
        assert (m.entity_id, m.surface) == ("vn-hanoi", "هانوي")
    assert lex.entities_in("زار لمقاطعة ها تينه") == {"vn-hatinh"}
    assert lex.entities_in("والصين وللصين وبالصين") == {"country-cn"}
    text = "زار هَانُوي أمس"  # with harakat: offsets still point into the original
    (m,) = lex.find(text)
    assert m.entity_id == "vn-hanoi" and m.surface == "هَانُوي"
    assert lex.find("الحكومة اللاوسية") == []  # adjective, not the name
    assert lex.find("بيلاروسيا")[0].entity_id == "country-by"  # روسيا inside another name


def test_thai_syllable_boundaries(lex):
    assert lex.entities_in("ภูเขาไฟพ่นลาวาออกมา") == set()  # ลาวา, lava
    assert lex.entities_in("ประชาชนลาวและไทย") == {"country-la", "country-th"}
    assert lex.entities_in("การทูตของประชาชน") == {"concept-peoples-diplomacy"}


def test_vietnamese_decomposed_text(lex):
    text = unicodedata.normalize("NFD", "Đoàn đại biểu tỉnh Hà Tĩnh thăm Lào")
    mentions = lex.find(text)
    assert [m.entity_id for m in mentions] == ["vn-hatinh", "country-la"]
    assert all(text[m.start:m.end] == m.surface for m in mentions)
    assert unicodedata.normalize("NFC", mentions[0].surface) == "tỉnh Hà Tĩnh"


def test_russian_case_endings(lex):
    assert lex.entities_in("посол Вьетнама в Лаосе") == {"country-vn", "country-la"}


def test_blocks_and_longest_match(lex):
    assert lex.entities_in("Thái Bình Dương rộng lớn") == set()
    assert lex.entities_in("các nước Nam Mỹ") == set()
    assert lex.entities_in("tỉnh Thái Bình") == {"vn-thaibinh"}
    assert lex.entities_in("Lào Cai giáp Trung Quốc") == {"vn-laocai", "country-cn"}
    assert lex.entities_in("白俄罗斯和印度尼西亚") == {"country-by", "country-id"}
    assert lex.entities_in("Chủ tịch Hồ Chí Minh") == {"person-hochiminh"}


ENGLISH = ("The committee said it would let us know by Monday. The hue of the evening sky was lovely, and a "
           "longan tree grew near the china cabinet. Researchers in Laodicea studied the records again. "
           "Officials met to discuss budgets, schools, roads and a new union of teachers; the un-named fund "
           "will be reviewed in a month, said the chair of the panel.")
VIETNAMESE = ("Ba lần trong năm, người lao động được vinh danh vì ý kiến hay. Ý kiến đó giúp cập nhật phương "
              "pháp làm việc, giữ hòa bình và thái bình cho làng. Anh ấy cao bằng em, có đức tính tốt, mặc áo "
              "dài đẹp và học mỹ thuật. Nhà trắng bên hồ nằm ở phía nam. Hải dương học là một ngành khoa học. "
              "Chị Nga nói rằng năm nay mùa màng bội thu.")


@pytest.mark.parametrize("text", [ENGLISH, VIETNAMESE, VIETNAMESE.upper(),
                                  unicodedata.normalize("NFD", VIETNAMESE)])
def test_no_false_positives_in_ordinary_text(lex, text):
    assert lex.find(text) == []


def test_exact_names(lex):
    assert lex.entities_in("US troops") == {"country-us"}
    assert lex.entities_in("Huế") == {"vn-hue"} and lex.entities_in("THÀNH PHỐ HUẾ") == {"vn-hue"}
    assert lex.entities_in("HUẾ") == set()  # all caps: exact names are not guessed
    assert lex.entities_in("ve Hue") == {"vn-hue"} and lex.entities_in("the hue of it") == set()
    assert lex.entities_in("Quan hệ Việt Nam - Ba Lan") == {"country-vn", "country-pl"}


# -- API ----------------------------------------------------------------------------------------

def test_get_and_labels(lex):
    entity = lex.get("vn-haiphong")
    assert entity.type == "province"
    assert entity.label("vi") == "Hải Phòng" and entity.label("zh") == "海防市" and entity.label("th") == "ไฮฟอง"
    assert entity.labels["ar"] == "هاي فونغ"
    assert entity.label("km") == "Hai Phong"  # falls back to English
    assert lex.get("no-such-id") is None


def test_expansions(lex):
    exp = lex.expansions("vn-haiphong", exclude_lang="vi")
    assert "vi" not in exp
    assert {"Hai Phong", "Haiphong"} <= set(exp["en"]) and "ไฮฟอง" in exp["th"] and "海防市" in exp["zh"]
    assert "هاي فونغ" in exp["ar"]
    # Uncertain transliterations are left out unless asked for.
    assert "th" not in lex.expansions("vn-hagiang")
    assert "ห่าซาง" in lex.expansions("vn-hagiang", include_uncertain=True)["th"]
    assert ("th", "ห่าซาง") in lex.get("vn-hagiang").uncertain


def test_default_lexicon_is_cached():
    assert Lexicon.load() is get_lexicon() is Lexicon.load()



# -- the two matchers ---------------------------------------------------------------------------

def _texts_with_names(lex: Lexicon) -> list[str]:
    """Seed articles, generated articles in every language (names dropped into real vocabulary),
    and names written with the separators, attached prefixes and spacing the matcher handles."""
    from benchmarks import corpus_gen

    texts = [p.read_text(encoding="utf-8") for p in sorted(CORPUS.glob("*.txt"))]
    for i in range(60):
        doc = corpus_gen.article(7, i)
        texts += [doc["title"], doc["body"]]
    samples = [
        "Bà Rịa  -  Vũng Tàu, Bà Rịa–Vũng Tàu và bà rịa\n- vũng tàu", "TỈNH HUẾ, CỘNG HÒA PHÁP, phương pháp",
        "บ่าเหรีย หวุงเต่า และ ลาว ลาวา เลาว", "وهانوي لمقاطعة ها تينه للصين وبالصين فلل", "越南 河内 海防 老挝 老 越",
        "Вьетнама и Лаосе", "US us Úc Lào lao động", "ha\tnoi\u00a0-\u2013 hải\u3000phòng", "  ", "",
    ]
    for entity in list(lex.entities.values())[::7]:
        for names in entity.names.values():
            samples.append(" — ".join(f"x{name}, {name}y «{name}» {name.upper()}" for name in names))
    return texts + samples


def test_the_automaton_finds_what_the_trie_walk_finds(lex):
    pytest.importorskip("ahocorasick_rs")
    texts = _texts_with_names(lex)
    found = [lex.find(t) for t in texts]
    assert sum(map(len, found)) > 1000                 # the texts do name many entities
    assert found == [lex._find_by_trie(t) for t in texts]


# -- folding and squeezing with arrays ------------------------------------------------------------

def _folded_and_squeezed(folded, offsets, squeezed) -> tuple:
    mapped = None if offsets is None else [offsets[i] for i in range(len(folded))]
    return folded, mapped, squeezed.text, squeezed.same, list(squeezed._at), list(squeezed._shift)


def _reference(text: str) -> tuple:
    from analyzers.nametext import Squeezed, fold_with_offsets

    folded, offsets = fold_with_offsets(text)
    return _folded_and_squeezed(folded, offsets, Squeezed(folded))


def test_array_folding_and_squeezing_match_the_reference(lex):
    """fold_and_squeeze's array path gives the folded text, the offsets back into the text and
    the squeezed text of str.translate through _FOLD and the separators' regex: on real and
    generated articles and on random strings of the characters that take each branch
    (separator runs at either end, spaces between no-space letters, tashkeel folding to nothing,
    ß folding to two characters, characters outside the BMP or folding out of it, a lone
    surrogate, full width)."""
    import random

    from analyzers import nametext

    texts = _texts_with_names(lex)
    rng = random.Random(11)
    alphabet = list(" \t\n\u00a0\u3000-\u2013\u2014") + list("abĐđẮắÀ") + list("ลาวเแ่") + list("越南河内")
    alphabet += list("هانويًّ") + ["ـ", "ß", "𠀀", "\ud800", "Ａ", "鎯", "😀"]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14))) for _ in range(20_000)]
    arrays = 0
    translate = nametext.fold_with_offsets
    for text in texts:
        calls = []
        nametext.fold_with_offsets = lambda t: calls.append(t) or translate(t)
        try:
            got = _folded_and_squeezed(*nametext.fold_and_squeeze(text))
        finally:
            nametext.fold_with_offsets = translate
        assert got == _reference(text), repr(text)
        arrays += not calls
    assert min(arrays, len(texts) - arrays) > len(texts) // 4     # both paths well exercised
