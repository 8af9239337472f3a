"""Answering predictions: routing, instance encoding, the model cache, inference and captured traffic."""
