"""Arabic: orthographic normalization, stopwords and ISRI light stemming.

Documents and queries pass through the same chain, so أحمد/احمد, مدرسة/مدرسه
and وهانوي/هانوي meet on the same term.
"""
from whoosh.analysis import Filter, StemFilter, StopFilter

from .normalize import normalize_arabic

# Common function words (already in normalized spelling).
ARABIC_STOPWORDS = frozenset(normalize_arabic(w) for w in """
في من على الى إلى عن مع هذا هذه ذلك تلك التي الذي الذين اللتي ما ماذا متى اين أين كيف كم لماذا
هل و او أو ثم لا لم لن ان إن أن كان كانت يكون قد كل بعض غير بين حتى عند منذ بعد قبل حول ضد
هو هي هم هن انا أنا نحن انت أنت له لها لهم به بها فيه فيها منه منها عليه عليها اي أي ايضا أيضا
""".split())


class ArabicNormalizeFilter(Filter):
    def __call__(self, tokens):
        for t in tokens:
            text = normalize_arabic(t.text)
            if text:
                t.text = text
                yield t


def arabic_chain_filters():
    """The filters after tokenization, in order."""
    return ArabicNormalizeFilter() | StopFilter(stoplist=ARABIC_STOPWORDS, minsize=1) | StemFilter(lang="ar")
