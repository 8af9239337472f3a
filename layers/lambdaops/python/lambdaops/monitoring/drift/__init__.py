"""Drift and data quality: baselines from training data, statistical checks, and the scheduled scan."""
