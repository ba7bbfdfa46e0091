"""networking.k8s.io/v1: Ingresses, IngressClasses and NetworkPolicies, one module per kind."""
