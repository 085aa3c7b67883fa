"""Remove scraped page chrome from news articles in any language.

    clean_article(title, raw_body) -> CleanedArticle(title, body, date, source)

The body is handled as a list of lines (blank lines dropped; the result has
one paragraph per line). Rules run in this order, and a rule that would leave
nothing is skipped, so a real article never comes back empty:

1. image chrome: bare file names ("bna_IMG_1853.jpg") and alt text glued in
   front of captions ("<title> - ảnh 1<caption>" keeps only the caption).
2. trailer: a standalone "related news" / "comments (0)" heading in the second
   half of the text cuts everything after it; an earlier one (a box inside the
   article) takes only itself and the headline-like lines under it.
3. boilerplate: banner/ad lines, lines occurring 3+ times, share/comment/print
   widgets and other UI crumbs, bare "Source" labels, "Source: X" and
   "Photo: X" lines, inline "Read more: <headline>" links.
4. related teasers: a headline doubled on one line ("H H") plus its summary,
   CJK lines made of several space-separated headlines, and a trailing run of
   (headline, same headline, summary) items.
5. repeats: a line equal to an earlier line, or to the title, is kept once.
6. header chrome: before the first prose paragraph, date lines, domain
   banners, "(AGENCY)" lines and short bylines; an "(AGENCY) -" prefix on the
   first paragraph is stripped but the sentence kept.
7. trailing headlines: short lines without sentence punctuation after the
   last prose paragraph (headline lists, category names, author names).

Date and source come from the header area of the raw text (find_date,
find_source); a date mentioned inside the article text is not a publication
date and is not used, nor is a bare year.
"""
import unicodedata
from collections import Counter
from dataclasses import dataclass
from datetime import date as Date

import regex

from analyzers.normalize import fold_diacritics, normalize_arabic


@dataclass(frozen=True)
class CleanedArticle:
    title: str            # may differ from the input when that was a site banner
    body: str
    date: str | None      # ISO YYYY-MM-DD
    source: str | None    # publisher, e.g. "VOVWORLD", "Vietnam.vn"


# ---------------------------------------------------------------- line keys

_EDGE_JUNK = regex.compile(r"^[\p{P}\p{S}\p{Z}\s]+|[\p{P}\p{S}\p{Z}\s]+$")
_SPACES = regex.compile(r"[\p{Z}\s]+")


def line_key(text: str) -> str:
    """Comparison form: case, accents, Arabic letter variants, spacing and
    surrounding punctuation do not matter ("Chia sẻ:" == "chia se")."""
    text = normalize_arabic(fold_diacritics(unicodedata.normalize("NFKC", text)))
    return _EDGE_JUNK.sub("", _SPACES.sub(" ", text.casefold()))


def _keys(*phrases: str) -> frozenset[str]:
    return frozenset(line_key(p) for p in phrases)


# Headings that start a "related / more news" block or the comments section.
MARKERS = _keys(
    "related news", "related articles", "related stories", "related posts", "related content",
    "read more", "read also", "also read", "see more", "see also", "more news", "more stories",
    "you may also like", "you might also like", "recommended", "recommended for you",
    "most read", "most popular", "latest news", "other news", "more from this section",
    "same category", "same topic", "same author", "comments", "leave a comment",
    "tin liên quan", "bài liên quan", "bài viết liên quan", "tin tức liên quan", "xem thêm",
    "đọc thêm", "tin cùng chuyên mục", "cùng chuyên mục", "cùng chủ đề", "cùng tác giả",
    "tin khác", "tin mới", "tin mới nhất", "tin nổi bật", "có thể bạn quan tâm", "bình luận",
    "ข่าวที่เกี่ยวข้อง", "ข่าวอื่นในหมวด", "ข่าวอื่นๆ", "ข่าวล่าสุด", "อ่านเพิ่มเติม", "ดูเพิ่มเติม",
    "บทความที่เกี่ยวข้อง", "เรื่องที่เกี่ยวข้อง", "ข่าวแนะนำ", "หัวข้อเดียวกัน", "หมวดหมู่เดียวกัน",
    "ผู้เขียนเดียวกัน", "การแสดงความคิดเห็น", "ความคิดเห็น", "คำติชม",
    "相关新闻", "相關新聞", "相关阅读", "相關閱讀", "相关文章", "相关报道", "延伸阅读", "延伸閱讀",
    "查看更多", "更多新闻", "推荐阅读", "热门新闻", "猜你喜欢", "其他新闻", "最新新闻", "评论",
    "関連記事", "관련 기사", "관련기사",
    "أخبار ذات صلة", "مقالات ذات صلة", "مواضيع ذات صلة", "أخبار متعلقة", "اقرأ أيضا",
    "اقرأ المزيد", "المزيد من الأخبار", "الأكثر قراءة", "أخبار أخرى", "تعليقات", "تعليق",
    "berita terkait", "baca juga", "lire aussi", "à lire aussi", "articles connexes",
    "noticias relacionadas", "lea también", "mehr zum thema", "читайте также", "похожие новости",
)

