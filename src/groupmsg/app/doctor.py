"""`groupmsg doctor`: check what usually goes wrong with DingTalk before a message goes out.

Each check returns a Check with a status (ok, warn, fail, skip), what it found, and how to fix it.
A failure means a send would fail; a warning means it may.
"""

from __future__ import annotations

import os
import re
import stat
import time
from dataclasses import asdict, dataclass
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from ..delivery import group_secret
from ..dingtalk.messages import Message
from ..errors import GroupmsgError

if TYPE_CHECKING:
    from ..state.model import Group
    from . import App

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"
SECRET_SHAPE = re.compile(r"SEC[0-9a-f]{64}")  # what the robot's 加签 setting shows
MAX_SKEW_S = 3600  # DingTalk refuses webhook signatures more than an hour off
SKEW_WARN_S = 300


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str
    fix: str | None = None

    def to_doc(self) -> dict[str, Any]:
        return asdict(self)


MAX_GROUPS_BY_DEFAULT = 50


def run_checks(app: App, *, names: list[str], message: Message | None, offline: bool) -> list[Check]:
    """Every check; `names` selects the groups to check (default: all, up to 50)."""
    checks = [check_home(app)]
    if checks[0].status == FAIL:
        return [*checks, Check("state", SKIP, "nothing else was checked: groupmsg reads nothing in an unsafe home")]
    checks += [Check(name, status, detail, fix) for status, name, detail, fix in app.state.probe()]
    if any(c.status == FAIL for c in checks[1:]):  # the store does not answer: nothing else can be read
        return checks
    try:
        registry = app.state.registry
        groups = [registry.get(n) for n in names] if names else registry.list()[:MAX_GROUPS_BY_DEFAULT]
        checks.append(Check("registry", OK, f"{len(registry.names())} group(s) registered"))
    except GroupmsgError as exc:
        checks.append(Check("registry", FAIL, exc.message, exc.hint))
        groups = []
    checks += [c for g in groups for c in check_group(app, g, message)]
    checks.append(check_flows(app))
    needs_app = any(g.kind == "app" for g in groups)
    if offline:
        checks.append(Check("network", SKIP, "--offline: credentials and clock not checked"))
    else:
        checks.append(check_credentials(app, needed=needs_app))
        checks.append(check_clock(app))
    return checks


def check_home(app: App) -> Check:
    home = app.settings.home
    if not home.exists():
        return Check("home", OK, f"{home} does not exist yet; it will be created (mode 0700) on first use")
    me = os.geteuid() if hasattr(os, "geteuid") else None
    loose, foreign, writable = [], [], []
    for path in (home, *home.rglob("*")):
        st = path.lstat()
        mode = stat.S_IMODE(st.st_mode)
        if me is not None and st.st_uid != me:
            foreign.append(f"{path} (uid {st.st_uid})")
        elif stat.S_ISLNK(st.st_mode):
            continue
        elif mode & 0o022:
            writable.append(f"{path} ({mode:o})")
        elif mode & 0o077 and not path.name.endswith(".lock"):
            loose.append(f"{path} ({mode:o})")
    if foreign:
        return Check(
            "home",
            FAIL,
            f"{len(foreign)} state path(s) belong to another user, e.g. {foreign[0]}; groupmsg refuses to use them",
            fix="use a home of your own (--home DIR or GROUPMSG_HOME=DIR), or run groupmsg as the owner",
        )
    if writable:
        return Check(
            "home",
            FAIL,
            f"{len(writable)} state path(s) can be written by other users, e.g. {writable[0]}; groupmsg refuses "
            "to use them",
            fix=f"chmod -R go-rwx '{home}' (and look for files you did not put there)",
        )
    if loose:
        return Check(
            "home",
            WARN,
            f"{len(loose)} state path(s) readable by other users, e.g. {loose[0]}",
            fix=f"chmod -R go-rwx '{home}'",
        )
    if not os.access(home, os.W_OK):
        return Check("home", FAIL, f"{home} is not writable", fix="fix its owner, or set GROUPMSG_HOME")
    return Check("home", OK, f"{home}: private (0700/0600)")


def check_flows(app: App) -> Check:
    path = app.settings.flows_file
    if not path.exists():
        return Check("flows", SKIP, f"no flows file at {path}")
    try:
        from ..flows.loader import load_flows

        load_flows(path, registry_names=app.state.registry.names())
    except GroupmsgError as exc:
        return Check("flows", FAIL, exc.message, exc.hint or f"run `groupmsg flows check {path}`")
    except ImportError:
        return Check("flows", SKIP, "flows support is not installed")
    return Check("flows", OK, f"{path} is valid")


