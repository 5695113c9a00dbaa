"""Message documents: groupmsg's channel-neutral form of a message, checked with file:line.

    kind: action_card              # text | markdown | link | action_card | feed_card | image
    title: 发布 {{ 服务 }}
    text: |
      ### {{ 服务 }} {{ 版本 }} 已发布
    buttons:                       # action_card: one (the whole card) or several
      - {title: 查看构建, url: "https://ci.example.com/{{ record.id }}"}
      - 回滚=https://ci.example.com/rollback       # or the command line's TITLE=URL
    layout: horizontal             # several buttons side by side (default vertical)

link: `title`, `text`, `url`, `pic`; feed_card: `links` (`{title, url, pic}` or `TITLE=URL=PIC_URL`);
image: `image`; text and markdown: `at: {mobiles, user_ids, all}`. The parts each kind takes are
`dingtalk.messages.PARTS`, so a key of another kind is named as such.

Used for a send node's `message:` (templates checked against what the node may reference) and for
`groupmsg send --message FILE` (`load_message_document`: nothing to fill in, so a `{{` is a problem).
"""

from __future__ import annotations

from ...dingtalk.messages import FEED_CARD, KIND_NAMES, KINDS, PARTS, REQUIRED
from ..message import CardButton, CardLink, MessageSpec
from ..templating import StaticScope, Template, parse
from .checker import Checker, kind_of, problems_error
from .locate import LocateError, Y, locate

ALL_PARTS = tuple(dict.fromkeys(p for parts in PARTS.values() for p in parts))
AT_KEYS = ("mobiles", "user_ids", "all")
LAYOUTS = ("vertical", "horizontal")


