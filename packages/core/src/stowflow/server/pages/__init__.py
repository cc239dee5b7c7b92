"""The UI's pages, one module per area; :data:`ROUTERS` lists their routers."""

from __future__ import annotations

from stowflow.server.pages import auth, blocks, deployments, flow_runs, work_pools

ROUTERS = [auth.router, blocks.router, deployments.router, flow_runs.router, work_pools.router]
