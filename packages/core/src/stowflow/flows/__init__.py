"""Flows: ``@flow``, :class:`Flow` (from_source, deploy, serve) and entrypoint loading."""

from stowflow.flows.core import Flow, flow
from stowflow.flows.entrypoints import load_flow_from_entrypoint
from stowflow.flows.metadata import FlowMetadata, read_flow_metadata

__all__ = ["Flow", "FlowMetadata", "flow", "load_flow_from_entrypoint", "read_flow_metadata"]
