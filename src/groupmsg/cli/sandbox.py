"""`groupmsg sandbox` (a local DingTalk, and its subcommands) and `groupmsg demo` (the whole path against it)."""

from typing import Annotated

import typer

from .context import session
from .output import Output

SANDBOX_HELP = """Serve a local DingTalk (oapi and /v1.0 APIs on one port) that validates like DingTalk.

Point groupmsg at it with GROUPMSG_OAPI_URL and GROUPMSG_API_URL set to the printed URL; open
that URL in a browser for the inbox (every message rendered as DingTalk shows it, live). With
--state DIR it keeps its groups, tokens, robots and messages across restarts. The subcommands
steer a running sandbox: messages, reset, robot, app, fault.

--host with an address other than loopback (e.g. 0.0.0.0) exposes it to the network: it then
prints a warning and a control token, which its control API (/_sandbox/*) and inbox require.
"""

sandbox_app = typer.Typer(
    name="sandbox", help=SANDBOX_HELP, invoke_without_command=True, no_args_is_help=False, rich_markup_mode=None
)


def is_loopback(host: str) -> bool:
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name that may resolve to anything: treat it as exposed


@sandbox_app.callback()
def sandbox(
    ctx: typer.Context,
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on. Anything but loopback exposes it to the network (a control token is then required).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port (0 picks a free one).")] = 8765,
    state_dir: Annotated[
        str | None, typer.Option("--state", metavar="DIR", help="Keep groups, tokens, robots and messages in DIR across restarts.")
    ] = None,
    config_file: Annotated[
        str | None, typer.Option("--config", metavar="FILE", help="A YAML file of apps, webhook robots, users, groups and faults (README: The sandbox).")
    ] = None,
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
    control_token: Annotated[
        str | None,
        typer.Option("--control-token", envvar="GROUPMSG_SANDBOX_TOKEN", help="Require this token on the control API and the inbox (default: none on loopback, a random one otherwise)."),
    ] = None,
) -> None:
    if ctx.invoked_subcommand is not None:
        return
    from ..errors import BadInput, ConfigError
    from ..sandbox import FaultConfig, Sandbox, SandboxConfig, WebhookRobot, serve_forever

    overrides: dict[str, object] = {}
    made: list[dict[str, str]] = []
    if config_file:
        from ..sandbox.configfile import ConfigFileError, load

        try:
            overrides, made = load(config_file)
        except ConfigFileError as exc:
            raise BadInput(str(exc), "see README: The sandbox, for the file's keys") from None
    if latency_ms or "latency_ms" not in overrides:
        overrides["latency_ms"] = latency_ms
    if no_limits:
        overrides["limits"] = False
    apps = {}
    for item in app_cred:
        key, sep, secret = item.partition(":")
        if not (sep and key and secret):
            raise BadInput(f"--app {item!r} is not KEY:SECRET")
        apps[key] = secret
    if apps:
        overrides["apps"] = apps
    if robot_code or apps:  # the demo robot code belongs to the demo app: not there when --app replaces it
        first_app = next(iter(apps)) if apps else next(iter(overrides.get("apps") or {"demo-app-key": ""}))  # type: ignore[call-overload]
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
    exposed = not is_loopback(host)
    if exposed and not control_token:
        import secrets

        control_token = secrets.token_urlsafe(24)
    try:
        sb = Sandbox(config, state_dir=state_dir, control_token=control_token)
    except Exception as exc:
        from ..sandbox.persist import StateFolderError

        if isinstance(exc, StateFolderError):
            raise ConfigError(str(exc)) from None
        raise
    out = session(ctx).output

    def ready(url: str) -> None:
        if exposed:
            _warn_exposed(out, host)
        out.note(f"DingTalk sandbox on {url}  (Ctrl-C to stop)")
        out.note(f"  export GROUPMSG_OAPI_URL={url} GROUPMSG_API_URL={url}")
        if control_token:
            out.note(f"  export GROUPMSG_SANDBOX_TOKEN={control_token}   # the control token (sandbox messages, robot, …)")
        if not apps and "apps" not in overrides:
            out.note("  export DINGTALK_APP_KEY=demo-app-key DINGTALK_APP_SECRET=demo-app-secret")
        if state_dir:
            out.note(f"  state: {state_dir} (groups, tokens, robots and messages are kept)")
        for robot in made:
            out.note(f"  robot {robot['name']}: {url}/robot/send?access_token={robot.get('token', '(as configured)')}"
                     + (f"  secret {robot['secret']}" if robot.get("secret") else ""))
        inbox = f"{url}/" + (f"?token={control_token}" if control_token else "")
        out.note(f"  inbox: {inbox}   (what DingTalk would show, live)")

    try:
        serve_forever(sb, host, port, ready=ready)
    except OSError as exc:
        import errno

        if exc.errno not in (errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES):
            raise
        from ..errors import BadInput  # the address: in use, not this machine's, or a port below 1024

        raise BadInput(f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                       hint="pick another --port (0 picks a free one), or stop what is using it") from None
    finally:
        sb.close()


def _warn_exposed(out: Output, host: str) -> None:
    out.warning(
        f"--host {host} is not a loopback address: the sandbox is reachable from the network",
        "anyone who can reach this machine can send to its DingTalk endpoints; its control API "
        "(/_sandbox/*: messages, requests, config, robots, apps, reset) and the inbox at / answer only "
        "requests carrying the control token printed below. Use --host 127.0.0.1 unless you need this.",
    )


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
    from . import examples, sandbox_control

    sandbox_control.register(sandbox_app)
    sandbox_app.info.epilog = examples.SANDBOX
    app.add_typer(sandbox_app)
    app.command("demo")(demo)
