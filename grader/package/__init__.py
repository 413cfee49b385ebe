"""Bundles that grading platforms install (``grader package gradescope``: Gradescope's autograder zip)."""
