"""Every sentence the service says to a person, as one named-placeholder string each.

Students read Russian: a later change translates these (Babel-style catalogues keyed by the same
names), so a sentence is never built from fragments; placeholders carry only numbers, names, times.
"""

from __future__ import annotations

MESSAGES: dict[str, str] = {
    "pending_cap": (
        "You already have {pending} submission(s) waiting to be graded (at most {cap} at once); "
        "the next one is possible as soon as one of them is graded."
    ),
    "rate_limited": (
        "You have used your {attempts} attempts per {period}; the next attempt is possible at {when}."
    ),
    "grader_error": "The grader broke while grading this submission: this is not your fault.",
    "server_died": (
        "The grading server stopped while grading this submission, every time it tried: this is not your "
        "fault."
    ),
    "timed_out": "Grading took longer than {seconds} s and was stopped: this is not your fault.",
    "crashed": "The grading worker stopped without a result: this is not your fault.",
    "worker_refused": (
        "No grading worker could take this submission (other grader versions): not your fault."
    ),
    "too_large": (
        "The upload is larger than {limit}: submit your scripts only (no data, logs or environments)."
    ),
    "unsafe_archive": "The archive was refused: {reason}.",
    "not_an_archive": "Upload a .zip or .tar.gz archive of your repository, or its files.",
    "no_assignment_folder": (
        "No assignment folder was found in the upload (looked for {folders}); upload the folder that "
        "holds them."
    ),
    "loose_files": (
        "Files outside an assignment folder: put them into their assignment's folder, or choose one "
        "assignment to grade."
    ),
    "unknown_assignment": "There is no assignment {assignment}; the course has {known}.",
    "not_open": "{assignment} is not open for submissions.",
    "empty_upload": "The upload holds no files.",
    "use_your_link": "Open the personal login link your TA sent you; it logs you in on this browser.",
    "bad_token": "This login link is not valid (it may have been replaced by a newer one); ask your TA.",
    "too_many_requests": "Too many requests; try again in {seconds} s.",
    "csrf": "The form has expired; reload the page and try again.",
    "db_down": "The grading service's database is not reachable right now; try again in a minute.",
    "not_found": "Not found.",
    "internal": "Something went wrong on the server; try again, and tell your TA if it keeps happening.",
}


def text(key: str, **values: object) -> str:
    """The message ``key`` with its placeholders filled."""
    return MESSAGES[key].format(**values)


def duration(seconds: float) -> str:
    """``3600`` -> ``1 h``; ``90`` -> ``90 s``; ``86400`` -> ``1 day``."""
    if seconds >= 86400 and seconds % 86400 == 0:
        days = int(seconds // 86400)
        return "1 day" if days == 1 else f"{days} days"
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{int(seconds // 3600)} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)} min"
    return f"{seconds:g} s"
