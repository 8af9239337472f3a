"""The AWS adapters: every module that imports boto3 or botocore, each behind a domain Protocol."""
