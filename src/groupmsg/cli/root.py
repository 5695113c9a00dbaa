"""The root command, global options, and the one place errors become messages and exit codes."""

import os
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .. import __version__
from ..errors import ExitCode, GroupmsgError
from .context import Session, session
from .output import Output

if TYPE_CHECKING:
    import httpx

EXIT_CODES_HELP = """\
Exit codes: 0 success · 1 delivery failed (DingTalk refused or could not be reached; a flow run
failed; doctor found a problem; or an internal error) · 2 bad input (unknown group, bad option, invalid file, missing field, corrupt state, a state folder others can write) ·
3 nothing to do (no flow matched, nothing to retry) · 4 the state store (Redis) is unavailable
(unreachable, wrong password, read-only replica, out of memory; nothing is recorded as sent that was not).

Environment: GROUPMSG_HOME, GROUPMSG_STORE, GROUPMSG_FLOWS, GROUPMSG_REGISTRY_FILE, DINGTALK_APP_KEY, DINGTALK_APP_SECRET,
DINGTALK_ROBOT_CODE, GROUPMSG_OAPI_URL, GROUPMSG_API_URL, NO_COLOR.
"""

HELP_MAX_WIDTH = 10_000

app = typer.Typer(
    name="groupmsg",
    help="DingTalk group messages from the command line: a group registry, forms and flows, "
    "and a local DingTalk sandbox.",
    epilog=EXIT_CODES_HELP,
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    # Help uses the terminal's whole width (Click caps it at 80 unless told otherwise); a pipe gets
    # $COLUMNS or 80.
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": HELP_MAX_WIDTH},
)


