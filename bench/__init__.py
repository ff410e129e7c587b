"""Benchmarks against the floors (`make bench`): results in bench/RESULTS.md. Not part of `make test`."""
