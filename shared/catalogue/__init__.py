"""The plan catalogue: indicators, targets, agencies, programmes and regions of one plan."""

from shared.catalogue.loader import CatalogueError, load_catalogue, parse_catalogue
from shared.catalogue.model import (
    Catalogue,
    ExpectedReport,
    IndicatorSpec,
    ProgrammeSpec,
    RegionPath,
    Target,
)
from shared.catalogue.regions import RegionNotFound

__all__ = [
    "Catalogue",
    "CatalogueError",
    "ExpectedReport",
    "IndicatorSpec",
    "ProgrammeSpec",
    "RegionNotFound",
    "RegionPath",
    "Target",
    "load_catalogue",
    "parse_catalogue",
]
