"""Every benchmark of the app, one module each: `python -m benchmarks.<name>` (Makefile: `make bench`,
`make bench-image`, `make bench-server`, `make soak`). Measurements, not tests: they assert no speed.
The library viz/ never imports from here (tests/test_layers.py checks it).
"""
