"""autoscaling/v1 and autoscaling/v2 HorizontalPodAutoscalers (stored as v2)."""
