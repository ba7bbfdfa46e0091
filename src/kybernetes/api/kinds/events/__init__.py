"""events.k8s.io/v1: Events, served from the same storage as core/v1 Events."""
