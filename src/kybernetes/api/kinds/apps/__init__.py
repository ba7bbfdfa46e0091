"""apps/v1: Deployments, ReplicaSets, StatefulSets, DaemonSets and ControllerRevisions, one module per kind."""
