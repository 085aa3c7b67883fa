"""Character-level normalizations shared by the analyzers and the lexicon.

Functions named ``*_same_length`` map one character to one character so that
offsets computed on the result are offsets into the original text; the others
may change the length and are only applied to token text, never to the text
being segmented.
"""
import unicodedata

import regex

# Arabic ---------------------------------------------------------------------
# Tashkeel (harakat, tanwin, shadda, sukun, superscript alef) and Quranic marks.
_ARABIC_DIACRITICS = regex.compile(r"[\u0610-\u061A\u064B-\u065F\u0670\u06D6-\u06ED]")
_TATWEEL = "\u0640"
_ARABIC_FOLD = str.maketrans({
    "\u0623": "\u0627",  # أ -> ا
    "\u0625": "\u0627",  # إ -> ا
    "\u0622": "\u0627",  # آ -> ا
    "\u0671": "\u0627",  # ٱ (wasla) -> ا
    "\u0672": "\u0627",
    "\u0673": "\u0627",
    "\u0649": "\u064A",  # ى -> ي
    "\u06CC": "\u064A",  # Persian yeh -> ي
    "\u0626": "\u064A",  # ئ -> ي
    "\u0624": "\u0648",  # ؤ -> و
    "\u0629": "\u0647",  # ة -> ه
    "\u06A9": "\u0643",  # Persian keheh -> ك
    "\u06C0": "\u0647",
    _TATWEEL: None,
})


def normalize_arabic(text: str) -> str:
    """Fold hamza/alef forms, yeh/alef maqsura, taa marbuta; drop tashkeel and tatweel."""
    return _ARABIC_DIACRITICS.sub("", text).translate(_ARABIC_FOLD)


# Latin, Greek, Cyrillic diacritics -------------------------------------------
_EXTRA_FOLD = str.maketrans({
    "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "ø": "o", "Ø": "O", "ł": "l", "Ł": "L",
    "ß": "ss", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ı": "i", "ħ": "h",
})
_COMBINING_LATIN = regex.compile(r"[\u0300-\u036f]")


def fold_diacritics(text: str) -> str:
    """Remove Latin/Greek/Cyrillic accents and fold đ→d (Hải Phòng → Hai Phong).

    Only the generic combining block (U+0300–U+036F) is stripped: the vowel
    signs of Thai, Devanagari, Arabic etc. are letters, not accents.
    """
    text = text.translate(_EXTRA_FOLD)
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFC", _COMBINING_LATIN.sub("", decomposed))


# Width ------------------------------------------------------------------------
_FULLWIDTH = {i: i - 0xFEE0 for i in range(0xFF01, 0xFF5F)}
_FULLWIDTH[0x3000] = 0x20  # ideographic space


def fold_width_same_length(text: str) -> str:
    """Full-width ASCII forms (ＡＢＣ１２３) to half-width, one char for one char."""
    return text.translate(_FULLWIDTH)


# Chinese ------------------------------------------------------------------------
_t2s = None


def _opencc():
    global _t2s
    if _t2s is None:
        import opencc

        _t2s = opencc.OpenCC("t2s")
    return _t2s


def to_simplified_same_length(text: str) -> str:
    """Traditional → Simplified with OpenCC, keeping one char per char.

    OpenCC's phrase tables occasionally change the length; then each
    character is converted on its own and kept only if it stays one char.
    """
    converted = _opencc().convert(text)
    if len(converted) == len(text):
        return converted
    out = []
    for ch in text:
        c = _opencc().convert(ch)
        out.append(c if len(c) == 1 else ch)
    return "".join(out)


def fold_text(text: str) -> str:
    """Script-agnostic match key: width, case, accents, Arabic and T→S folding.

    For matching names (lexicon, facets), not for segmentation.
    """
    text = fold_width_same_length(text)
    text = unicodedata.normalize("NFC", text).casefold()
    text = fold_diacritics(text)
    text = normalize_arabic(text)
    if any("\u4e00" <= ch <= "\u9fff" for ch in text):
        text = to_simplified_same_length(text)
    return text
