"""stowflow-gcp: Google Cloud Storage code storage and GCP credentials for stowflow.

Blocks: :class:`GcpCredentials` and :class:`GcsBucket`; the sync engine's store for
``gs://`` and ``gcs://`` URLs: :class:`GcsObjectStore`; deployment steps in
:mod:`stowflow_gcp.deployments.steps` (``push_to_gcs``, ``pull_from_gcs``).
"""

from stowflow_gcp.credentials import GcpCredentials
from stowflow_gcp.storage import GcsBucket, GcsObjectInfo, GcsObjectStore

__all__ = ["GcpCredentials", "GcsBucket", "GcsObjectInfo", "GcsObjectStore"]
