"""regchain: tooling around the share-register contracts (deployments, local node)."""

__version__ = "0.1.0"
