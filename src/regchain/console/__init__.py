"""The operator's and the regulator's web console (read-only): see docs/console.md."""
