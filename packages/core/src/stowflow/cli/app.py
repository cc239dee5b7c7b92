"""The ``stowflow`` command: the root Typer app and its one error boundary.

Each command group lives in its own module with a ``register(app)`` function, listed in
:data:`COMMANDS` with the one-line help ``stowflow --help`` shows. The root group is lazy
(:class:`LazyGroup`): it lists the table without importing anything and imports only the
module of the command being run, so ``stowflow --help`` and ``stowflow <group> --help``
start in a blink (issue 20). Help is Click's plain text (``rich_markup_mode=None``): Rich's
help renderer costs more to import than the rest of a ``--help``.

:func:`main` turns every :class:`~stowflow.errors.StowflowError` (and anything unexpected)
into one red line and a non-zero exit; ``--debug`` anywhere on the command line shows the
traceback instead.
"""

from __future__ import annotations

import importlib
import logging
import sys
from typing import TYPE_CHECKING

import typer
from typer.core import TyperGroup

from stowflow.errors import StowflowError
from stowflow.redact import install_logging_filter, redact

if TYPE_CHECKING:  # Typer ships its own copy of Click; these are the types its classes use
    from typer._click import Command, Context, HelpFormatter
    from typer.core import TyperOption

#: Top-level command -> (module whose ``register(app)`` adds it, its one-line help).
#: A test checks that each module registers exactly that command with exactly that help.
COMMANDS: dict[str, tuple[str, str]] = {
    "plugins": ("stowflow.cli.plugins_cmd",
                "List installed plugins with their version, hooks and load errors."),
    "config": ("stowflow.cli.config_cmd",
               "Show the effective settings and where each value comes from."),
    "init": ("stowflow.cli.init_cmd",
             "Write stowflow.yaml and a default .stowflowignore in the current folder."),
    "deploy": ("stowflow.cli.deploy_cmd",
               "Run build and push steps once, then record the deployments."),
    "migrate": ("stowflow.cli.migrate_cmd", "Bring deployments over from other tools."),
    "quickstart": ("stowflow.cli.quickstart_cmd",
                   "Write a sample flow, deploy it with local storage, run it, and show "
                   "what happened."),
    "block": ("stowflow.cli.block_cmd", "Register, list, inspect, create and delete blocks."),
    "variable": ("stowflow.cli.variable_cmd", "Set, get, list and delete variables."),
    "storage": ("stowflow.cli.storage_cmd", "Push and pull code to and from object stores."),
    "work-pool": ("stowflow.cli.work_pool_cmd",
                  "Create, list, inspect and delete work pools and their queues."),
    "deployment": ("stowflow.cli.deployment_cmd",
                   "List, inspect, run, pause, schedule and delete deployments."),
    "flow-run": ("stowflow.cli.flow_run_cmd",
                 "List, inspect, follow, retry and cancel flow runs."),
    "worker": ("stowflow.cli.worker_cmd", "Run workers that execute flow runs."),
    "server": ("stowflow.cli.server_cmd", "Run the web UI and HTTP API."),
    "scheduler": ("stowflow.cli.scheduler_cmd", "Create the runs of deployments' schedules."),
    "env": ("stowflow.cli.env_cmd", "List and prune the run environment layers on this machine."),
}


def load_command(name: str) -> Command:
    """Import the module of top-level command ``name`` and return its Click command."""
    module_name, _help = COMMANDS[name]
    holder = typer.Typer(rich_markup_mode=None, add_completion=False)
    importlib.import_module(module_name).register(holder)
    command = typer.main.get_group(holder).commands.get(name)
    if command is None:
        raise LookupError(f"{module_name}.register() did not add the command {name!r}")
    return command


class LazyGroup(TyperGroup):
    """The root group: commands come from :data:`COMMANDS`, imported on first use."""

    def list_commands(self, ctx: Context) -> list[str]:
        """Return every top-level command name, in table order."""
        return list(COMMANDS)

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        """Return the command ``cmd_name`` (importing its module), or ``None``."""
        if cmd_name not in COMMANDS:
            return None
        if cmd_name not in self.commands:
            self.commands[cmd_name] = load_command(cmd_name)
        return self.commands[cmd_name]

    def get_help_option(self, ctx: Context) -> TyperOption | None:
        """Return ``--help`` with the default ``False``: Typer builds a pydantic validator
        for an option whose value is not already a bool, which for an absent ``--help``
        (``None``) cost more than the rest of ``stowflow <group> --help``."""
        option = super().get_help_option(ctx)
        if option is not None:
            option.default = False
        return option

    def format_commands(self, ctx: Context, formatter: HelpFormatter) -> None:
        """List the commands with their help from the table (no module is imported)."""
        with formatter.section("Commands"):
            formatter.write_dl([(name, text) for name, (_module, text) in COMMANDS.items()])


def build_app() -> typer.Typer:
    """Return the root app; its commands are loaded from :data:`COMMANDS` when used."""
    app = typer.Typer(
        name="stowflow",
        cls=LazyGroup,
        help="Ship workflow code to wherever it runs.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )

    @app.callback()
    def root() -> None:
        """Ship workflow code to wherever it runs."""

    return app


def _debug_traceback() -> int:
    """Print the current exception's traceback, redacted (an SDK's message in a chained
    cause can quote a URL with its credentials), and return the exit code 1."""
    import traceback

    sys.stderr.write(redact(traceback.format_exc()))
    return 1


def _fail(message: str, code: int = 1) -> int:
    from stowflow.cli.output import err_console

    err_console.print(f"[red]Error:[/red] {redact(message)}", markup=True)
    return code


#: SDK and HTTP loggers whose warnings carry tracebacks of failures they retry (urllib3's
#: "Failed to parse headers" during a push that then succeeds): shown with --debug only.
THIRD_PARTY_LOGGERS = ("urllib3", "botocore", "s3transfer", "boto3", "azure", "google",
                       "gcsfs", "s3fs", "fsspec", "aiobotocore")


def quiet_third_party_loggers(debug: bool) -> None:
    """Let the SDKs' own log records through only with ``--debug``.

    Their failures reach the user as translated StowflowErrors; their warnings (often with
    a traceback) would be noise on stderr, or worse, a URL we did not redact.
    """
    for name in THIRD_PARTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if debug else logging.CRITICAL + 1)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default ``sys.argv[1:]``) and return the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    args = [a for a in args if a != "--debug"]
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, format="%(message)s")
    quiet_third_party_loggers(debug)
    install_logging_filter()
    install_logging_filter("")  # the root handlers: SDK records shown with --debug
    try:
        # Without standalone mode Click does not raise a command's typer.Exit(code): it
        # returns the code, so it must be passed on (it was dropped, and failures exited 0).
        result = build_app()(args=args, prog_name="stowflow", standalone_mode=False)
    except StowflowError as exc:
        if debug:
            return _debug_traceback()
        return _fail(str(exc).replace("[", r"\["))
    except typer.Exit as exc:
        return int(getattr(exc, "exit_code", 0) or 0)
    except typer.Abort:
        return _fail("aborted", 130)
    except typer.TyperException as exc:  # usage errors: Typer prints them its own way
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            _fail(str(exc))
        return int(getattr(exc, "exit_code", 2))
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except Exception as exc:  # the boundary: never a bare traceback without --debug
        if debug:
            return _debug_traceback()
        return _fail(
            f"unexpected {type(exc).__name__}: {exc} (run again with --debug for the traceback)"
            .replace("[", r"\[")
        )
    return result if isinstance(result, int) and not isinstance(result, bool) else 0
