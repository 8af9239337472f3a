"""What every capability shares: typed errors, time, semantic versions and the observability ports."""
