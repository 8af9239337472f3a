"""lambdaops tools, never shipped to Lambda: the deployment's declarations, the CLI and its client, the
local stack on moto, and the demo with the sample models it trains."""
