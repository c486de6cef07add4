"""Data below training: readers of CSV and Parquet files (``tables``, block readers for
streaming in ``blocks``), the checks every training input goes through, and batch sources.

``fit`` asks a source for batches (``sources.BatchSource``) and does not care where they
come from: NumPy arrays and DataFrames in memory, an iterable of batches, blocks streamed
from a reader through a bounded shuffle buffer (``streaming.StreamingSource``), or Dask
collections read one partition at a time (``dask_blocks``).
"""