# Standalone widget labels and UI crumbs, dropped wherever they appear.
CRUMBS = MARKERS | _keys(
    "share", "share this", "share this article", "shares", "comment", "print", "email", "tweet",
    "like", "follow us", "back to top", "home", "tags", "source", "advertisement", "sponsored",
    "chia sẻ", "in bài", "in bài viết", "gửi bài", "theo dõi", "trang chủ", "quảng cáo", "nguồn",
    "lượt xem", "cỡ chữ", "lưu", "hãy bình luận để chia sẻ cảm xúc của bạn",
    "คำติชม", "แชร์", "แบ่งปัน", "หน้าแรก", "โฆษณา", "ที่มา", "แหล่งที่มา", "แท็ก",
    "กรุณาแสดงความคิดเห็นเพื่อแบ่งปันความรู้สึกของคุณ",
    "分享", "打印", "收藏", "点赞", "返回顶部", "首页", "广告", "来源", "來源", "责任编辑",
    "新闻", "更多", "标签",
    "مشاركة", "شارك", "طباعة", "الرئيسية", "إعلان", "مصدر", "المصدر", "أضف تعليق",
)

_MARKER_WORDS = "|".join(sorted(
    (regex.escape(m) for m in MARKERS if len(m) > 3), key=len, reverse=True))
# "Xem thêm: <headline>" — a link to another story on one line.
_INLINE_LINK = regex.compile(rf"^(?:{_MARKER_WORDS})\s*[:：>»-]\s*\S")
# Widget labels with a counter: "Bình luận (0)", "تعليق (0)", "Comments 12".
_COUNTED = "|".join(regex.escape(line_key(w)) for w in (
    "comment", "comments", "bình luận", "ý kiến", "ความคิดเห็น", "การแสดงความคิดเห็น", "คำติชม",
    "تعليق", "تعليقات", "评论", "留言", "like", "likes", "share", "shares", "views", "lượt xem"))
_COMMENT_COUNT = regex.compile(rf"^(?:{_COUNTED})\s*[(\[（]?\s*\d+\s*[)\]）]?$")
_BANNER = regex.compile(
    r"(?<![a-z])(?:footer|header|sidebar|top|bottom|home|ads?)[ _-]*banner(?![a-z])|^banner(?![a-z])|"
    r"^(?:advertisement|advertising|sponsored(?: content)?|ads? by \S+|quảng cáo|โฆษณา|广告|إعلان)$")
_IMAGE_FILE = regex.compile(r"^[\w .()\-]{1,150}\.(?:jpe?g|png|gif|webp|bmp|svg|tiff?|avif)$",
                            regex.IGNORECASE)
# "<alt text> - ảnh 1<caption>": the alt text (usually the title) goes.
_PHOTO_ALT = regex.compile(
    r"^.{0,300}?\s[-–]\s(?:ảnh|hình|photo|image|ภาพ(?:ที่)?|รูป(?:ที่)?|图片?|صورة)\s?\d{1,3}(?!\d)\s*",
    regex.IGNORECASE)
