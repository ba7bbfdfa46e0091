"""coordination.k8s.io/v1: Leases (leader election, node heartbeats)."""