def check_webhook_host(group: Group) -> Check | None:
    """Where the webhook's access token goes, when that is not DingTalk over https."""
    from ..state.model import DINGTALK_WEBHOOK_HOST, is_loopback, parse_webhook, webhook_host

    url = group.webhook or ""
    host = webhook_host(url)
    name = f"group {group.name}: webhook host"
    try:
        parse_webhook(url, group.allow_host)
    except GroupmsgError as exc:  # registered before hosts were checked
        return Check(name, FAIL, exc.message, f"remove the group, or add it again with --allow-host {host} if you trust it")
    if host == DINGTALK_WEBHOOK_HOST or is_loopback(host):
        return None
    if url.startswith("http://"):
        return Check(
            name,
            WARN,
            f"the access token goes to {host} over plain http:// (allowed with --allow-host {group.allow_host})",
            "use https:// if the gateway serves it",
        )
    return Check(name, OK, f"the access token goes to {host}, not DingTalk (allowed with --allow-host {group.allow_host})")


def check_group(app: App, group: Group, message: Message | None) -> list[Check]:
    name = f"group {group.name}"
    out = []
    if group.kind == "webhook":
        host_check = check_webhook_host(group)
        if host_check is not None:
            out.append(host_check)
        try:
            secret = group_secret(group)
        except GroupmsgError as exc:
            out.append(Check(name, FAIL, exc.message, exc.hint))
            secret = None
        else:
            if secret is not None and not SECRET_SHAPE.fullmatch(secret):
                where = f"${group.secret_env}" if group.secret_env else "the registry"
                fix = (
                    f"copy it again from the robot's 加签 setting into ${group.secret_env}"
                    if group.secret_env
                    else f"copy it again from the robot's 加签 setting: `groupmsg groups set {group.name} --secret -`"
                )
                out.append(Check(name, FAIL, f"the signing secret in {where} is not SEC followed by 64 hex "
                                 f"characters ({secret_shape(secret)}); DingTalk will answer 310000 sign not match", fix))
            elif secret is None:
                out.append(Check(name, OK, "webhook without signing (keywords or an IP list must protect it)"))
            else:
                out.append(Check(name, OK, "webhook, signed"))
    if message is not None:
        try:
            item = app.delivery.prepare(group, message)
        except GroupmsgError as exc:
            out.append(Check(f"{name}: message", FAIL, exc.message, exc.hint))
        else:
            size = len(item.request.body or b"")
            out.append(Check(f"{name}: message", OK, f"{size} bytes via {item.channel}; fits"))
    return out


def secret_shape(secret: str) -> str:
    """What is wrong with a secret's shape, without showing it."""
    if not secret.startswith("SEC"):
        return "it does not start with SEC"
    rest = secret[3:]
    if len(rest) != 64:
        return f"it has {len(rest)} characters after SEC"
    return "it has characters other than 0-9 and a-f"


def check_credentials(app: App, *, needed: bool) -> Check:
    s = app.settings
    if not (s.app_key and s.app_secret):
        status = FAIL if needed else SKIP
        return Check(
            "credentials",
            status,
            "DINGTALK_APP_KEY / DINGTALK_APP_SECRET are not set" + ("" if needed else " (only webhook groups checked)"),
            "export them (the app's Client ID and Client Secret) to use app groups and create-group",
        )
    try:
        app.client.fetch_token()
    except GroupmsgError as exc:
        return Check("credentials", FAIL, exc.message, exc.hint)
    return Check("credentials", OK, f"a token was issued for app {s.app_key}")


def check_clock(app: App) -> Check:
    """Compare this machine's clock with the Date of a DingTalk answer that is not an error: the
    token answer when the credentials check got one, else a HEAD request to the oapi host (no API
    is called). Signed webhooks are refused more than an hour off."""
    date = app.client.token_date
    if not date:
        try:
            date = app.client.probe(app.settings.oapi_url + "/").headers.get("date")
        except GroupmsgError as exc:
            return Check("clock", WARN, f"could not reach DingTalk to compare clocks: {exc.message}", exc.hint)
    if not date:
        return Check("clock", SKIP, "DingTalk's answer had no Date header")
    skew = time.time() - parsedate_to_datetime(date).timestamp()
    if abs(skew) >= MAX_SKEW_S:
        return Check("clock", FAIL, f"this clock is {skew:+.0f} s off DingTalk's", "enable NTP (timedatectl set-ntp true)")
    if abs(skew) >= SKEW_WARN_S:
        return Check("clock", WARN, f"this clock is {skew:+.0f} s off DingTalk's", "enable NTP before it reaches an hour")
    return Check("clock", OK, f"within {abs(skew):.0f} s of DingTalk's")
