"""The integer query parameters of the pages and the API, bounded once: a page, offset or
log line id the database cannot hold (SQLite's and PostgreSQL's BIGINT are 64-bit) is a 422
that names the parameter, like any other bad input, not an OverflowError and a 500."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

#: The largest integer the databases store.
DB_INT_MAX = 2**63 - 1
#: The last page number a list accepts: its offset (page x page size) stays a database integer.
MAX_PAGE = 10**9

#: ``?page=N`` of a paged list (1 is the first page).
Page = Annotated[int, Query(ge=1, le=MAX_PAGE, description="Page number, from 1.")]
#: ``?offset=N`` of an API list.
Offset = Annotated[int, Query(ge=0, le=DB_INT_MAX, description="Rows to skip.")]
#: ``?after=ID`` / ``?before=ID``: a log line id (a cursor).
LineId = Annotated[int, Query(ge=0, le=DB_INT_MAX, description="A log line id.")]
