"""The benchmark harness and the ``twm-bench`` command line."""
