"""Language identification for queries and documents, offline.

Script is the first signal: most scripts belong to one language (Thai → th,
Hangul → ko), so those answers need no model at all and cost microseconds.
Only where one script serves many languages (Latin, Cyrillic, Arabic,
Devanagari, Bengali) is the bundled ``langid`` model asked, restricted to the
languages written in that script, so a short Russian query cannot come back
as Dutch.  Vietnamese gets two extra signals: its tone-stacked letters, and
for text typed without tone marks, the fact that every Vietnamese word is one
syllable of a small, regular shape.

The model is loaded once, lazily, under a lock; after that nothing is mutated,
so ``detect_language`` is safe to call from many threads.
"""
import math
import threading
import unicodedata
from collections import Counter
from collections.abc import Iterable

import numpy as np
import regex

UNDETERMINED = "und"

# Scripts counted by script_profile (Unicode script property names). Letters
# and marks only: digits and punctuation say nothing about the language.
_SCRIPTS = (
    "Latin", "Cyrillic", "Greek", "Armenian", "Georgian", "Hebrew", "Arabic",
    "Syriac", "Thaana", "Devanagari", "Bengali", "Gurmukhi", "Gujarati", "Oriya",
    "Tamil", "Telugu", "Kannada", "Malayalam", "Sinhala", "Thai", "Lao",
    "Tibetan", "Myanmar", "Khmer", "Mongolian", "Ethiopic", "Cherokee",
    "Tifinagh", "Hangul", "Hiragana", "Katakana", "Han", "Bopomofo", "Yi",
)
_SCRIPT_LETTER = regex.compile(
    "|".join(rf"(?P<{name}>[\p{{sc={name}}}&&[\p{{L}}\p{{M}}]])" for name in _SCRIPTS),
    regex.V1,
)

# Scripts that name their language outright.
_SCRIPT_LANGUAGE = {
    "Thai": "th", "Lao": "lo", "Khmer": "km", "Myanmar": "my", "Hangul": "ko",
    "Greek": "el", "Hebrew": "he", "Georgian": "ka", "Armenian": "hy",
    "Ethiopic": "am", "Sinhala": "si", "Tamil": "ta", "Telugu": "te",
    "Kannada": "kn", "Malayalam": "ml", "Gujarati": "gu", "Gurmukhi": "pa",
    "Oriya": "or", "Tibetan": "bo", "Thaana": "dv", "Mongolian": "mn",
    "Bopomofo": "zh", "Yi": "ii",
}

# Scripts shared by several languages: (default, langid candidates,
# probability langid needs to overrule the default).  The default is the
# language most text in that script is written in; overruling it takes a
# confident model, because short queries give the model little to go on.
_SHARED_SCRIPTS = {
    "Arabic": ("ar", ("ar", "fa", "ur", "ps", "ug", "ku"), 0.5),  # and see _NON_ARABIC_LETTERS
    "Devanagari": ("hi", ("hi", "mr", "ne"), 0.9),
    "Bengali": ("bn", ("bn", "as"), 0.9),
    "Cyrillic": ("ru", ("ru", "uk", "bg", "sr", "mk", "be", "kk", "ky", "mn"), 0.9),
    # Living languages with news in Latin script; leaves out Latin, Volapük,
    # Esperanto, Aragonese, Walloon..., which short text would otherwise hit.
    "Latin": ("en", (
        "af", "az", "bs", "ca", "cs", "cy", "da", "de", "en", "es", "et", "eu",
        "fi", "fr", "ga", "gl", "hr", "ht", "hu", "id", "is", "it", "jv", "ku",
        "lb", "lt", "lv", "mg", "ms", "mt", "nl", "no", "pl", "pt", "ro", "rw",
        "sk", "sl", "sq", "sv", "sw", "tl", "tr", "vi", "xh", "zu",
    ), 0.0),
}

