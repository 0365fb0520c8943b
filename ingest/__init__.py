"""Ingestion: files to entries and documents, blocks, chunks, units, vectors, and the system of record."""
