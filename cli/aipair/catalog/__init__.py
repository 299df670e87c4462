"""The service catalog: load and validate once, then every renderer reads the typed model."""

from .loader import load_catalog, parse_catalog
from .model import Catalog, Service

__all__ = ["Catalog", "Service", "load_catalog", "parse_catalog"]
