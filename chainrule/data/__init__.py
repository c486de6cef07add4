"""Data: readers of CSV and Parquet files (tables), block readers for streaming."""
