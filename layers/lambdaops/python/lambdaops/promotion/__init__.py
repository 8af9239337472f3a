"""Moving versions between stages: promotion gates, rollback, traffic splits and canary rollouts."""