# One Han/kana/Hangul character carries about a word, a Latin letter a
# fraction of one: weigh them so a CJK query naming "iPhone" stays CJK.
_CJK_WEIGHT = 3.0
_CJK_SCRIPTS = frozenset({"Han", "Hiragana", "Katakana", "Hangul", "Bopomofo"})
# Latin names and brands are quoted in every language, so any other script
# holding this share of the (weighted) letters decides the language.
_NON_LATIN_SHARE = 0.25
# Japanese text is typically a third kana or more; a stray の in Chinese is not.
_KANA_SHARE_FOR_JA = 0.05

# Persian, Urdu, Pashto, Uyghur, Kurdish write letters Arabic does not (Persian
# yeh/keheh, pe, che, gaf, Urdu tteh, noon ghunna ...); without one of them
# an Arabic-script text is Arabic whatever the model says about a short query.
_NON_ARABIC_LETTERS = regex.compile(r"[\u067E\u0686\u0698\u06AF\u06CC\u06A9\u0679\u0688\u0691\u06BA\u06D2\u06BE\u06C7\u06D0\u06C6\u06C8\u06CB\u06AD\u0695\u06B5\u06CE\u067C\u0681\u0685\u0689\u0693\u0696\u069A\u06BC\u06D0]")

# Vietnamese -------------------------------------------------------------------
# ă ơ ư and the tone-stacked block U+1EA0–U+1EF9 are (nearly) Vietnamese-only;
# đ also appears in Croatian/Serbian Latin, so it counts only without č ć š ž.
_VI_LETTERS = regex.compile(r"[ăĂơƠưƯ\u1EA0-\u1EF9]")
_VI_D = regex.compile(r"[đĐ]")
_SOUTH_SLAVIC = regex.compile(r"[čćšžČĆŠŽ]")
_VI_LETTER_SHARE = 0.02
_VI_MODEL_CONFIDENCE = 0.9

# A toneless Vietnamese syllable: onset, vowel nucleus, optional final.
# Nuclei ending in a glide (ai, ao, uoi, ...) take no final consonant.
_VI_SYLLABLE = regex.compile(
    r"(?:ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdghklmnprstvx])?"
    r"(?:(?:uye|uy|uo|ua|ue|ie|ye|ia|oa|oe|oo|[aeiouy])(?:ng|nh|ch|[cmnpt])?"
    r"|oai|oay|uai|uay|uoi|uou|ieu|yeu|uya|uyu|oeo|[aeiou][iouy])"
)
# Very common syllables, minus those that are also everyday English/Romance
# words (the, ban, con, den, la, de, se ...), so they are evidence on their own.
_VI_COMMON = frozenset("""
    va cua co la duoc trong cho khong nhung cac mot nguoi voi da nay de khi ve
    nam den tu ra cung thi nhieu nhu se vao lai theo lam phai nuoc sau di nen
    hon rat tai viec nha ong ba anh em chung toi tren duoi con nao gi ai sao
    dau bao nhieu bi vi gioi noi biet thay moi ca dieu len xuong dang hien thoi
    gian ngay thang doi tran thang giai lon nho cao thap cuoi truoc giua ngoai
    thanh pho tinh quoc gia chinh phu cong ty kinh xa hoi van hoa giao duc benh
    vien truong hoc sinh tien dong thi hai bon bay tam chin muoi tram nghin
    trieu lan nhau nhan thuong mai kien nghi chu tich thu tuong bo
    """.split()) - frozenset(
    # also everyday words of English or Romance languages
    "the to do so a an in on i o e y me ma mi di de la se da con den ban van tan ten tin chi ho hay".split())
_VI_DISTINCT_ONSET = ("ngh", "ng", "nh", "kh", "gh")
# Rhymes frequent in Vietnamese and rare in European words: uông, iêu, yên, anh, inh ...
_VI_DISTINCT_RHYME = regex.compile(r"(?:uo|ie|ye)(?:ng|[nctmpiu])$|[aeiy]nh$")
_ASCII_WORD = regex.compile(r"[A-Za-z]+")