class MessageChecker:
    """Checks message documents; with `standalone` (a file given to `send --message`) a template
    reference is a problem, since nothing fills it in."""

    def __init__(self, checker: Checker, *, standalone: bool = False) -> None:
        self.c = checker
        self.standalone = standalone

    def template(self, y: Y | None, what: str, scope: StaticScope) -> Template | None:
        if not self.standalone:
            return self.c.template(y, what, scope)
        template = self.c.template(y, what, StaticScope(fields=(), where="a message document", any_field=True))
        if template is not None and template.refs:
            self.c.problem(
                y.line if y else 0,
                f"{what}: {{{{ {template.refs[0]} }}}} — a message document given to `send --message` is not "
                "filled in",
                "write the value itself (or \\{{ for a literal {{); templates are filled in by flows",
            )
            return None
        return template

    def message(self, y: Y, what: str, scope: StaticScope) -> MessageSpec | None:
        if not isinstance(y.value, dict):
            self.c.problem(y.line, f"{what} must be a mapping with `kind:`, not {kind_of(y.value)}")
            return None
        if "kind" not in y.value:
            self.c.problem(y.line, f"{what} needs `kind:`", f"one of {', '.join(KINDS)}")
            return None
        kind = self.c.one_of(
            y.value["kind"], f"{what} kind", KINDS, lambda k: f"unknown message kind {k!r}", "a message kind"
        )
        m = self.c.mapping(y, what, allowed=("kind", *ALL_PARTS))
        if kind is None or m is None:
            return None
        name = KIND_NAMES[kind]
        ok = True
        for key in m:
            if key != "kind" and key not in PARTS[kind]:
                owners = [k for k, parts in PARTS.items() if key in parts]
                self.c.problem(
                    y.line_of(key), f"{what}: {name} has no `{key}:`", f"`{key}:` belongs to kind: {' or '.join(owners)}"
                )
                ok = False
        for key in REQUIRED[kind]:
            if key not in m:
                self.c.problem(y.line, f"{what}: {name} needs `{key}:`")
                ok = False
        title = self.template(m.get("title"), f"{what} title", scope)
        text = self.template(m.get("text"), f"{what} text", scope)
        url = self.template(m.get("url"), f"{what} url", scope)
        pic = self.template(m.get("pic"), f"{what} pic", scope)
        image = self.template(m.get("image"), f"{what} image", scope)
        buttons = self.buttons(m.get("buttons"), f"{what} buttons", scope)
        links = self.links(m.get("links"), f"{what} links", scope)
        layout = self.c.choice(m.get("layout"), f"{what} layout", LAYOUTS, "vertical")
        at = self.at(m.get("at"), f"{what} at", scope)
        parsed = {"title": title, "text": text, "url": url, "pic": pic, "image": image, "buttons": buttons,
                  "links": links, "at": at}
        if not ok or any(parsed[k] is None for k in m if k in parsed):
            return None
        mobiles, users, at_all = at or (None, None, False)
        return MessageSpec(
            kind=kind,
            line=y.line,
            title=title,
            text=text,
            url=url,
            pic=pic,
            buttons=buttons or (),
            layout=layout,
            links=links or (),
            image=image,
            at_mobiles=mobiles,
            at_users=users,
            at_all=at_all,
        )

    def _items(
        self, y: Y | None, what: str, names: tuple[str, ...], required: tuple[str, ...]
    ) -> list[tuple[int, dict[str, Y]]] | None:
        """The items of a list of `{name: value}` mappings or `A=B[=C]` strings: (line, located
        values) each; None when one of them (or the list) is wrong."""
        items = self.c.seq(y, what)
        if y is None:
            return []
        if not items:
            if isinstance(y.value, list) or y.value is None:
                self.c.problem(y.line, f"{what} is empty", "give at least one")
            return None
        out: list[tuple[int, dict[str, Y]]] = []
        for item in items:
            if isinstance(item.value, str):
                values = split_short_form(item.value, len(names))
                if values is None:
                    shape = "=".join(n.upper() for n in names) if len(names) == 2 else "TITLE=URL=PIC"
                    self.c.problem(item.line, f"{what}: {item.value!r} is not {shape}")
                    return None
                out.append((item.line, {n: Y(v, item.line) for n, v in zip(names, values, strict=True) if v is not None}))
                continue
            m = self.c.mapping(item, f"an item of {what}", allowed=names, required=required)
            if m is None or not all(k in m for k in required):
                return None
            out.append((item.line, m))
        return out

    def buttons(self, y: Y | None, what: str, scope: StaticScope) -> tuple[CardButton, ...] | None:
        items = self._items(y, what, ("title", "url"), ("title", "url"))
        if items is None:
            return None
        out = []
        for _, m in items:
            title = self.template(m["title"], f"{what} title", scope)
            url = self.template(m["url"], f"{what} url", scope)
            if title is None or url is None:
                return None
            out.append(CardButton(title, url))
        return tuple(out)

    def links(self, y: Y | None, what: str, scope: StaticScope) -> tuple[CardLink, ...] | None:
        items = self._items(y, what, ("title", "url", "pic"), ("title", "url"))
        if items is None:
            return None
        out = []
        for line, m in items:
            if "pic" not in m:
                self.c.problem(
                    line,
                    f"{what}: a link of {KIND_NAMES[FEED_CARD]} needs a picture (`pic:`, or TITLE=URL=PIC)",
                    "DingTalk requires picURL for every link of a feed card",
                )
                return None
            title = self.template(m["title"], f"{what} title", scope)
            url = self.template(m["url"], f"{what} url", scope)
            pic = self.template(m["pic"], f"{what} pic", scope)
            if title is None or url is None or pic is None:
                return None
            out.append(CardLink(title, url, pic))
        return tuple(out)

    def at(self, y: Y | None, what: str, scope: StaticScope) -> tuple[Template | None, Template | None, bool] | None:
        if y is None:
            return None, None, False
        m = self.c.mapping(y, what, allowed=AT_KEYS)
        if m is None:
            return None
        found: list[Template | None] = []
        for key in ("mobiles", "user_ids"):
            vy = m.get(key)
            if vy is not None and isinstance(vy.value, list):  # a list: joined as comma-separated text
                parts = [self.template(item, f"{what} {key}", scope) for item in vy.value]
                if any(t is None for t in parts):
                    return None
                found.append(parse(", ".join(t.source for t in parts if t is not None)))
            else:
                template = self.template(vy, f"{what} {key}", scope)
                if vy is not None and template is None:
                    return None
                found.append(template)
        return found[0], found[1], self.c.boolean(m.get("all"), f"{what} all")


def split_short_form(text: str, parts: int) -> list[str | None] | None:
    """`TITLE=URL` (parts 2) or `TITLE=URL[=PIC]` (parts 3), split as the command line does."""
    from ...dingtalk.messages import parse_button, parse_feed_link
    from ...errors import BadInput

    try:
        if parts == 2:
            b = parse_button(text)
            return [b.title, b.url]
        x = parse_feed_link(text)
        return [x.title, x.url, x.pic]
    except BadInput:
        return None


def load_message_document(text: str, path: str) -> MessageSpec:
    """A message document on its own (`send --message FILE`); ValidationError lists every problem."""
    from .checker import Problem

    try:
        root = locate(text)
    except LocateError as exc:
        raise problems_error(path, [Problem(exc.line, exc.message, exc.fix)], hint=HINT) from None
    if root is None:
        raise problems_error(path, [Problem(1, "the message document is empty", "start it with `kind:`")], hint=HINT)
    checker = Checker()
    spec = MessageChecker(checker, standalone=True).message(root, "the message", StaticScope(fields=(), where=""))
    if checker.problems or spec is None:
        raise problems_error(path, checker.problems or [Problem(1, "the message document is not usable")], hint=HINT)
    return spec


HINT = "fix them; the README's `send --message` section shows each kind's document"