_PHOTO_CREDIT = regex.compile(
    r"^(?:ảnh|photo|photos|image|ภาพ(?:โดย|ประกอบ)?|图片?|摄影|صورة|تصوير)\s*[:：]\s*.{1,60}$",
    regex.IGNORECASE)

# ------------------------------------------------------------------ prose

_TERMINAL = regex.compile(r"[.!?。！？؟…।]\s*[\"'”’»」』)）\]]*$")
_CJK = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}]")


def _is_prose(line: str) -> bool:
    """A paragraph of article text rather than a heading, label or link."""
    return len(line) >= 120 or (len(line) >= 20 and bool(_TERMINAL.search(line)))


def _headline_like(line: str, limit: int = 120) -> bool:
    return len(line) <= limit and not _TERMINAL.search(line)


def _chars(lines: list[str]) -> int:
    return sum(len(line) for line in lines)


# ---------------------------------------------------------------- dates

_MONTHS = {
    **{m: i for i, m in enumerate(
        "january february march april may june july august september october november december"
        .split(), 1)},
    **{m: i for i, m in enumerate(
        "jan feb mar apr may jun jul aug sep oct nov dec".split(), 1)}, "sept": 9,
    **{m: i for i, m in enumerate(
        "มกราคม กุมภาพันธ์ มีนาคม เมษายน พฤษภาคม มิถุนายน กรกฎาคม สิงหาคม กันยายน ตุลาคม "
        "พฤศจิกายน ธันวาคม".split(), 1)},
    **{m: i for i, m in enumerate(
        "ม.ค. ก.พ. มี.ค. เม.ย. พ.ค. มิ.ย. ก.ค. ส.ค. ก.ย. ต.ค. พ.ย. ธ.ค.".split(), 1)},
    **{m: i for i, m in enumerate(
        "يناير فبراير مارس أبريل مايو يونيو يوليو أغسطس سبتمبر أكتوبر نوفمبر ديسمبر".split(), 1)},
    "ابريل": 4, "إبريل": 4, "اكتوبر": 10, "اغسطس": 8, "يونيه": 6, "يوليه": 7,
    **{m: i for i, m in enumerate(
        ["كانون الثاني", "شباط", "آذار", "نيسان", "أيار", "حزيران", "تموز", "آب", "أيلول",
         "تشرين الأول", "تشرين الثاني", "كانون الأول"], 1)},
}
_MONTH = "|".join(regex.escape(m) for m in sorted(_MONTHS, key=len, reverse=True))
_ERA = r"(?:(?:พ\.ศ\.|ค\.ศ\.)\s*)?"
# Each pattern yields named groups d, m (number or name) and y.
_DATE_PATTERNS = [
    regex.compile(r"(?<!\d)(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})(?!\d)"),
    regex.compile(r"(?<!\d)(?P<d>\d{1,2})[-/.](?P<m>\d{1,2})[-/.](?P<y>\d{4})(?!\d)"),
    regex.compile(r"(?P<y>\d{4})\s*[年년]\s*(?P<m>\d{1,2})\s*[月월]\s*(?P<d>\d{1,2})"),
    regex.compile(r"(?:ngày\s*)?(?<!\d)(?P<d>\d{1,2})\s*tháng\s*(?P<m>\d{1,2})\s*(?:năm|,)?\s*(?P<y>\d{4})"),
    regex.compile(rf"(?<!\d)(?P<d>\d{{1,2}})\s*(?P<m>{_MONTH})(?:\s*/\s*(?:{_MONTH}))?,?\s*{_ERA}(?P<y>\d{{4}})(?!\d)"),
    regex.compile(rf"(?<!\w)(?P<m>{_MONTH})\.?\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y>\d{{4}})(?!\d)"),
]
_TIME = regex.compile(r"\d{1,2}[:h]\d{2}(?::\d{2})?\s*(?:am|pm|gmt[+-]?\d*|utc|sa|ch)?")


