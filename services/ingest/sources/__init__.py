"""Download sources for one UTC day: bigquery (the real one), raw (local export) and synthetic."""
