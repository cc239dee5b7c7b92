"""``/work-pools``: pools with their queues, run counts and workers (last heartbeat);
``/variables``: list, create and edit variables."""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import RedirectResponse, Response

from stowflow.server.security import require_write
from stowflow.server.templating import render
from stowflow.variables import VariableError, VariableExistsError, list_variables, set_variable
from stowflow.workers.pools import pool_overview

router = APIRouter(include_in_schema=False)


@router.get("/work-pools")
def pools_page(request: Request) -> Response:
    """Every pool: type, limits, queues, runs by state, and its workers."""
    return render(request, "work_pools.html", {"pools": pool_overview()})


def _variables_page(request: Request, error: str | None = None, name: str = "",
                    value: str = "", status_code: int = 200, *, editing: str = "") -> Response:
    shown = {k: json.dumps(v) for k, v in list_variables().items()}
    return render(request, "variables.html", {"variables": shown, "error": error,
                                              "name": name, "value": value,
                                              "editing": editing},
                  status_code=status_code)


@router.get("/variables")
def variables_page(request: Request, edit: str = "") -> Response:
    """Every variable (values as JSON), and a form to create or edit one."""
    current = list_variables()
    value = json.dumps(current[edit]) if edit in current else ""
    shown = edit if edit in current else ""
    return _variables_page(request, name=shown, value=value, editing=shown)


@router.post("/variables", dependencies=[Depends(require_write)])
def save_variable(request: Request, name: str = Form(""), value: str = Form(""),
                  editing: str = Form("")) -> Response:
    """Create a variable, or replace the one the form was opened to edit (``editing``); the
    value is JSON, or text when it is not JSON. A new variable never replaces another."""
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        parsed = value
    name = name.strip()
    try:
        set_variable(name, parsed, overwrite=bool(editing) and editing == name)
    except VariableExistsError as exc:
        return _variables_page(request, f"{exc.message}: open it with its edit link to "
                               "change its value", name, value, 409, editing=editing)
    except VariableError as exc:
        return _variables_page(request, str(exc), name, value, 422, editing=editing)
    return RedirectResponse("/variables", 303)
