"""Tests of vaekit.data.tables: reading, schemas and codecs of mixed-type tables."""
