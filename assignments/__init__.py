"""The course's assignments, one folder each (installed as the ``grader_assignments`` package)."""
