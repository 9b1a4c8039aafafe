"""Benchmarks behind `etam-plugin bench NAME`: each module here exposes ``NAME``, ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``, prints a table and, with ``--json``,
writes its numbers. Speed targets are checked by these, never by timed tests."""
