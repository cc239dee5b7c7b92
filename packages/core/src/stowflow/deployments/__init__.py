"""Deployments: the ``stowflow.yaml`` model, deploying, and the core deployment steps."""
