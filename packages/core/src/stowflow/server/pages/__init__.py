"""The UI's pages, one module per area; :data:`ROUTERS` lists their routers."""

from __future__ import annotations

from stowflow.server.pages import auth, blocks

ROUTERS = [auth.router, blocks.router]
