"""``/blocks``: list saved blocks by type, create, edit and delete them through forms
generated from each block type's schema (see :mod:`stowflow.server.forms`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import RedirectResponse, Response

from stowflow.blocks import Block, get_block_class
from stowflow.blocks import documents as block_store
from stowflow.blocks.types import known_block_types
from stowflow.blocks.views import masked_view
from stowflow.errors import BlockAlreadyExistsError, BlockError
from stowflow.server import forms
from stowflow.server.security import require_write
from stowflow.server.templating import render

router = APIRouter(prefix="/blocks", include_in_schema=False)


def _doc(cls: type) -> str:
    return (cls.__doc__ or "").strip().split("\n\n")[0]


@router.get("")
def list_page(request: Request, type: str | None = None, q: str | None = None) -> Response:
    """Saved blocks, grouped by type, optionally of one type and matching a search."""
    documents = block_store.list_documents(type or None, search=q or None)
    counts: dict[str, int] = {}
    for slug, _, _ in block_store.list_documents():
        counts[slug] = counts.get(slug, 0) + 1
    return render(request, "blocks/list.html", {
        "documents": documents, "counts": counts, "type": type or "", "q": q or "",
        "types": known_block_types()})


@router.get("/new")
def choose_type(request: Request) -> Response:
    """The catalogue of block types a block can be created from."""
    catalogue = [(slug, cls.get_block_type_name(), _doc(cls))
                 for slug, cls in known_block_types().items()]
    return render(request, "blocks/types.html", {"catalogue": catalogue})


def _form_page(request: Request, cls: type[Block], *, name: str, editing: bool,
               current: Any, errors: dict[str, str] | None = None,
               saved_secrets: set[str] | None = None, status_code: int = 200,
               taken: bool = False) -> Response:
    return render(request, "blocks/form.html", {
        "slug": cls.get_block_type_slug(), "type_name": cls.get_block_type_name(),
        "description": _doc(cls), "name": name, "editing": editing,
        "fields": forms.model_form(cls, current, errors=errors, saved_secrets=saved_secrets),
        "form_error": (errors or {}).get(""), "name_error": (errors or {}).get("__name__"),
        "taken": taken,
    }, status_code=status_code)


@router.get("/new/{slug}")
def new_form(request: Request, slug: str) -> Response:
    """An empty form for a new block of type ``slug``."""
    return _form_page(request, get_block_class(slug), name="", editing=False, current=None)


async def _submitted(request: Request) -> dict[str, Any]:
    return dict(await request.form())


@router.post("/new/{slug}", dependencies=[Depends(require_write)])
async def create(request: Request, slug: str) -> Response:
    """Validate and save a new block; show the form again with the problems beside fields."""
    cls = get_block_class(slug)
    form = await _submitted(request)
    name = str(form.get("__name__", "")).strip()
    shown = forms.submitted_text(forms.model_form(cls), form)
    try:
        block = forms.build_block(cls, form)
        block.save(name)
    except forms.FormError as exc:
        return _form_page(request, cls, name=name, editing=False, current=shown,
                          errors=exc.errors, status_code=422)
    except BlockAlreadyExistsError as exc:  # its hint is the CLI's: the page links the block
        return _form_page(request, cls, name=name, editing=False, current=shown,
                          errors={"__name__": exc.message}, status_code=422, taken=True)
    except BlockError as exc:  # a bad name
        key = "__name__" if "name" in exc.message else ""
        return _form_page(request, cls, name=name, editing=False, current=shown,
                          errors={key: str(exc)}, status_code=422)
    return RedirectResponse(f"/blocks/{slug}/{name}", 303)


@router.get("/{slug}/{name}")
def detail(request: Request, slug: str, name: str) -> Response:
    """A saved block's fields, secrets masked."""
    block = Block.load(f"{slug}/{name}")
    return render(request, "blocks/detail.html", {
        "slug": slug, "name": name, "type_name": type(block).get_block_type_name(),
        "view": masked_view(block), "error": None,
        "secret": set(type(block).secret_field_names())})


@router.get("/{slug}/{name}/edit")
def edit_form(request: Request, slug: str, name: str) -> Response:
    """The block's form with its saved values (secrets: only whether one is saved)."""
    block = Block.load(f"{slug}/{name}")
    return _form_page(request, type(block), name=name, editing=True, current=block)


@router.post("/{slug}/{name}/edit", dependencies=[Depends(require_write)])
async def update(request: Request, slug: str, name: str) -> Response:
    """Save the edited block; an empty secret input keeps the saved secret."""
    current = Block.load(f"{slug}/{name}")
    cls = type(current)
    form = await _submitted(request)
    try:
        block = forms.build_block(cls, form, current)
    except forms.FormError as exc:
        shown = forms.submitted_text(forms.model_form(cls), form)
        saved = {n for n in cls.secret_field_names() if getattr(current, n, None) is not None}
        return _form_page(request, cls, name=name, editing=True, current=shown,
                          errors=exc.errors, saved_secrets=saved, status_code=422)
    block.save(name, overwrite=True)  # the same document (and id) is updated in place
    return RedirectResponse(f"/blocks/{slug}/{name}", 303)


def deployments_using(ref: str) -> list[tuple[str, str]]:
    """Return ``(id, "flow/name")`` of the deployments whose pull steps name block ``ref``
    (``slug/name``) in a placeholder."""
    from sqlalchemy import select

    from stowflow.db import DeploymentRecord, session
    from stowflow.placeholders import block_refs

    with session() as db:
        rows = db.execute(select(DeploymentRecord.id, DeploymentRecord.flow_name,
                                 DeploymentRecord.name, DeploymentRecord.pull_steps)
                          .order_by(DeploymentRecord.flow_name, DeploymentRecord.name)).all()
    return [(dep_id, f"{flow}/{name}") for dep_id, flow, name, steps in rows
            if ref in block_refs(steps or [])]


@router.get("/{slug}/{name}/delete")
def confirm_delete(request: Request, slug: str, name: str) -> Response:
    """The confirmation page: the deployments whose pull steps use the block."""
    block = Block.load(f"{slug}/{name}")
    return render(request, "blocks/delete.html", {
        "slug": slug, "name": name, "type_name": type(block).get_block_type_name(),
        "deployments": deployments_using(f"{slug}/{name}")})


@router.post("/{slug}/{name}/delete", dependencies=[Depends(require_write)])
def delete(request: Request, slug: str, name: str) -> Response:
    """Delete the block, unless another block refers to it (the page names those)."""
    try:
        block_store.delete_document(slug, name)
    except BlockError as exc:
        block = Block.load(f"{slug}/{name}")
        return render(request, "blocks/detail.html", {
            "slug": slug, "name": name, "type_name": type(block).get_block_type_name(),
            "view": masked_view(block), "error": str(exc),
            "secret": set(type(block).secret_field_names())}, status_code=409)
    return RedirectResponse("/blocks", 303)
