"""Helper modules put on PYTHONPATH for student submissions (see seminar_spark)."""
