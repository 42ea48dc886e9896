"""Benchmarks: `python -m bench` runs each module here that defines `benchmark(server_url)`,
on its own database of a real Postgres, and prints its figures next to a baseline measured
in the same run."""
