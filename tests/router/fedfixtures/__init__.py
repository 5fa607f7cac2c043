"""Fixture subgraphs for the router tests: small Strawberry federation apps over in-memory data."""