def _date_match(text: str):
    """Earliest valid date: (iso, start, end, searched text), where the
    searched text is text NFKC-normalised and casefolded; or None."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    best = None
    for pattern in _DATE_PATTERNS:
        for m in pattern.finditer(folded):
            if best and m.start() >= best[1]:
                break
            iso = _to_iso(m["d"], m["m"], m["y"])
            if iso:
                best = (iso, m.start(), m.end(), folded)
                break
    return best


def _to_iso(day: str, month: str, year: str) -> str | None:
    d, y = int(day), int(year)
    m = int(month) if month.isdigit() else _MONTHS.get(month)
    if m is None:
        return None
    if y > 2400:                       # Thai Buddhist era
        y -= 543
    if m > 12 >= d:                    # month/day/year
        d, m = m, d
    try:
        return Date(y, m, d).isoformat() if 1900 <= y <= 2100 else None
    except ValueError:
        return None


def parse_date(text: str) -> str | None:
    """First full date (day, month and year) in text as YYYY-MM-DD."""
    found = _date_match(text)
    return found[0] if found else None


def _is_date_line(line: str) -> bool:
    """A line that is a date plus a little chrome ("13:00 | 27/05/2024")."""
    found = _date_match(line) if len(line) <= 120 else None
    if not found:
        return False
    _, start, end, folded = found
    rest = _TIME.sub("", folded[:start] + folded[end:])
    return len(_EDGE_JUNK.sub("", _SPACES.sub(" ", rest))) <= 30


def _header(lines: list[str], limit: int = 6) -> list[str]:
    """Lines before the first prose paragraph (at most `limit`)."""
    out = []
    for line in lines[:limit]:
        if _is_prose(line):
            break
        out.append(line)
    return out


def _dateline_date(paragraph: str) -> str | None:
    """"27/05/2024 - HANOI: ..." / "HANOI, May 27, 2024 (Reuters) -": a date
    near the start, after nothing but a capitalised place, then a separator.
    "On 3 March 2020 the plan ..." is a date in a sentence and is not used."""
    found = _date_match(paragraph[:60])
    if not found:
        return None
    iso, start, end, folded = found
    prefix = unicodedata.normalize("NFKC", paragraph)[:start]
    after = folded[end:end + 15]
    if start > 40 or any(c.islower() for c in prefix) or not regex.search(r"[-–—:|(,，]", after):
        return None
    return iso


def find_date(lines: list[str]) -> str | None:
    """Publication date from the header lines, else from a dateline opening
    the first paragraph."""
    header = _header(lines)
    for line in header:
        if iso := parse_date(line):
            return iso
    return _dateline_date(lines[len(header)]) if len(header) < len(lines[:6]) else None


# ---------------------------------------------------------------- sources

_AGENCY_PREFIX = regex.compile(
    r"^(?:\p{Lu}[\p{Lu}\p{M} ,.'-]{1,40}\s*)?\((?P<src>\p{Lu}[\p{L}\p{N}&.' -]{1,30})\)\s*[-–—:]\s*")
_AGENCY_LINE = regex.compile(r"^\((?P<src>\p{Lu}[\p{Lu}\p{N}&. -]{1,30})\)$")
_LABELLED_SOURCE = regex.compile(
    r"^(?:source|nguồn|nguồn tin|مصدر|المصدر|ที่มา|แหล่งที่มา|แหล่งข่าว|来源|來源|出处|出處)"
    r"\s*[:：]\s*(?P<src>\S.{0,58})$", regex.IGNORECASE)
_DOMAIN_BANNER = regex.compile(
    r"^(?:www\.)?(?P<src>(?:[\p{L}\p{N}-]+\.)+[a-z]{2,6})(?:\s*[-–—|:·]\s*.{0,80})?$")


def _source_of(line: str) -> str | None:
    for pattern in (_LABELLED_SOURCE, _AGENCY_LINE, _AGENCY_PREFIX, _DOMAIN_BANNER):
        if m := pattern.match(line):
            return m["src"].strip()
    return None


def find_source(lines: list[str]) -> str | None:
    """Publisher from a "Source: X" line anywhere, else from the header:
    "(VOVWORLD) -" agency tag, or a "Vietnam.vn - <tagline>" domain banner."""
    for line in lines:
        if len(line) <= 80 and (m := _LABELLED_SOURCE.match(line)):
            return m["src"].strip()
    for line in lines[:len(_header(lines)) + 1]:
        if src := _source_of(line):
            return src
    return None


# ------------------------------------------------------------------ rules

def _drop_image_chrome(lines: list[str]) -> list[str]:
    out = []
    for line in lines:
        if _IMAGE_FILE.match(line):
            continue
        line = _PHOTO_ALT.sub("", line, count=1).strip()
        if line:
            out.append(line)
    return out


def _is_marker(line: str) -> bool:
    key = line_key(line)
    return key in MARKERS or bool(_COMMENT_COUNT.match(key))


def _cut_trailer(lines: list[str]) -> list[str]:
    total = _chars(lines)
    # Long paragraphs after each position: an article that goes on past a box.
    long_after = [0] * (len(lines) + 1)
    for i in range(len(lines) - 1, -1, -1):
        long_after[i] = long_after[i + 1] + (len(lines[i]) >= 250)
    out, kept_chars, has_prose, i = [], 0, False, 0
    while i < len(lines):
        if not _is_marker(lines[i]):
            out.append(lines[i])
            kept_chars += len(lines[i])
            has_prose = has_prose or _is_prose(lines[i])
            i += 1
            continue
        if kept_chars >= total / 2 and long_after[i + 1] < 2 and has_prose:
            return out
        i += 1                         # a box inside the article: heading + its headlines
        while i < len(lines) and _headline_like(lines[i]) and not _is_marker(lines[i]):
            i += 1
    return out


def _is_boilerplate(line: str, key: str, repeats: Counter) -> bool:
    if key in CRUMBS or _COMMENT_COUNT.match(key) or _BANNER.search(line.casefold()):
        return True
    if repeats[key] >= 3 and len(line) <= 200:       # footers, banners, nav repeated on the page
        return True
    if len(line) <= 80 and (_LABELLED_SOURCE.match(line) or _PHOTO_CREDIT.match(line)):
        return True
    return len(line) <= 200 and bool(_INLINE_LINK.match(key)) and not _TERMINAL.search(line)


def _drop_boilerplate(lines: list[str]) -> list[str]:
    keys = [line_key(line) for line in lines]
    repeats = Counter(keys)
    return [line for line, key in zip(lines, keys) if not _is_boilerplate(line, key, repeats)]


def _doubled(line: str) -> bool:
    """'H H': a teaser's link text followed by its title attribute."""
    text = _SPACES.sub(" ", line)
    half = len(text) // 2
    return len(text) >= 17 and len(text) % 2 == 1 and text[half] == " " and text[:half] == text[half + 1:]


