"""Training and tuning: runs, their datasets, the SageMaker jobs they plan, evaluation and registration."""
