"""Helper modules put on PYTHONPATH for student submissions (see seminar_spark)."""

from pathlib import Path

STUDENT_LIB = Path(__file__).parent
"""The folder that goes on a student process's PYTHONPATH (the sandbox copies it where needed)."""
