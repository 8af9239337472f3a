"""Never shipped to Lambda: the deployment's declarations, the CLI and client, the local stack, the demo."""
