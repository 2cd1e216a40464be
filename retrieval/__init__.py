"""Validated knowledge, hybrid retrieval and calibrated confidence.

This package imports nothing else of ours: articles and their lifecycle, loading and
validation, the BM25 + dense index, fusion, confidence calibration and retrieval metrics.
"""
