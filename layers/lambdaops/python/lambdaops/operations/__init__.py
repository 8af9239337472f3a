"""Operations: dependency health checks, the predict function's readiness, the platform's Prometheus view."""
