"""`groupmsg sandbox messages|reset|robot|app|fault`: watch and steer a running sandbox through its
control API (`/_sandbox/*`)."""

import json
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .context import session

if TYPE_CHECKING:
    from ..app.sandbox import SandboxControl

Url = Annotated[
    str | None,
    typer.Option("--url", envvar="GROUPMSG_SANDBOX_URL", help="The sandbox's address. Default: GROUPMSG_OAPI_URL when it points at a sandbox, else http://127.0.0.1:8765."),
]
Token = Annotated[
    str | None, typer.Option("--token", envvar="GROUPMSG_SANDBOX_TOKEN", help="Its control token (printed when it was started with a non-loopback --host).")
]
Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]

robot_app = typer.Typer(name="robot", help="Webhook (custom) robots of a running sandbox: list, add, change, remove.", no_args_is_help=True)
app_app = typer.Typer(name="app", help="Apps of a running sandbox: list, add, remove.", no_args_is_help=True)
fault_app = typer.Typer(name="fault", help="Faults of a running sandbox: list, inject, rate, latency.", no_args_is_help=True)


def _control(ctx: typer.Context, url: str | None, token: str | None) -> "SandboxControl":
    return session(ctx).app.sandbox(url, token)


def summary(entry: dict[str, Any]) -> str:
    message = entry.get("message") or {}
    kind = message.get("kind") or entry.get("msgtype") or "?"
    title, text = message.get("title"), message.get("text") or entry.get("content") or ""
    first = " ".join(str(text).split())
    if len(first) > 80:
        first = first[:79] + "…"
    extra = ""
    if message.get("buttons"):
        extra = "  [" + " | ".join(f"{b.get('title')} → {b.get('url')}" for b in message["buttons"]) + "]"
    if message.get("links"):
        extra = "  [" + " | ".join(str(link.get("title")) for link in message["links"]) + "]"
    at = message.get("at") or {}
    mentions = [f"@{w}" for w in (*(at.get("mobiles") or ()), *(at.get("user_ids") or ()))] + (["@所有人"] if at.get("all") else [])
    who = ("  " + " ".join(mentions)) if mentions else ""
    body = f"{title}: {first}" if title and kind != "text" else first
    return f"{kind}: {body}{extra}{who}"


def _line(entry: dict[str, Any]) -> str:
    when = str(entry.get("received_at") or "")[11:19]
    return f"{when}  {entry['group']}  [{entry.get('channel')}]  {summary(entry)}"


def messages(
    ctx: typer.Context,
    group: Annotated[str | None, typer.Option("--group", "-g", help="Only this group's (a registered name, or the sandbox's group / robot name).")] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Then keep printing messages as they arrive, like tail -f (Ctrl-C to stop).")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON (with --follow: one JSON object a line).")] = False,
    url: Url = None,
    token: Token = None,
) -> None:
    """What a running sandbox received, named by the registry's group names where they match."""
    s = session(ctx)
    control = _control(ctx, url, token)
    if follow:
        try:
            for entry in control.follow(group):
                if json_out:
                    sys.stdout.write(json.dumps(entry, ensure_ascii=False) + "\n")
                    sys.stdout.flush()
                else:
                    s.output.out(_line(entry))
        except KeyboardInterrupt:
            return
        return
    entries = control.messages(group)
    if json_out:
        s.output.emit_json(entries)
        return
    for entry in entries:
        s.output.out(_line(entry))
    if not entries:
        s.output.note(f"no messages{' for ' + repr(group) if group else ''} yet at {control.url}")


def reset(ctx: typer.Context, url: Url = None, token: Token = None) -> None:
    """Forget what a running sandbox received and created (messages, groups, tokens, faults);
    its apps and robots stay."""
    control = _control(ctx, url, token)
    control.reset()
    session(ctx).output.out(f"reset the sandbox at {control.url}")


# --- robots ---------------------------------------------------------------------------------


def _robot_line(r: dict[str, Any]) -> str:
    parts = [r["name"]]
    if r.get("group"):
        parts.append(f"group {r['group']}")
    if r.get("registered_as"):
        parts.append(f"registered as {r['registered_as']}")
    parts.append("signed" if r.get("signed") else "unsigned")
    if r.get("keywords"):
        parts.append("keywords " + ",".join(r["keywords"]))
    if r.get("ip_allowlist"):
        parts.append("ip " + ",".join(r["ip_allowlist"]))
    if not r.get("enabled", True):
        parts.append("DISABLED")
    return "  ".join(parts)


@robot_app.command("list")
def robot_list(ctx: typer.Context, json_out: Json = False, url: Url = None, token: Token = None) -> None:
    """The webhook robots (never their tokens or secrets)."""
    robots = _control(ctx, url, token).robots()
    out = session(ctx).output
    if json_out:
        out.emit_json(robots)
        return
    for r in robots:
        out.out(_robot_line(r))