def _headline_list(line: str) -> bool:
    """CJK text has no spaces between words, so several long space-separated
    runs without any sentence punctuation are headlines laid side by side."""
    if regex.search(r"[。！？；.!?;]", line) or len(_CJK.findall(line)) < 0.6 * len(line.replace(" ", "")):
        return False
    parts = line.split()
    return len(parts) >= 2 and all(len(_CJK.findall(p)) >= 6 for p in parts)


def _drop_related_teasers(lines: list[str]) -> list[str]:
    out, i = [], 0
    while i < len(lines):
        if _doubled(lines[i]):
            nxt = lines[i + 1] if i + 1 < len(lines) else ""
            i += 2 if nxt and len(nxt) <= 300 and not _doubled(nxt) else 1
        else:
            out.append(lines[i])
            i += 1
    return [line for line in _cut_teaser_run(out) if not _headline_list(line)]


def _cut_teaser_run(lines: list[str]) -> list[str]:
    """Cut a trailing run of 2+ teasers: headline, the same headline, summary."""
    end, items, k = len(lines), 0, line_key
    while end >= 2:
        if end >= 3 and k(lines[end - 3]) == k(lines[end - 2]) and _headline_like(lines[end - 3]) \
                and len(lines[end - 1]) <= 300:
            end -= 3
        elif k(lines[end - 2]) == k(lines[end - 1]) and _headline_like(lines[end - 1]):
            end -= 2
        else:
            break
        items += 1
    return lines[:end] if items >= 2 else lines


