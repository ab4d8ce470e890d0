"""Benchmarks (``make bench``): each module measures one capability against a floor."""
