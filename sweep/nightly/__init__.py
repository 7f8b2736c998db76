"""The nightly sweep: a fixed matrix searched each night, and a regression report (python -m sweep.nightly)."""
