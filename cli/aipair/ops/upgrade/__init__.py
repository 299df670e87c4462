"""Keeping components current: version policies, registry discovery, candidate validation."""
