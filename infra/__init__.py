"""The CDK app that deploys lambdaops, built from `lambdaops.deployment.DEPLOYMENT`."""
