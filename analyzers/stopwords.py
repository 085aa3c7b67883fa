"""Function words of a query's language, dropped from the query in every field.

English "the" is common in English but rare inside Vietnamese or Thai text,
where it would get a high IDF and drag in the wrong language's documents; so
the stopwords of the language the query is written in are removed from the
query for all fields. Lists are short and curated: question words and
grammatical particles only (pythainlp's 1,000-word Thai list contains content
words such as กลุ่ม, กำหนด).
"""
from whoosh.lang.stopwords import stoplists

QUERY_STOPWORDS: dict[str, frozenset[str]] = {
    "en": frozenset(stoplists["en"]) | frozenset(
        "what which who whom whose when where why how many much did does do was were is are "
        "has have had".split()),
    "th": frozenset("""
        ที่ ของ และ ใน การ ความ เป็น มี ได้ ให้ จะ ไป มา ว่า ซึ่ง กับ แล้ว นี้ นั้น อยู่ คือ โดย หรือ แต่ ก็
        ยัง ไม่ ถูก เพื่อ จาก ถึง อะไร ไหน ใคร เมื่อไร เมื่อไหร่ เท่าไร เท่าไหร่ อย่างไร ยังไง ทำไม กี่
        ใด บ้าง หรือไม่ ไหม หรือเปล่า ที่ไหน แห่ง ๆ
    """.split()),
    "zh": frozenset("""
        的 了 是 在 和 与 及 也 都 就 而 被 把 对 从 以 为 有 这 那 之 于 个 吗 呢 吧
        什么 多少 哪 哪个 哪些 哪里 谁 何 如何 怎么 怎样 为什么 几 是否
    """.split()),
    "vi": frozenset("""
        của và các những một là được có trong cho với này đó khi thì mà để ở từ ra vào
        nào gì bao nhiêu ai đâu sao không đã đang sẽ bị như thế về
    """.split()),
    "ar": frozenset("""
        ما ماذا متى اين أين كيف كم لماذا هل من في على الى إلى عن مع هذا هذه ذلك التي الذي
    """.split()),
}


def query_stopwords(lang: str | None) -> frozenset[str]:
    return QUERY_STOPWORDS.get(lang or "", frozenset())