@robot_app.command("add")
def robot_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The robot's name (how the sandbox names it).")],
    group: Annotated[str | None, typer.Option("--group", help="The group it sits in, as the inbox shows it.")] = None,
    signed: Annotated[bool, typer.Option("--signed", help="With a 加签 secret (made for it and printed once).")] = False,
    keyword: Annotated[list[str], typer.Option("--keyword", help="A security keyword; repeat for several (at most 10).")] = [],  # noqa: B006
    ip: Annotated[list[str], typer.Option("--ip", help="An allowed IPv4 address or CIDR block; repeat for several.")] = [],  # noqa: B006
    disabled: Annotated[bool, typer.Option("--disabled", help="Added but stopped (answers 400102).")] = False,
    access_token: Annotated[str | None, typer.Option("--access-token", help="Its webhook token (default: 64 random hex characters).")] = None,
    json_out: Json = False,
    url: Url = None,
    token: Token = None,
) -> None:
    """Add a custom robot to a running sandbox, as DingTalk's 添加机器人 form does; prints its
    webhook URL (and secret) once, and how to register it."""
    robot = _control(ctx, url, token).add_robot(
        name=name, group=group, secret=True if signed else None, keywords=keyword, ip_allowlist=ip,
        enabled=not disabled, token=access_token,
    )
    out = session(ctx).output
    if json_out:
        out.emit_json(robot)
        return
    out.out(f"added robot {robot['name']}")
    out.out(f"  webhook: {robot['webhook_url']}")
    if robot.get("secret"):
        out.out(f"  secret:  {robot['secret']}")
    # Registered with DingTalk's own address, the group follows GROUPMSG_OAPI_URL: the same
    # registry then works against the sandbox and against DingTalk.
    hook = "https://oapi.dingtalk.com/robot/send?access_token=" + robot["token"]
    register = f"groupmsg groups add {group or name} --webhook '{hook}'"
    register += "".join(f" --keyword {k}" for k in keyword)
    if robot.get("secret"):
        register += " --secret -    (then paste the secret)"
    out.note(f"register it: {register}")


@robot_app.command("change")
def robot_change(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The robot's name.")],
    keyword: Annotated[list[str], typer.Option("--keyword", help="Replace its keywords; repeat for several.")] = [],  # noqa: B006
    no_keywords: Annotated[bool, typer.Option("--no-keywords", help="Remove its keywords.")] = False,
    ip: Annotated[list[str], typer.Option("--ip", help="Replace its IP allow-list; repeat for several.")] = [],  # noqa: B006
    no_ip: Annotated[bool, typer.Option("--no-ip", help="Remove its IP allow-list.")] = False,
    new_secret: Annotated[bool, typer.Option("--new-secret", help="Give it a new 加签 secret (printed once).")] = False,
    no_secret: Annotated[bool, typer.Option("--no-secret", help="Stop signing.")] = False,
    enable: Annotated[bool | None, typer.Option("--enable/--disable", help="Start or stop it (a stopped robot answers 400102).")] = None,
    group: Annotated[str | None, typer.Option("--group", help="The group it sits in, as the inbox shows it.")] = None,
    rename: Annotated[str | None, typer.Option("--rename", help="A new name.")] = None,
    json_out: Json = False,
    url: Url = None,
    token: Token = None,
) -> None:
    """Change a robot of a running sandbox: keywords, IP allow-list, secret, enabled, group, name."""
    changes: dict[str, Any] = {}
    if keyword or no_keywords:
        changes["keywords"] = keyword
    if ip or no_ip:
        changes["ip_allowlist"] = ip
    if new_secret or no_secret:
        changes["secret"] = True if new_secret else None
    if enable is not None:
        changes["enabled"] = enable
    if group:
        changes["group"] = group
    if rename:
        changes["name"] = rename
    robot = _control(ctx, url, token).change_robot(name, **changes)
    out = session(ctx).output
    if json_out:
        out.emit_json(robot)
        return
    out.out(f"changed robot {_robot_line(robot)}")
    if robot.get("secret"):
        out.out(f"  secret:  {robot['secret']}")


@robot_app.command("remove")
def robot_remove(ctx: typer.Context, name: Annotated[str, typer.Argument(help="The robot's name.")], url: Url = None, token: Token = None) -> None:
    """Remove a robot from a running sandbox (its webhook then answers 300001)."""
    gone = _control(ctx, url, token).remove_robot(name)
    session(ctx).output.out(f"removed robot {gone['name']}")


# --- apps -----------------------------------------------------------------------------------


