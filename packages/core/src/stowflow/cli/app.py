"""The ``stowflow`` command: the root Typer app and its one error boundary.

Each command group lives in its own module with a ``register(app)`` function, listed in
:data:`COMMAND_MODULES`. :func:`main` turns every :class:`~stowflow.errors.StowflowError`
(and anything unexpected) into one red line and a non-zero exit; ``--debug`` anywhere on
the command line shows the traceback instead.
"""

from __future__ import annotations

import importlib
import logging
import sys

import typer

from stowflow.cli.output import err_console
from stowflow.errors import StowflowError
from stowflow.redact import install_logging_filter, redact

COMMAND_MODULES = (
    "stowflow.cli.plugins_cmd",
    "stowflow.cli.block_cmd",
    "stowflow.cli.config_cmd",
    "stowflow.cli.variable_cmd",
    "stowflow.cli.init_cmd",
    "stowflow.cli.deploy_cmd",
    "stowflow.cli.storage_cmd",
    "stowflow.cli.work_pool_cmd",
    "stowflow.cli.deployment_cmd",
    "stowflow.cli.flow_run_cmd",
    "stowflow.cli.worker_cmd",
    "stowflow.cli.quickstart_cmd",
)


def build_app() -> typer.Typer:
    """Return the root app with every command group registered."""
    app = typer.Typer(
        name="stowflow",
        help="Ship workflow code to wherever it runs.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(app)
    return app


def _fail(message: str, code: int = 1) -> int:
    err_console.print(f"[red]Error:[/red] {redact(message)}", markup=True)
    return code


def main(argv: list[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default ``sys.argv[1:]``) and return the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    args = [a for a in args if a != "--debug"]
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, format="%(message)s")
    install_logging_filter()
    try:
        # Without standalone mode Click does not raise a command's typer.Exit(code): it
        # returns the code, so it must be passed on (it was dropped, and failures exited 0).
        result = build_app()(args=args, prog_name="stowflow", standalone_mode=False)
    except StowflowError as exc:
        if debug:
            raise
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
            raise
        return _fail(
            f"unexpected {type(exc).__name__}: {exc} (run again with --debug for the traceback)"
            .replace("[", r"\[")
        )
    return result if isinstance(result, int) and not isinstance(result, bool) else 0
