"""Arabic: orthographic normalization, stopwords and ISRI light stemming.

Documents and queries pass through the same chain, so أحمد/احمد, مدرسة/مدرسه
and وهانوي/هانوي meet on the same term.
"""
from whoosh.analysis import StemFilter, StopFilter
from whoosh.lang.isri import ISRIStemmer

from .normalize import normalize_arabic
from .tokens import TextMapFilter

# Common function words (already in normalized spelling).
ARABIC_STOPWORDS = frozenset(normalize_arabic(w) for w in """
في من على الى إلى عن مع هذا هذه ذلك تلك التي الذي الذين اللتي ما ماذا متى اين أين كيف كم لماذا
هل و او أو ثم لا لم لن ان إن أن كان كانت يكون قد كل بعض غير بين حتى عند منذ بعد قبل حول ضد
هو هي هم هن انا أنا نحن انت أنت له لها لهم به بها فيه فيها منه منها عليه عليها اي أي ايضا أيضا
""".split())


class ArabicNormalizeFilter(TextMapFilter):
    fold = staticmethod(normalize_arabic)


class _ReferenceISRIStemmer(ISRIStemmer):
    """Whoosh's ISRI port with the affix step of the reference algorithm (NLTK).

    Whoosh nests the two-letter loop inside the three-letter one, so five-letter
    words kept their article and suffix: الصين stemmed to الص, بالصين to صين.
    """

    def pre32(self):
        if len(self.stm) >= 6:
            for pre3 in self.p3:
                if self.stm.startswith(pre3):
                    self.stm = self.stm[3:]
                    return self.stm
        if len(self.stm) >= 5:
            for pre2 in self.p2:
                if self.stm.startswith(pre2):
                    self.stm = self.stm[2:]
                    return self.stm

    def suf32(self):
        if len(self.stm) >= 6:
            for suf3 in self.s3:
                if self.stm.endswith(suf3):
                    self.stm = self.stm[:-3]
                    return self.stm
        if len(self.stm) >= 5:
            for suf2 in self.s2:
                if self.stm.endswith(suf2):
                    self.stm = self.stm[:-2]
                    return self.stm


def isri_stem(word: str) -> str:
    # A stemmer per call: ISRIStemmer keeps the word being stemmed in an attribute,
    # so one shared instance is not safe across the web server's threads.
    return _ReferenceISRIStemmer().stem(word)


def arabic_chain_filters():
    """The filters after tokenization, in order."""
    return ArabicNormalizeFilter() | StopFilter(stoplist=ARABIC_STOPWORDS, minsize=1) | StemFilter(isri_stem)