@app_app.command("list")
def app_list(ctx: typer.Context, json_out: Json = False, url: Url = None, token: Token = None) -> None:
    """The apps and their robot codes (never their secrets)."""
    apps = _control(ctx, url, token).apps()
    out = session(ctx).output
    if json_out:
        out.emit_json(apps)
        return
    for a in apps:
        out.out(f"{a['key']}" + (f"  robot codes {', '.join(a['robot_codes'])}" if a["robot_codes"] else ""))


@app_app.command("add")
def app_add(
    ctx: typer.Context,
    cred: Annotated[str, typer.Argument(metavar="KEY:SECRET", help="The app's key and secret.")],
    robot_code: Annotated[list[str], typer.Option("--robot-code", help="A robot code of the app; repeat for several.")] = [],  # noqa: B006
    url: Url = None,
    token: Token = None,
) -> None:
    """Add an app (Client ID and Secret) to a running sandbox."""
    from ..errors import BadInput

    key, sep, secret = cred.partition(":")
    if not (sep and key and secret):
        raise BadInput(f"{cred!r} is not KEY:SECRET")
    _control(ctx, url, token).add_app(key, secret, robot_code)
    session(ctx).output.out(f"added app {key}" + (f" with robot codes {', '.join(robot_code)}" if robot_code else ""))


@app_app.command("remove")
def app_remove(ctx: typer.Context, key: Annotated[str, typer.Argument(help="The app's key.")], url: Url = None, token: Token = None) -> None:
    """Remove an app (and its robot codes) from a running sandbox."""
    _control(ctx, url, token).remove_app(key)
    session(ctx).output.out(f"removed app {key}")


# --- faults ---------------------------------------------------------------------------------


def _faults_out(ctx: typer.Context, state: dict[str, Any], json_out: bool) -> None:
    out = session(ctx).output
    if json_out:
        out.emit_json(state)
        return
    f = state["faults"]
    out.out(f"random faults: rate {f['rate']} of {', '.join(f['kinds'])}" + (f" (seed {f['seed']})" if f.get("seed") is not None else ""))
    out.out(f"latency: {state['latency_ms']} ms on every answer")
    for p in state["pending_injections"]:
        out.out(f"next {p['times']} request(s){' to ' + p['path'] if p.get('path') else ''}: {p['kind']}")


@fault_app.command("list")
def fault_list(ctx: typer.Context, json_out: Json = False, url: Url = None, token: Token = None) -> None:
    """The random fault rate, the latency and the faults injected but not used up yet."""
    _faults_out(ctx, _control(ctx, url, token).faults(), json_out)


@fault_app.command("inject")
def fault_inject(
    ctx: typer.Context,
    kind: Annotated[str, typer.Argument(help="The fault: latency, http500, timeout, busy, qps, token_expired, lost_response, http429, http502, http503, http504 (a sandbox that knows others lists them when asked for one it does not know).")],
    times: Annotated[int, typer.Option("--times", help="For this many requests.")] = 1,
    path: Annotated[str | None, typer.Option("--path", help="Only requests whose path starts with this, e.g. /robot/send.")] = None,
    json_out: Json = False,
    url: Url = None,
    token: Token = None,
) -> None:
    """Make the next request(s) fail with KIND, whatever the random rate."""
    _faults_out(ctx, _control(ctx, url, token).inject(kind, times, path), json_out)


@fault_app.command("rate")
def fault_rate(
    ctx: typer.Context,
    rate: Annotated[float, typer.Argument(help="The share of requests that get a fault (0..1; 0 stops them).")],
    kinds: Annotated[str | None, typer.Option("--kinds", help="Comma-separated fault kinds to draw from.")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Make the draws repeatable.")] = None,
    json_out: Json = False,
    url: Url = None,
    token: Token = None,
) -> None:
    """Inject random faults into a share of requests."""
    faults: dict[str, Any] = {"rate": rate}
    if kinds:
        faults["kinds"] = kinds
    if seed is not None:
        faults["seed"] = seed
    _faults_out(ctx, _control(ctx, url, token).configure(faults=faults), json_out)


@fault_app.command("latency")
def fault_latency(
    ctx: typer.Context,
    ms: Annotated[int, typer.Argument(help="Milliseconds added to every answer (0: none).")],
    json_out: Json = False,
    url: Url = None,
    token: Token = None,
) -> None:
    """Delay every answer of a running sandbox."""
    _faults_out(ctx, _control(ctx, url, token).configure(latency_ms=ms), json_out)


def register(sandbox_app: typer.Typer) -> None:
    sandbox_app.command("messages")(messages)
    sandbox_app.command("reset")(reset)
    sandbox_app.add_typer(robot_app)
    sandbox_app.add_typer(app_app)
    sandbox_app.add_typer(fault_app)
