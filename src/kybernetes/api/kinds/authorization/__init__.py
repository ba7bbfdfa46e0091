"""authorization.k8s.io/v1: the access-review virtual resources (create-only)."""