def script_profile(text: str) -> dict[str, int]:
    """Letters (and combining marks) per Unicode script, e.g. {"Thai": 12, "Latin": 9}."""
    # Counted per distinct character, each looked up once per process: a regex match per
    # letter took 4.8 ms of a 3,000-character article's 10 ms language identification.
    profile: dict[str, int] = {}
    for char, count in Counter(unicodedata.normalize("NFC", text)).items():
        script = _SCRIPT_OF.get(char, _UNSEEN)
        if script is _UNSEEN:
            match = _SCRIPT_LETTER.fullmatch(char)
            script = match.lastgroup if match else None
            if len(_SCRIPT_OF) < _SCRIPT_OF_MAX:   # bounded: queries may hold any characters
                _SCRIPT_OF[char] = script
        if script is not None:
            profile[script] = profile.get(script, 0) + count
    return profile


_SCRIPT_OF: dict[str, str | None] = {}   # character -> its script in _SCRIPTS (None: not a letter of one)
_SCRIPT_OF_MAX = 50_000
_UNSEEN = object()


def detect_language(text: str, candidates: Iterable[str] | None = None) -> str:
    """ISO 639-1 code of the language of ``text``, or "und" when it has no letters.

    ``candidates`` restricts the answer to those codes (e.g. the languages of
    the index); if the script's natural answer is not among them, the model
    picks the likeliest candidate it knows.
    """
    if not isinstance(text, str) or not text:
        return UNDETERMINED
    text = unicodedata.normalize("NFC", text)
    profile = script_profile(text)
    if not profile:
        return UNDETERMINED
    allowed = frozenset(candidates) if candidates is not None else None
    language = _language_from_script(text, profile)
    if allowed is None or language in allowed:
        return language
    known = [code for code in allowed if code in _model().index]
    if not known:
        return UNDETERMINED
    return _model().best(text, known)[0]


# Decision -----------------------------------------------------------------------
def _dominant_script(profile: dict[str, int]) -> str:
    weighted = {s: n * (_CJK_WEIGHT if s in _CJK_SCRIPTS else 1.0) for s, n in profile.items()}
    # Han and kana together are one writing system (Japanese or Chinese).
    kana = weighted.pop("Hiragana", 0.0) + weighted.pop("Katakana", 0.0)
    if kana:
        weighted["Han"] = weighted.get("Han", 0.0) + kana
    total = sum(weighted.values())
    others = {s: w for s, w in weighted.items() if s != "Latin"}
    if others:
        top = max(others, key=others.__getitem__)
        if "Latin" not in weighted or others[top] >= _NON_LATIN_SHARE * total:
            return top
    return "Latin"


def _language_from_script(text: str, profile: dict[str, int]) -> str:
    script = _dominant_script(profile)
    if script == "Han":
        kana = profile.get("Hiragana", 0) + profile.get("Katakana", 0)
        han_group = kana + profile.get("Han", 0)
        return "ja" if kana and kana >= _KANA_SHARE_FOR_JA * han_group else "zh"
    if script in _SCRIPT_LANGUAGE:
        return _SCRIPT_LANGUAGE[script]
    if script == "Latin" and _looks_vietnamese(text, profile["Latin"]):
        return "vi"
    if script == "Arabic" and not _NON_ARABIC_LETTERS.search(text):
        return "ar"
    if script in _SHARED_SCRIPTS:
        default, languages, overrule = _SHARED_SCRIPTS[script]
        language, probability = _model().best(text, languages)
        if script == "Latin" and language == "vi" and probability < _VI_MODEL_CONFIDENCE:
            # Vietnamese without its letters and failing the syllable test is
            # more likely short English ("hot tin roof"): ask again without vi.
            language, probability = _model().best(text, [c for c in languages if c != "vi"])
        return language if language == default or probability >= overrule else default
    return UNDETERMINED  # a script we know but cannot name a 639-1 language for