def _version(value: bool) -> None:
    if value:
        print(f"groupmsg {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    home: Annotated[
        str | None,
        typer.Option("--home", help="Data folder (registry, runs, tokens). Default: $GROUPMSG_HOME or the user data folder."),
    ] = None,
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            help="Where state lives: files (in the home), files:PATH, or redis://host:port/db (shared by many "
            "hosts; password from $GROUPMSG_REDIS_PASSWORD). Default: $GROUPMSG_STORE or files.",
        ),
    ] = None,
    flows: Annotated[
        str | None, typer.Option("--flows", help="Flows file. Default: $GROUPMSG_FLOWS or ./flows.yaml.")
    ] = None,
    registry_file: Annotated[
        str | None,
        typer.Option(
            "--registry-file",
            help="Groups read from this file (JSON or CSV as `groups export` writes; kept in git, no secrets) "
            "before the store's registry. Default: $GROUPMSG_REGISTRY_FILE.",
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors and requested JSON.")] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Report every delivery attempt and wait on stderr (also in cron and CI).")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    s = session(ctx)
    s.home, s.flows, s.debug, s.registry_file = home, flows, debug, registry_file
    if store is not None:
        from ..masking import mask_store_url

        if mask_store_url(store) != store:  # the command line shows in `ps` and shell history
            from ..errors import ConfigError

            raise ConfigError(
                "--store must not carry a password (the command line shows in `ps` and in shell history)",
                hint="put the URL with its password in GROUPMSG_STORE, or the password in GROUPMSG_REDIS_PASSWORD",
            )
        s.store = store
    if quiet and verbose:
        from ..errors import BadInput

        raise BadInput("--quiet and --verbose contradict each other", hint="give one of them")
    s.output.quiet, s.output.verbose = quiet, verbose


@app.command()
def paths(ctx: typer.Context, json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Show where groupmsg keeps its data and which DingTalk endpoints it uses."""
    s = session(ctx)
    info: dict[str, Any] = s.app.paths()
    if json_out:
        s.output.emit_json(info)
        return
    s.output.fields(info)


# Which module defines each command. Typer builds the Click command of every registered function on
# every run (~25 ms for all of them), so a run registers only the module its command lives in.
COMMAND_MODULES = {
    "send": "messaging",
    "preview": "preview",
    "create-group": "messaging",
    "groups": "groups",
    "runs": "runs",
    "submit": "submit",
    "forms": "flows",
    "flows": "flows",
    "doctor": "doctor",
    "store": "store",
    "sandbox": "sandbox",
    "demo": "sandbox",
    "paths": None,
}
_registered: set[str] = set()
SECRET_VARIABLES = ("DINGTALK_APP_SECRET",)  # masked in any error text, whatever put it there


def register(modules: Iterable[str] | None = None) -> None:
    """Add the commands of the given modules (default: all) to the app, once each."""
    import importlib

    wanted = sorted({m for m in COMMAND_MODULES.values() if m}) if modules is None else modules
    for name in wanted:
        if name not in _registered:
            importlib.import_module(f"{__package__}.{name}").register(app)
            _registered.add(name)
    # Help lists commands in registration order: keep it the same however they were registered.
    order = {c: i for i, c in enumerate(COMMAND_MODULES)}
    app.registered_commands.sort(key=lambda c: order.get(c.name or c.callback.__name__, 99))  # type: ignore[union-attr]
    app.registered_groups.sort(key=lambda g: order.get(g.name or "", 99))


def _command_of(argv: list[str]) -> str | None:
    """The subcommand named in argv (skipping global options and their values)."""
    args = iter(argv)
    for arg in args:
        if arg in ("--home", "--flows", "--store", "--registry-file"):
            next(args, None)
        elif not arg.startswith("-"):
            return arg
    return None


def _wants_json(argv: list[str]) -> bool:
    """--json among the options (before a `--`): then every failure also prints a JSON document."""
    for arg in argv:
        if arg == "--":
            return False
        if arg == "--json":
            return True
    return False


def _error_doc(exc: BaseException, code: str, message: str, hint: str | None) -> dict[str, Any]:
    doc: dict[str, Any] = {"code": code, "message": message, "hint": hint}
    problems = getattr(exc, "problems", None)
    if problems:
        doc["problems"] = problems
    return {"error": doc}


def _code_of(exc: GroupmsgError) -> str:
    """DingTalk's code, else the kind of error: `unknown_group`, `validation_error`, `bad_input`…"""
    import re

    code = getattr(exc, "code", None)
    return str(code) if code else re.sub(r"(?<!^)(?=[A-Z])", "_", exc.__class__.__name__).lower()


def main(argv: list[str] | None = None, *, transport: "httpx.BaseTransport | None" = None) -> int:
    """Entry point: run the CLI, translate errors to messages and exit codes.

    `transport` routes DingTalk traffic elsewhere (tests and the demo pass the sandbox's)."""
    st = Session(transport=transport, output=Output())
    argv = sys.argv[1:] if argv is None else argv
    st.json = _wants_json(argv)
    command = _command_of(argv)
    completing = any(k.startswith("_GROUPMSG_COMPLETE") for k in os.environ)
    if command in COMMAND_MODULES and not completing:
        module = COMMAND_MODULES[command]
        register([module] if module else [])
    elif command is None and "--version" in argv and not completing:
        register([])  # the eager --version answers before any command is looked at
    else:
        register()

    def failed(exc: BaseException, code: str, message: str, hint: str | None) -> None:
        if st.json and not st.output.json_emitted:
            st.output.emit_json(_error_doc(exc, code, message, hint))

    try:
        result = app(args=argv, prog_name="groupmsg", obj=st, standalone_mode=False)
        # A command returns None; an Exit (help, --version, doctor's verdict, Ctrl-C) its code.
        code = result if isinstance(result, int) and not isinstance(result, bool) else 0
        if code == 130:  # Ctrl-C (Typer turns KeyboardInterrupt into Exit(130))
            st.output.settle()
            print("Interrupted.", file=sys.stderr)
        return code
    except SystemExit as exc:  # shell completion exits on its own
        status = exc.code
        return status if isinstance(status, int) else (0 if status is None else 1)
    except typer.Abort:  # Ctrl-C or Ctrl-D at a prompt
        st.output.settle()
        print("Interrupted.", file=sys.stderr)
        return 130
    except typer.TyperException as exc:  # a usage error: Click's own message (exit 2)
        show = getattr(exc, "show", None)
        if show is not None:
            show()
        else:
            print(f"Error: {exc.format_message()}", file=sys.stderr)
        failed(exc, "usage", exc.format_message(), "see --help")
        return exc.exit_code
    except GroupmsgError as exc:
        if st.debug:
            raise
        from ..masking import redact

        known = tuple(v for k, v in os.environ.items() if k in SECRET_VARIABLES and v)
        message, hint = redact(exc.message, known), redact(exc.hint, known) if exc.hint else None
        st.output.error(message, hint)
        failed(exc, _code_of(exc), message, hint)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        st.output.settle()
        print("Interrupted.", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug in groupmsg: say so in one line; --debug shows the traceback
        if st.debug:
            raise
        from ..masking import redact

        message = f"unexpected {exc.__class__.__name__}: {redact(str(exc))}"
        hint = "this is a bug in groupmsg; run again with --debug for the traceback and report it"
        st.output.error(message, hint)
        failed(exc, "internal", message, hint)
        return int(ExitCode.DELIVERY_FAILED)
    finally:
        st.close()