def _drop_repeats(lines: list[str], title: str) -> list[str]:
    seen = {line_key(title)} if title else set()
    out = []
    for line in lines:
        key = line_key(line)
        if key and key not in seen:
            seen.add(key)
            out.append(line)
    return out


def _strip_header_chrome(lines: list[str]) -> list[str]:
    header = _header(lines)
    kept = [line for line in header
            if not (_is_date_line(line) or _source_of(line) or len(line) <= 30)]
    rest = lines[len(header):]
    if rest and (m := _AGENCY_PREFIX.match(rest[0])) and len(rest[0]) > m.end():
        rest = [rest[0][m.end():]] + rest[1:]
    return kept + rest


def _cut_trailing_headlines(lines: list[str]) -> list[str]:
    prose = sorted(len(line) for line in lines if _is_prose(line))
    if not prose:
        return lines
    # "Short" is relative: Thai headlines run to ~120 chars, Chinese ones ~30.
    limit = min(150, max(40, prose[len(prose) // 2] // 2))
    end = len(lines)
    while end > 0 and _headline_like(lines[end - 1], limit) and not _is_prose(lines[end - 1]):
        end -= 1
    run = lines[end:]
    if not any(map(_is_prose, lines[:end])):
        return lines
    return lines[:end] if len(run) >= 2 or (run and len(run[0]) <= 40) else lines


# ------------------------------------------------------------------ API

def _split_lines(text: str) -> list[str]:
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    return [line for line in lines if line]


def _fix_banner_title(title: str, lines: list[str]) -> tuple[str, str | None]:
    """A scraped "title" that is the site banner ("Vietnam.vn - Nền tảng …")
    or a widget label ("Share"): the real title is the next headline, and a
    banner's domain is the source."""
    m = _DOMAIN_BANNER.match(title)
    if not m and line_key(title) not in CRUMBS:
        return title, None
    source = m["src"] if m else None
    for line in lines[:4]:
        if len(line) <= 200 and not (_is_date_line(line) or _source_of(line)
                                     or line_key(line) in CRUMBS or _is_marker(line)):
            return line, source
    return title, source


def clean_article(title: str, raw_body: str) -> CleanedArticle:
    """Clean one scraped article; see the module docstring for the rules.

    The returned body is never longer than raw_body, and is empty only when
    raw_body has no text at all.
    """
    title = _SPACES.sub(" ", title or "").strip()
    lines = _split_lines(raw_body or "")
    title, banner_source = _fix_banner_title(title, lines)
    date, source = find_date(lines), find_source(lines) or banner_source
    rules = (_drop_image_chrome, _cut_trailer, _drop_boilerplate, _drop_related_teasers,
             lambda ls: _drop_repeats(ls, title), _strip_header_chrome, _cut_trailing_headlines)
    for rule in rules:
        cleaned = rule(lines)
        if cleaned:                    # never clean an article away entirely
            lines = cleaned
    return CleanedArticle(title=title, body="\n".join(lines), date=date, source=source)


def title_from_body(body: str, max_chars: int = 100) -> str:
    """A title for an untitled record: its first sentence or line, shortened
    at a word boundary (or hard cut for scripts without spaces) with '…'."""
    first = next((line.strip() for line in body.splitlines() if line.strip()), "")
    # "。" always ends a sentence; "." only after a few words ("Dr. Smith", "U.S.").
    m = regex.search(r"[。！？]", first) or regex.search(r"(?<=.{15})[.!?؟](?=\s)", first)
    if m:
        first = first[:m.end()]
    if len(first) <= max_chars:
        return first
    cut = first[:max_chars]
    space = cut.rfind(" ")
    if space >= max_chars // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:-–—،、，") + "…"
