"""The Slack app, command grammar, Block Kit views and CLI: wires approvals to providers."""
