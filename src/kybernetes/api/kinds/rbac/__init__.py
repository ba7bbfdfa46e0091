"""rbac.authorization.k8s.io/v1: Roles, ClusterRoles and their bindings."""