def _looks_vietnamese(text: str, latin_letters: int) -> bool:
    marked = len(_VI_LETTERS.findall(text))
    if not _SOUTH_SLAVIC.search(text):
        marked += len(_VI_D.findall(text))
    if marked and marked >= _VI_LETTER_SHARE * latin_letters:
        return True
    if marked or not text.isascii():
        return False
    return _looks_like_toneless_vietnamese(text)


def _looks_like_toneless_vietnamese(text: str) -> bool:
    """Vietnamese typed without accents ("hai phong hop tac").

    Nearly every word must be a well-formed Vietnamese syllable (which rules
    out most English, Spanish, Indonesian...); capitalised words that are not
    are taken for foreign names and skipped ("Ai da gianh Super Bowl").
    Enough of them must be very common Vietnamese syllables or have a typically Vietnamese onset or rhyme
    (ng-, nh-, -uong, -ieu, -anh ...), which rules out English made of short
    words such as "in the" or "man to man".
    """
    words = []
    for word in _ASCII_WORD.findall(text):
        lower = word.lower()
        if _VI_SYLLABLE.fullmatch(lower):
            words.append(lower)
        elif not word[0].isupper():  # capitalised misfits are foreign names: ignore
            words.append(None)
    if len(words) < 2:
        return False
    well_formed = sum(1 for w in words if w is not None)
    distinct = sum(1 for w in words if w and _is_distinctly_vietnamese(w))
    return well_formed >= 0.8 * len(words) and distinct >= max(1, math.ceil(0.2 * len(words)))


def _is_distinctly_vietnamese(syllable: str) -> bool:
    return (syllable in _VI_COMMON or syllable.startswith(_VI_DISTINCT_ONSET)
            or _VI_DISTINCT_RHYME.search(syllable) is not None)


# Model ---------------------------------------------------------------------------
class _LangidModel:
    """langid.py's naive Bayes model, scored over any subset of its languages.

    Subsetting is done by column selection at scoring time rather than with
    langid's ``set_languages`` (which mutates the shared identifier and so is
    not thread-safe).
    """

    def __init__(self):
        from langid import langid as langid_module

        identifier = langid_module.LanguageIdentifier.from_modelstring(langid_module.model)
        self.languages = [str(code) for code in identifier.nb_classes]
        self.index = {code: i for i, code in enumerate(self.languages)}
        self._ptc = np.asarray(identifier.nb_ptc, dtype=np.float64)
        self._pc = np.asarray(identifier.nb_pc, dtype=np.float64)
        self._nextmove = identifier.tk_nextmove
        self._output = identifier.tk_output
        self._columns: dict[tuple[str, ...], np.ndarray] = {}

    def _features(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        # Same byte automaton as langid's instance2fv, but sparse.
        nextmove, state, visits = self._nextmove, 0, Counter()
        for byte in text.encode("utf-8"):
            state = nextmove[(state << 8) + byte]
            visits[state] += 1
        counts: Counter = Counter()
        for state, n in visits.items():
            for feature in self._output.get(state, ()):
                counts[feature] += n
        return np.fromiter(counts.keys(), dtype=np.int64), np.fromiter(counts.values(), dtype=np.float64)

    def best(self, text: str, languages: Iterable[str]) -> tuple[str, float]:
        """Likeliest of ``languages`` and its probability normalised over them."""
        key = tuple(sorted(languages))
        columns = self._columns.get(key)
        if columns is None:  # benign race: every thread computes the same array
            columns = np.array([self.index[code] for code in key], dtype=np.int64)
            self._columns[key] = columns
        features, counts = self._features(text)
        log_prob = self._pc[columns] + counts @ self._ptc[np.ix_(features, columns)]
        log_prob -= log_prob.max()
        prob = np.exp(log_prob)
        best = int(prob.argmax())
        return key[best], float(prob[best] / prob.sum())


_model_instance: _LangidModel | None = None
_model_lock = threading.Lock()


def _model() -> _LangidModel:
    global _model_instance
    if _model_instance is None:
        with _model_lock:
            if _model_instance is None:
                _model_instance = _LangidModel()
    return _model_instance
