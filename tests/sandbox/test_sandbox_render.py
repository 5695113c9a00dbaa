"""The renderer the web inbox and `groupmsg preview` share: DingTalk's markdown subset, cards, escaping."""

from __future__ import annotations

import re

import pytest

from groupmsg.sandbox.render import conversation_preview, message_html


def msg(kind: str = "text", **fields):
    base = {"kind": kind, "title": None, "text": None, "url": None, "pic": None, "buttons": [], "layout": None,
            "links": [], "image": None, "at": {"mobiles": [], "user_ids": [], "all": False}}
    return {**base, **fields}


def md(text: str, **at) -> str:
    return message_html(msg("markdown", title="t", text=text, at={"mobiles": [], "user_ids": [], "all": False, **at}))


def test_markdown_subset():
    html = md("# H1\n###### H6\n**bold** and *it* and __b2__ and _i2_\n[link](https://x.example/a?b=1&c=2)\n![pic](https://x.example/p.png)")
    assert "<h1>H1</h1>" in html and "<h6>H6</h6>" in html
    assert "<strong>bold</strong>" in html and "<em>it</em>" in html and "<strong>b2</strong>" in html and "<em>i2</em>" in html
    assert '<a href="https://x.example/a?b=1&amp;c=2" target="_blank" rel="noopener noreferrer">link</a>' in html
    assert '<img class="md-img" src="https://x.example/p.png" alt="pic">' in html


def test_lists_quotes_and_line_breaks():
    html = md("- a\n- **b**\n\n3. c\n4. d\n\n> quoted  \nlazy\n\nsoft\nbreak  \nhard\n\nnew para")
    assert "<ul><li>a</li><li><strong>b</strong></li></ul>" in html
    assert '<ol start="3"><li>c</li><li>d</li></ol>' in html
    assert "<blockquote><p>quoted<br>lazy</p></blockquote>" in html
    # a single newline is a soft break (a space), two trailing spaces a hard one, a blank line a paragraph
    assert "<p>soft\nbreak<br>hard</p><p>new para</p>" in html


def test_snake_case_and_arithmetic_are_not_emphasis():
    html = md("run some_var_name now: 2 * 3 * 4")
    assert "<em>" not in html and "some_var_name" in html and "2 * 3 * 4" in html


def test_text_keeps_newlines_and_links_addresses():
    html = message_html(msg("text", text="a\nb https://example.com/x?y=1 c"))
    assert html.startswith('<div class="bubble text">a<br>b <a href="https://example.com/x?y=1"')


@pytest.mark.parametrize("kind", ["text", "markdown"])
def test_mentions_are_highlighted_only_when_the_message_names_them(kind):
    html = message_html(msg(kind, title="t", text="@138 @139 hi", at={"mobiles": ["138"], "user_ids": [], "all": False}))
    assert '<span class="at">@138</span>' in html and '<span class="at">@139</span>' not in html
    everyone = message_html(msg(kind, title="t", text="hi", at={"mobiles": [], "user_ids": [], "all": True}))
    assert '<span class="at">@所有人</span>' in everyone


@pytest.mark.parametrize(
    "payload",
    [
        "<script>window.__xss=1</script>",
        '<img src=x onerror="window.__xss=1">',
        "[click](javascript:alert(1))",
        '![x](" onerror="alert(1))',
        "![x](javascript:alert(1))",
        '<font color="red" onmouseover="alert(1)">x</font>',
        "<a href=javascript:alert(1)>x</a>",
    ],
)
@pytest.mark.parametrize("kind", ["text", "markdown", "action_card"])
def test_nothing_a_sender_writes_becomes_markup(payload, kind):
    html = message_html(msg(kind, title=payload, text=payload, buttons=[{"title": payload, "url": "javascript:x"}], layout="vertical"))
    assert "<script" not in html and "javascript:" not in html.split('href="')[-1].split('"')[0]
    assert not re.search(r"<[^>]+\son\w+=", html), html  # no event-handler attribute in any tag
    assert not re.search(r'href="javascript:', html) and not re.search(r'src="javascript:', html)


def test_link_card():
    html = message_html(msg("link", title="标题", text="正文", url="https://e.example/doc", pic="https://e.example/p.png"))
    assert html.startswith('<a class="card link" href="https://e.example/doc"')
    assert '<div class="link-title">标题</div>' in html and 'src="https://e.example/p.png"' in html


def test_action_card_single_and_multi_both_orientations():
    single = message_html(msg("action_card", title="t", text="**正文**", buttons=[{"title": "查看", "url": "https://e.example/1"}], layout="single"))
    assert '<a class="single" href="https://e.example/1"' in single and "<strong>正文</strong>" in single
    buttons = [{"title": "同意", "url": "https://e.example/yes"}, {"title": "拒绝", "url": "https://e.example/no"}]
    for layout in ("vertical", "horizontal"):
        html = message_html(msg("action_card", title="t", text="x", buttons=buttons, layout=layout))
        assert f'<div class="btns {layout}">' in html
        assert re.findall(r'<a class="btn" href="([^"]+)"[^>]*>([^<]+)</a>', html) == [("https://e.example/yes", "同意"), ("https://e.example/no", "拒绝")]


def test_feed_card_and_image():
    links = [{"title": "头条", "url": "https://e.example/1", "pic": "https://e.example/1.png"}, {"title": "次条", "url": "https://e.example/2", "pic": None}]
    html = message_html(msg("feed_card", links=links))
    assert html.count('class="feed-first"') == 1 and html.count('class="feed-item"') == 1
    assert '<span class="feed-title">头条</span>' in html
    assert '<img class="photo" src="https://e.example/i.png"' in message_html(msg("image", image="https://e.example/i.png"))
    assert "@lADPmedia" in message_html(msg("image", image="@lADPmedia"))  # a media id, shown as such


def test_conversation_preview_is_what_the_chat_list_shows():
    assert conversation_preview(msg("markdown", title="磁盘告警", text="### x")) == "磁盘告警"
    assert conversation_preview(msg("text", text="a\n b")) == "a b"
    assert conversation_preview(msg("image", image="u")) == "[图片]"
