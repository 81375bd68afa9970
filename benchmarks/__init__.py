"""sycolab's benchmark suite: ratios measured side by side, never timed asserts.

Run from a checkout (the package is not installed with sycolab): `python -m benchmarks.run_all` (what
`make bench` runs), or one benchmark alone, e.g. `python -m benchmarks.bench_generation`. See README.md here.
"""
