"""`nox -s bench`: every host/plugin pairing measured side by side, reported as ratios.

Nothing here is imported by the SDK or the tests. See bench/README.md for the method.
"""
