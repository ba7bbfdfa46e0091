"""authentication.k8s.io/v1: TokenReviews and SelfSubjectReviews (create-only)."""
