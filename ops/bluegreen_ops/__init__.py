"""Operator tooling: the CLI, the Secrets Manager rotation driver and the local stack."""
