"""fvcli: batch feature visualisation from YAML job files to PNG grids."""

__version__ = "0.1.0"
