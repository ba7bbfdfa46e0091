"""metrics.k8s.io/v1beta1: NodeMetrics and PodMetrics (read-only; served from the kubelets' stats)."""
