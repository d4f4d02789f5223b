"""fvcli: batch feature visualisation from YAML job files to PNG grids."""

from . import timings  # noqa: F401  first, so that FVCLI_TIMINGS counts from fvcli's import

__version__ = "0.1.0"
