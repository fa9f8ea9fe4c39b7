"""Developer and test tooling for a QualityWatch checkout: never shipped in the wheel or the image.

The local Kafka/PostgreSQL runners, the dev runner behind ``make run``, the demo feed and agency inbox,
and the launcher that runs the three services as processes for tests, benchmarks and ``make run``.
Tests and ``bench/`` import from here; nothing here imports tests or is imported by the services.
"""
