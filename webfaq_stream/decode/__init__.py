"""Decoding crawl records (WARC response records, JSON envelopes) into domain records."""
