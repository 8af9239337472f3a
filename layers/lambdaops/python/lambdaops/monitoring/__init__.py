"""Watching models in production: drift and data quality (`drift`), and next their health and metrics."""
