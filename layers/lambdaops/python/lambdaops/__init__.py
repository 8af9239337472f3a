"""lambdaops: the package every Lambda function imports (the shared layer).

Domain capabilities (`core`, `registry`, `promotion`, `serving`, `monitoring`, and next `training` and
`operations`) import no AWS SDK and no Powertools; `aws` holds every module that does import boto3 or
botocore; `runtime` is what the handlers share. The import-linter contracts in pyproject.toml check it.
"""
