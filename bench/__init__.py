"""Benchmarks of QualityWatch, apart from the tests: ``make bench`` (``python -m bench``).

``bench/__main__.py`` runs every measurement in one go and prints one table; ``bench_intake.py`` and
``bench_indicators.py`` are the older single-service benchmarks it borrows helpers from.
"""
