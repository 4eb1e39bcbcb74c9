"""Retrieval splits and hard-negative mining over a release."""
