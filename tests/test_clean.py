"""indexer.clean on the five real scraped seeds and on small synthetic pages."""
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from indexer.clean import clean_article, find_date, parse_date, title_from_body

SEEDS = Path(__file__).resolve().parent.parent / "corpus"


def split_seed(text: str) -> tuple[str, str]:
    """Title = first non-empty line, body = the rest (as read_corpus does)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip())
    return lines[start].strip(), "\n".join(lines[start + 1:])


def seed_text(stem: str) -> str:
    return (SEEDS / f"{stem}.txt").read_text(encoding="utf-8")


def clean_seed(stem: str, drop_lines: set[str] = frozenset()):
    text = "\n".join(line for line in seed_text(stem).splitlines() if line.strip() not in drop_lines)
    return clean_article(*split_seed(text))


# Start, middle and end of the real article text of each seed.
GENUINE = {
    "000_c67f822c665e0ab4": [
        "จากแนวทาง “เป็นฝ่ายรุก",
        "พิธีปิดงานวัฒนธรรมเขตปกครองตนเอง Nenetskiy",                     # photo caption
        "คณะกรรมการประชาชนจังหวัดบ่าเหรีย-หวุงเต่าและทางการสาธารณรัฐบัชคอร์โตสถาน",
        "ปกป้องผลประโยชน์ของจังหวัด.",
    ],
    "001_3a83ca2a18d3b337": [
        "ในหลายปีที่ผ่านมา จังหวัดด่งนายได้ปฏิบัตินโยบาย",
        "จังหวัดด่งนาย (Photo VGP)",
        "ในความเป็นจริง ในหลายปีมานี้",
        "เพื่อมีส่วนร่วมพัฒนาประเทศ.",
    ],
    "002_c38fe071c0a58947": [
        "2018年-2023年任期内,海防市友好组织联合会积极开展和平团结友谊活动",
        "发展深入务实的友好关系",
        "由海防市外务厅、教育培训厅和海防市联合会配合举办的第十届海防英语大赛决赛",
        "关于外国非政府援助动员工作",
        "保障国防和城市安全做出了贡献。”",
    ],
    "003_3b6ac94297977e52": [
        "أصدرت اللجنة الشعبية لمقاطعة ها تينه مؤخرًا",
        "تدعم منطقة هونغ كي منطقة نا كاي (لاوس) في بناء نموذج اقتصادي.",
        "تعزيز تعبئة الموارد الدولية والاستفادة منها",
        "لمعرفة تفاصيل الخطة، يرجى الاطلاع هنا.",
    ],
    "004_e47e9f12b4aac0de": [
        "ตามการประเมินของคณะกรรมการประชาชนจังหวัด",
        "Tran Khanh Thuc",
        "Nghe An - US Investment Connection",
        "กิจกรรมการทูตระหว่างประชาชนยังคงดำเนินไปอย่างมีประสิทธิภาพ",
    ],
}


@pytest.mark.parametrize("stem", sorted(GENUINE))
def test_seed_keeps_genuine_article_text(stem):
    body = clean_seed(stem).body
    for sentence in GENUINE[stem]:
        assert sentence in body, sentence


@pytest.mark.parametrize("stem", sorted(GENUINE))
def test_seed_body_shrinks_but_stays_substantial(stem):
    raw = split_seed(seed_text(stem))[1]
    body = clean_seed(stem).body
    assert len(raw) * 0.5 < len(body) < len(raw)


def test_seed_004_footer_banners_trailer_and_chrome_removed():
    cleaned = clean_seed("004_e47e9f12b4aac0de")
    body = cleaned.body
    assert "Agribank" not in body and "Banner" not in body
    for noise in ("ศิลปินแห่งชาติ Xuan Bac", "ร้านกาแฟฮานอย", "หัวข้อเดียวกัน", "แหล่งที่มา",
                  "การแสดงความคิดเห็น", "กรุณาแสดงความคิดเห็น", "bna_", ".jpg", "Việt NamViệt Nam"):
        assert noise not in body, noise
    assert not {"มรดก", "รูป", "ธุรกิจ", "ท้องถิ่น"} & set(body.splitlines())


def test_seed_004_site_banner_title_replaced_by_real_title():
    cleaned = clean_seed("004_e47e9f12b4aac0de")
    assert cleaned.title == "งานต่างประเทศของจังหวัดเหงะอานในปี 2566 มีชีวิตชีวาและมีประสิทธิผล"
    assert cleaned.title not in cleaned.body                 # title repeated in the body is dropped
    assert cleaned.source == "Vietnam.vn"
    assert cleaned.date == "2023-11-27"


def test_seed_002_related_headlines_cut_top_and_bottom():
    body = clean_seed("002_c38fe071c0a58947").body
    for related in ("推动越中立法机构合作", "不断推进越南国会与中国全国人大之间的合作关系",
                    "维克托·彼得罗夫", "中国—东盟AI+文旅创新大赛河内落幕", "8月21日,越共中央委员",
                    "相关新闻", "查看更多",
                    "加强越南与尼泊尔民间外交的多项建议", "越南友好组织联合会为南部地区教师",   # top links
                    "年轻人需要发挥新时代", "这是由越南友好组织联合会胡志明共青团",               # doubled teaser
                    "向巴西、玻利维亚三位友人颁发", "3月15日,在首都巴西利亚"):
        assert related not in body, related


def test_seed_002_duplicated_captions_kept_once_and_date_read():
    cleaned = clean_seed("002_c38fe071c0a58947")
    assert cleaned.body.count("由海防市外务厅、教育培训厅和海防市联合会配合举办的第十届海防英语大赛决赛") == 1
    assert cleaned.body.count("2024年老挝传统新年(Bunpimay)之际") == 1
    assert cleaned.date == "2024-05-27"
    assert "13:00" not in cleaned.body


def test_seed_000_widgets_photo_alt_and_agency_tag():
    cleaned = clean_seed("000_c67f822c665e0ab4")
    assert cleaned.source == "VOVWORLD" and cleaned.date is None
    for noise in ("Chia sẻ", "คำติชม", "ảnh 1", "(VOVWORLD)", cleaned.title):
        assert noise not in cleaned.body, noise
    assert "CTV" not in cleaned.body.splitlines()
    assert cleaned.body.startswith("จากแนวทาง")                # agency prefix stripped, sentence kept


def test_seed_001_related_heading_and_crumbs_removed():
    cleaned = clean_seed("001_3a83ca2a18d3b337")
    for noise in ("ข่าวที่เกี่ยวข้อง", "คำติชม", "ข่าวอื่นในหมวด", "ảnh 1"):
        assert noise not in cleaned.body
    assert cleaned.source == "VOVWORLD"


def test_seed_003_arabic_footer_removed_and_no_date_invented():
    cleaned = clean_seed("003_3b6ac94297977e52")
    lines = cleaned.body.splitlines()
    assert "تعليق (0)" not in cleaned.body
    assert "مصدر" not in lines and "دونغ تشين" not in lines
    # "16 أكتوبر/تشرين الأول 2023" inside the text is the date of a plan, not of the article.
    assert cleaned.date is None and cleaned.source is None


def test_seed_trailers_are_cut_without_the_heading_markers():
    """The generic rules (trailing headline runs, headline/summary teasers)
    still find the trailers when the related-news headings are missing."""
    body_002 = clean_seed("002_c38fe071c0a58947", {"相关新闻", "查看更多"}).body
    assert "推动越中立法机构合作" not in body_002 and "中国—东盟" not in body_002
    assert "保障国防和城市安全做出了贡献" in body_002
    body_004 = clean_seed("004_e47e9f12b4aac0de", {
        "หัวข้อเดียวกัน", "หมวดหมู่เดียวกัน", "ผู้เขียนเดียวกัน", "การแสดงความคิดเห็น (0)"}).body
    for related in ("Xuan Bac", "มหาวิหารนอเทรอดาม", "หลังพายุและน้ำท่วม", "ร้านกาแฟฮานอย", "Agribank"):
        assert related not in body_004, related
    assert "กิจกรรมการทูตระหว่างประชาชนยังคงดำเนินไปอย่างมีประสิทธิภาพ" in body_004


# ------------------------------------------------------------ synthetic

PARA = ("The provincial council approved the new budget on Monday after a long debate. "
        "Officials said the money would go to schools, roads and clinics in rural districts.")
PARA2 = ("Opposition members argued that the plan ignored the coastal towns, which were hit "
         "hardest by last year's floods, and asked for a second reading next month.")


def body_of(*lines: str, title: str = "Council approves budget") -> str:
    return clean_article(title, "\n".join(lines)).body


def test_repeated_line_kept_once_and_title_repeat_dropped():
    body = body_of("Council approves budget", PARA, "A caption under the photo.",
                   "A caption under the photo.", PARA2)
    assert body.count("A caption under the photo.") == 1
    assert "Council approves budget" not in body
    assert PARA in body and PARA2 in body


def test_lines_repeated_many_times_are_boilerplate():
    body = body_of(PARA, "Subscribe to our newsletter", PARA2, "Subscribe to our newsletter",
                   "Subscribe to our newsletter")
    assert "Subscribe" not in body and PARA2 in body


@pytest.mark.parametrize("banner", ["Footer Banner Agribank", "Advertisement", "Quảng cáo", "广告",
                                    "header_banner_2", "Sponsored content"])
def test_banner_and_ad_lines_removed(banner):
    assert banner not in body_of(PARA, banner, PARA2)


@pytest.mark.parametrize("crumb", [
    "Chia sẻ", "คำติชม", "Bình luận (0)", "تعليق (0)", "Share", "Comment", "查看更多", "ข่าวอื่นในหมวด",
    "ผู้เขียนเดียวกัน", "مصدر", "Comments (12)", "In bài", "分享", "Nguồn", "Photo: Reuters"])
def test_widget_and_ui_crumbs_removed(crumb):
    for lines in ([crumb, PARA, PARA2], [PARA, PARA2, crumb]):      # header and footer
        body = body_of(*lines)
        assert crumb not in body.splitlines() and PARA in body and PARA2 in body


@pytest.mark.parametrize("crumb", ["Chia sẻ", "Share", "In bài", "分享", "مصدر", "Photo: Reuters",
                                   "แชร์", "Tweet"])
def test_widget_crumbs_inside_the_text_removed(crumb):
    body = body_of(PARA, crumb, PARA2)
    assert body.splitlines() == [PARA, PARA2]


@pytest.mark.parametrize("heading", [
    "相关新闻", "ข่าวที่เกี่ยวข้อง", "أخبار ذات صلة", "Tin liên quan", "Related news", "Related articles",
    "Xem thêm", "相关阅读", "Bài liên quan", "Read more", "Read more:", "RELATED STORIES", "اقرأ أيضاً"])
def test_related_news_heading_cuts_the_headline_list(heading):
    headlines = ["Floods close two highways in the north", "Minister visits new port project",
                 "Rice exports rise for the third month"]
    body = body_of(PARA, PARA2, heading, *headlines)
    assert PARA in body and PARA2 in body
    assert heading not in body and not any(h in body for h in headlines)


def test_related_heading_cuts_headline_summary_pairs_after_the_article():
    teaser = "Province signs trade deal with Laos"
    summary = "The agreement covers rice, timber and electricity and runs for five years."
    body = body_of(PARA, PARA2, PARA + " More.", "Related news", teaser, teaser, summary, teaser + "s",
                   teaser + "s", summary + " Again.")
    assert teaser not in body and "agreement" not in body and PARA2 in body


def test_related_box_inside_the_article_only_removes_the_box():
    long_para = PARA + " " + PARA2
    body = body_of(long_para, "Xem thêm", "Floods close two highways in the north",
                   "Minister visits new port project", long_para.replace("council", "assembly"),
                   long_para.replace("council", "committee"), long_para.replace("council", "board"))
    assert "Floods close" not in body and "Xem thêm" not in body
    assert "The provincial board approved" in body            # article text after the box stays


def test_inline_read_more_link_line_removed():
    body = body_of(PARA, "Xem thêm: Giá vàng hôm nay tăng mạnh", "Read more: Floods hit the coast",
                   PARA2)
    assert "Giá vàng" not in body and "Floods hit" not in body and PARA2 in body


def test_doubled_headline_teaser_and_cjk_headline_list_removed():
    lede = "海防市友好组织联合会积极开展和平团结友谊活动,为海防市的社会经济发展做出了贡献。"
    links = "加强越南与尼泊尔民间外交的多项建议 越南友好组织联合会为南部地区教师提供知识"
    doubled = "年轻人需要发挥新时代的特色 年轻人需要发挥新时代的特色"
    summary = "这是由共青团执委会于4月2日在河内配合举办的座谈会的精神。"
    rest = "联合会及其成员协会的许多民间外交活动侧重于激发国内企业界的资源。"
    body = clean_article("标题", "\n".join([lede, links, rest, doubled, summary, rest + "再次"])).body
    assert lede in body and rest in body
    assert "尼泊尔" not in body and "年轻人" not in body and "座谈会" not in body


def test_photo_alt_prefix_and_image_file_names_removed():
    title = "Council approves budget"
    body = body_of(PARA, f"{title} - ảnh 1Councillors vote in the main hall", "IMG_0042.JPG", PARA2,
                   title=title)
    assert "Councillors vote in the main hall" in body
    assert "ảnh 1" not in body and "IMG_0042" not in body


def test_trailing_short_lines_after_the_article_cut():
    body = body_of(PARA, PARA2, "Heritage", "Business", "Local news today", "John Smith")
    assert body.splitlines() == [PARA, PARA2]


def test_short_final_line_that_is_a_sentence_is_kept():
    assert body_of(PARA, PARA2, "The vote passed 31 to 9.").endswith("The vote passed 31 to 9.")


# ------------------------------------------------------------------ dates

@pytest.mark.parametrize("text, iso", [
    ("27/05/2024", "2024-05-27"),
    ("13:00 | 27/05/2024", "2024-05-27"),
    ("Việt NamViệt Nam27/11/2023", "2023-11-27"),
    ("2024-05-27", "2024-05-27"),
    ("Published 2024-05-27T08:30:00Z", "2024-05-27"),
    ("27 พฤศจิกายน 2566", "2023-11-27"),
    ("27 พฤศจิกายน พ.ศ. 2566", "2023-11-27"),
    ("วันที่ 27 พ.ย. 2566", "2023-11-27"),
    ("27/11/2566", "2023-11-27"),
    ("2024年5月27日 10:00", "2024-05-27"),
    ("２０２４年５月２７日", "2024-05-27"),
    ("Hà Nội, ngày 27 tháng 5 năm 2024", "2024-05-27"),
    ("Thứ Hai, 27/5/2024, 08:00 (GMT+7)", "2024-05-27"),
    ("الاثنين 27 مايو 2024", "2024-05-27"),
    ("16 أكتوبر/تشرين الأول 2023", "2023-10-16"),
    ("٢٧ أيار ٢٠٢٤", "2024-05-27"),
    ("May 27, 2024", "2024-05-27"),
    ("27 May 2024", "2024-05-27"),
    ("12/31/2024", "2024-12-31"),
])
def test_parse_date_formats(text, iso):
    assert parse_date(text) == iso


@pytest.mark.parametrize("text", ["2024", "พ.ศ. 2566", "ปี 2566", "(أكتوبر 2023)", "31/02/2024",
                                  "tháng 5 năm 2024", "version 1.2.3", "call 0912/345/678"])
def test_parse_date_needs_a_full_valid_date(text):
    assert parse_date(text) is None


def test_header_date_preferred_over_dates_in_the_text():
    lines = ["27/05/2024", "On 3 March 2020 the first plan was adopted, " + PARA]
    assert find_date(lines) == "2024-05-27"
    assert find_date(lines[1:]) is None                        # a date inside prose is not the date
    assert find_date(["27/05/2024 - HANOI: " + PARA]) == "2024-05-27"   # dateline


def test_date_line_removed_from_header_but_not_from_text():
    sentence = "The plan adopted on 16/10/2023 set six priorities for the province."
    cleaned = clean_article("Title", "\n".join(["Cập nhật: 27/05/2024 10:00", PARA, sentence]))
    assert cleaned.date == "2024-05-27"
    assert "Cập nhật" not in cleaned.body and sentence in cleaned.body


# ---------------------------------------------------------------- sources

@pytest.mark.parametrize("line, source", [
    ("Nguồn: VnExpress", "VnExpress"), ("Source: Reuters", "Reuters"), ("来源：新华社", "新华社"),
    ("ที่มา: Thai PBS", "Thai PBS"), ("المصدر: وكالة الأنباء", "وكالة الأنباء"),
])
def test_labelled_source_line_read_and_removed(line, source):
    for lines in ([line, PARA, PARA2], [PARA, PARA2, line]):
        cleaned = clean_article("Title", "\n".join(lines))
        assert cleaned.source == source and line not in cleaned.body and PARA2 in cleaned.body


def test_agency_tag_source_keeps_the_sentence():
    cleaned = clean_article("Title", "HANOI (VNA) – " + PARA)
    assert cleaned.source == "VNA" and cleaned.body == PARA


def test_source_word_inside_a_sentence_is_kept():
    sentence = ("Source: a senior official, who asked not to be named, said the talks had "
                "stalled for weeks because of the dispute over fishing rights.")
    cleaned = clean_article("Title", "\n".join([PARA, sentence]))
    assert sentence in cleaned.body


def test_domain_banner_line_in_header_is_source():
    cleaned = clean_article("Budget passed", "\n".join(["baomoi.com | Tin tức", PARA]))
    assert cleaned.source == "baomoi.com" and "baomoi" not in cleaned.body


# --------------------------------------------------------------- fallback

def test_never_returns_empty_body_for_real_text():
    assert clean_article("Share", "Share\nComment\nShare").body
    assert clean_article("T", "Related news\nHeadline one\nHeadline two").body
    assert clean_article("T", "").body == "" and clean_article("T", " \n\t").body == ""


def test_title_from_body():
    assert title_from_body("Short first sentence here. Second one.") == "Short first sentence here."
    long = "word " * 60
    title = title_from_body(long)
    assert title.endswith("…") and len(title) <= 101 and " wor…" not in title
    cjk = "黑" * 300
    assert title_from_body(cjk) == "黑" * 100 + "…"
    assert title_from_body("\n\n  Headline line  \nbody") == "Headline line"


NOISY_LINES = st.sampled_from([
    "Share", "Bình luận (0)", "相关新闻", "Footer Banner X", "27/05/2024", "(VOVWORLD) -", "Nguồn: X",
    "a - ảnh 1b", "x.jpg", "H H", "标题 标题", "", " ", "\u00a0", "\r", PARA, "ข่าวที่เกี่ยวข้อง",
])


@settings(max_examples=300, deadline=None)
@given(title=st.text(max_size=50),
       lines=st.lists(st.one_of(st.text(max_size=80), NOISY_LINES), max_size=30),
       sep=st.sampled_from(["\n", "\r\n", "\u2028", "\n\n"]))
def test_clean_article_never_raises_nor_grows(title, lines, sep):
    raw = sep.join(lines)
    cleaned = clean_article(title, raw)
    assert len(cleaned.body) <= len(raw)
    assert cleaned.date is None or len(cleaned.date) == 10
    if raw.strip():
        assert cleaned.body.strip()
