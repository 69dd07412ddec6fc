"""The blue/green rotation function: event → protocol step → Secrets Manager, database, Parameter Store."""
