"""Extraction of schema.org FAQPage pairs and page context from HTML."""
