"""`groupmsg sandbox` (a local DingTalk) and `groupmsg demo` (the whole path against it)."""

from typing import Annotated

import typer

from .context import session


def sandbox(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port (0 picks a free one).")] = 8765,
    app_cred: Annotated[
        list[str], typer.Option("--app", help="An app as KEY:SECRET; repeat for several. Default: the demo app.")
    ] = [],  # noqa: B006
    robot_code: Annotated[
        list[str], typer.Option("--robot-code", help="A robot code of the first app; repeat for several.")
    ] = [],  # noqa: B006
    webhook: Annotated[
        list[str], typer.Option("--webhook", help="A custom robot as TOKEN[:SECRET]; repeat for several.")
    ] = [],  # noqa: B006
    user: Annotated[
        list[str], typer.Option("--user", help="A valid user id; when given, only these users exist.")
    ] = [],  # noqa: B006
    latency_ms: Annotated[int, typer.Option("--latency-ms", help="Delay every answer by this much.")] = 0,
    no_limits: Annotated[
        bool, typer.Option("--no-limits", help="Do not enforce DingTalk's rate limits (20/min webhook, 20 QPS).")
    ] = False,
    fault_rate: Annotated[
        float, typer.Option("--fault-rate", help="Inject faults into this share of requests (0..1).")
    ] = 0.0,
    fault_kinds: Annotated[
        str | None,
        typer.Option("--faults", help="Comma-separated fault kinds: latency,http500,timeout,busy,qps,token_expired,lost_response,http429,http502,http503,http504."),
    ] = None,
) -> None:
    """Serve a local DingTalk (oapi and /v1.0 APIs on one port) that validates like DingTalk.

    Point groupmsg at it with GROUPMSG_OAPI_URL and GROUPMSG_API_URL set to the printed URL.
    GET /_sandbox/messages lists the messages it accepted.
    """
    from ..errors import BadInput
    from ..sandbox import FaultConfig, Sandbox, SandboxConfig, WebhookRobot, serve_forever

    overrides: dict[str, object] = {"latency_ms": latency_ms, "limits": not no_limits}
    apps = {}
    for item in app_cred:
        key, sep, secret = item.partition(":")
        if not (sep and key and secret):
            raise BadInput(f"--app {item!r} is not KEY:SECRET")
        apps[key] = secret
    if apps:
        overrides["apps"] = apps
    if robot_code or apps:  # the demo robot code belongs to the demo app: not there when --app replaces it
        first_app = next(iter(apps)) if apps else "demo-app-key"
        overrides["robot_codes"] = dict.fromkeys(robot_code, first_app)
    if webhook:
        robots = {}
        for item in webhook:
            token, _, secret = item.partition(":")
            robots[token] = WebhookRobot(secret=secret or None, name=token[:4] + "…")
        overrides["webhooks"] = robots
    if user:
        overrides["users"] = set(user)
    if fault_rate:
        kinds = tuple(k.strip() for k in fault_kinds.split(",")) if fault_kinds else None
        overrides["faults"] = FaultConfig(rate=fault_rate, kinds=kinds) if kinds else FaultConfig(rate=fault_rate)
    try:
        config = SandboxConfig.demo(**overrides)
    except (TypeError, ValueError) as exc:
        raise BadInput(f"sandbox settings: {exc}") from None
    out = session(ctx).output
    out.note(f"DingTalk sandbox on http://{host}:{port}  (Ctrl-C to stop)")
    out.note(f"  export GROUPMSG_OAPI_URL=http://{host}:{port} GROUPMSG_API_URL=http://{host}:{port}")
    if not apps:
        out.note("  export DINGTALK_APP_KEY=demo-app-key DINGTALK_APP_SECRET=demo-app-secret")
    serve_forever(Sandbox(config), host, port)


def demo(
    ctx: typer.Context,
    keep: Annotated[bool, typer.Option("--keep", help="Keep the demo's data folder and print where it is.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print what the sandbox received as JSON.")] = False,
) -> None:
    """Run the whole path on an embedded sandbox: create a group, send to it, show what DingTalk got.

    Needs no credentials and no network. Uses a temporary data folder unless --home is given.
    """
    from ..app.demo import run_demo

    s = session(ctx)
    result = run_demo(home=s.home, keep=keep, say=s.output.out if not json_out else s.output.note)
    if json_out:
        s.output.emit_json(result)


def register(app: typer.Typer) -> None:
    from . import examples

    app.command("sandbox", epilog=examples.SANDBOX)(sandbox)
    app.command("demo")(demo)
