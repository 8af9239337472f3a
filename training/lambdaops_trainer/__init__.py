"""The reference trainer: a SageMaker script-mode PyTorch classifier for tabular CSV data."""
