"""Deployment steps of stowflow-gcp, addressed as ``stowflow_gcp.deployments.steps.NAME``."""
