"""Deployment controller package: ``controller`` (callbacks, dispatch) → ``rolling``/``recreate``
(the strategies) → ``progress`` (Progressing condition) → ``sync`` (ReplicaSets, scaling, status)
→ ``util`` (pure arithmetic and annotations)."""

from kybernetes.controllers.deployment.controller import DeploymentController

__all__ = ["DeploymentController"]
