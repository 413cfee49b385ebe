"""Copy evidence for a TA: never a penalty, only what to look at.

Two kinds:

- **Another student's parameters.** Every student's ``$TOPIC``, ``N`` and partition derive from the
  course seed and their id, so the grader knows them all. A submission holding someone else's topic
  name (or hard-coding another's ``N``/``PARTITION`` that no one else shares) most likely came from
  that student's work or report. Only a grader with per-student parameters can see this.
- **Similar entrypoints**, by ``copydetect`` (winnowed fingerprints of the code with names and strings
  normalised, so renamed variables do not hide a copy). The student template, the reference solutions
  and the course's boilerplate (e.g. the seminar's notes) are removed first, so code everybody was
  given does not count; pairs above a threshold are listed with their matching lines.
"""

from __future__ import annotations

import io
import itertools
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from grader.policy.model import CopySettings
from grader.registry import Assignment, template_root

MAX_FILE_BYTES = 256 * 1024
"""Files larger than this are not read (data, not code)."""
NOISE = 25
"""copydetect's k: characters of normalised code in one fingerprint (its default)."""
GUARANTEE = 30
"""copydetect's guarantee threshold: a match this long is always found (window = GUARANTEE - NOISE + 1)."""
EXCERPT_LINES = 40
LANGUAGES = {".py": "python", ".sh": "bash", ".bash": "bash"}
RAW = {"bash"}
"""Normalised by :func:`normalise_shell` instead of copydetect's filter: pygments' shell lexer makes commands
and options plain text, which the filter drops, leaving little more than a script's punctuation."""
_SHELL_VAR = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")
_SHELL_NAME = re.compile(r"(?:(?<=^)|(?<=[\s;(]))(?:local\s+|export\s+|readonly\s+)?([a-z_][a-z0-9_]*)(?==)|"
                         r"(?<=\bfor\s)([a-z_][a-z0-9_]*)|(?<=\bread\s)([a-z_][a-z0-9_]*)")
_SHELL_COMMENT = re.compile(r"(?:^|\s)#(?![!]).*$")
_FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
_TEXT_SUFFIXES = {".py", ".sh", ".bash", ".txt", ".md", ".cfg", ".ini", ".toml", ".json", ".yaml", ".yml", ""}
_INT_CONTEXTS = {
    # How a hard-coded value shows up in a script, beyond NAME=value: the seminar's own commands.
    "N": [r"\bseq\s+(?:1\s+)?(\d+)\b", r"\brange\(\s*1\s*,\s*(\d+)\s*(?:\+\s*1\s*)?\)"],
    "PARTITION": [
        r"--partition[=\s]+(\d+)\b",
        r"TopicPartition\([^,()]*,\s*(\d+)\s*\)",
        r"\bpartition\s*=\s*(\d+)\b",
    ],
}


@dataclass(frozen=True)
class Candidate:
    """One gradable submission: who, their seed, and the folder to read."""

    key: str
    student_id: str
    seed: int
    root: Path


class ParameterEvidence(BaseModel):
    """A submission holding another student's parameters."""

    holder: str
    holder_key: str
    owner: str
    owner_key: str
    strength: Literal["strong", "weak"]
    """``strong``: a topic name (one in 16 million); ``weak``: numbers only one other student has."""
    found: list[str]
    """What was found where, e.g. ``TOPIC of topic-create 'hob2026-3f1c0a-topic' in produce-sequence/p.sh:3``.
    """


class SimilarPair(BaseModel):
    """Two students' entrypoints of one assignment that share more code than the threshold."""

    assignment: str
    a: str
    a_key: str
    b: str
    b_key: str
    file_a: str
    file_b: str
    similarity: float
    """The smaller of the two shares (matching code over each file's own code, boilerplate and common code
    left out): both files are mostly the same code, not one small file inside a big one."""
    similarity_a: float
    similarity_b: float
    matched: int
    """Characters of normalised code that match."""
    lines_a: list[tuple[int, int]]
    """Matching line ranges in ``file_a`` (1-based, inclusive)."""
    lines_b: list[tuple[int, int]]
    excerpt_a: str
    excerpt_b: str


class CopyEvidence(BaseModel):
    """Everything found; ``summary.json``'s ``copies``."""

    enabled: bool = True
    note: str = "evidence for a TA to look at, never a penalty"
    threshold: float
    min_tokens: int
    max_common: int
    compared: int
    """Submissions looked at."""
    boilerplate: list[str] = Field(default_factory=list)
    """Files whose code was left out of the comparison."""
    parameters: list[ParameterEvidence] = Field(default_factory=list)
    similar: list[SimilarPair] = Field(default_factory=list)
    similarity_note: str = ""
    """Why entrypoints were not compared, when they were not (e.g. copydetect is not installed)."""


# -- reading ---------------------------------------------------------------------------------------------


def _texts(root: Path) -> dict[str, str]:
    """Relative path -> text of the submission's small text files (``.git`` and binaries left out)."""
    out: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if (
            ".git" in rel.parts
            or not path.is_file()
            or path.is_symlink()
            or path.suffix not in _TEXT_SUFFIXES
        ):
            continue
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                continue
            data = path.read_bytes()
        except OSError:
            continue
        if b"\0" in data:
            continue
        out[rel.as_posix()] = data.decode("utf-8", errors="replace")
    return out


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


# -- parameters ------------------------------------------------------------------------------------------


def _topic_pattern(assignments: Sequence[Assignment]) -> re.Pattern[str] | None:
    prefixes = sorted(
        {getattr(p, "prefix", "") for a in assignments for p in a.spec.params.values() if p.kind == "topic"}
        - {""}
    )
    if not prefixes:
        return None
    return re.compile(rf"\b(?:{'|'.join(map(re.escape, prefixes))})-[0-9a-f]{{6}}-topic\b")


def _int_patterns(name: str) -> list[re.Pattern[str]]:
    own = rf"\b{re.escape(name)}\b['\"]?\s*[:=]\s*['\"]?(\d+)\b"
    return [re.compile(p) for p in [own, *_INT_CONTEXTS.get(name, [])]]


@dataclass
class _Owners:
    """Who owns which parameter value, from every candidate's seed."""

    params: dict[str, dict[str, dict[str, str | int | float]]]
    """key -> assignment -> name -> value."""
    topics: dict[str, tuple[str, str]]
    """topic name -> (owner key, "TOPIC of <assignment>")."""
    numbers: dict[tuple[str, str, int], set[str]]
    """(assignment, name, value) -> owner keys."""
    int_names: dict[str, list[str]]
    """assignment -> its whole-number parameters."""


def _owners(candidates: Sequence[Candidate], assignments: Sequence[Assignment]) -> _Owners:
    owners = _Owners({}, {}, defaultdict(set), defaultdict(list))
    for c in candidates:
        owners.params[c.key] = {a.id: a.spec.draw_params(c.seed) for a in assignments}
        for aid, values in owners.params[c.key].items():
            for name, value in values.items():
                if isinstance(value, str) and value.endswith("-topic"):
                    owners.topics[value] = (c.key, f"TOPIC of {aid}")
                elif isinstance(value, int):
                    owners.numbers[(aid, name, value)].add(c.key)
                    if name not in owners.int_names[aid]:
                        owners.int_names[aid].append(name)
    return owners


def _number_claims(
    key: str, rel: str, text: str, owners: _Owners, boilerplate_text: str
) -> list[tuple[str, str]]:
    """(owner key, what) for hard-coded numbers in ``rel`` that are one other student's and not ``key``'s."""
    aid = rel.split("/", 1)[0]
    claims = []
    # A number only means something in the folder of the assignment that has the parameter.
    for name in owners.int_names.get(aid, []):
        own = owners.params[key][aid][name]
        for pattern in _int_patterns(name):
            for m in pattern.finditer(text):
                value = int(m[1])
                if value == own or m[0] in boilerplate_text:
                    continue
                others = owners.numbers.get((aid, name, value), set()) - {key}
                if len(others) == 1:
                    where = f"{rel}:{_line(text, m.start())}"
                    what = f"{name} of {aid} {value} (yours is {own}) in {where}"
                    claims.append((next(iter(others)), what))
    return claims


def parameter_evidence(
    candidates: Sequence[Candidate],
    assignments: Sequence[Assignment],
    texts: dict[str, dict[str, str]],
    boilerplate_text: str,
) -> list[ParameterEvidence]:
    """Submissions holding another student's topic name, or numbers only one other student has."""
    owners = _owners(candidates, assignments)
    who = {c.key: c for c in candidates}
    topic_re = _topic_pattern(assignments)
    found: dict[tuple[str, str], list[str]] = defaultdict(list)
    strong: set[tuple[str, str]] = set()
    for c in candidates:
        for rel, text in texts[c.key].items():
            for m in topic_re.finditer(text) if topic_re is not None else ():
                owner = owners.topics.get(m[0])
                if owner is not None and owner[0] != c.key:
                    found[(c.key, owner[0])].append(f"{owner[1]} {m[0]!r} in {rel}:{_line(text, m.start())}")
                    strong.add((c.key, owner[0]))
            for owner_key, claim in _number_claims(c.key, rel, text, owners, boilerplate_text):
                found[(c.key, owner_key)].append(claim)
    out = []
    for (holder, held), claims in sorted(found.items()):
        unique = list(dict.fromkeys(claims))
        is_strong = (holder, held) in strong
        if not is_strong and len(unique) < 2 and len(candidates) > 20:
            # In a big class one lone number that one other student has is too often a coincidence.
            continue
        out.append(
            ParameterEvidence(
                holder=who[holder].student_id, holder_key=holder, owner=who[held].student_id,
                owner_key=held, strength="strong" if is_strong else "weak", found=unique,
            )
        )  # fmt: skip
    return sorted(out, key=lambda e: (e.strength != "strong", e.holder, e.owner))


# -- similarity ------------------------------------------------------------------------------------------


def boilerplate_files(assignments: Sequence[Assignment], extra: Iterable[Path]) -> list[Path]:
    """The template stubs, the reference solutions and the course's extra boilerplate (files or folders)."""
    files: list[Path] = []
    roots = [template_root() / a.id for a in assignments] + [a.reference for a in assignments] + list(extra)
    for root in roots:
        if root.is_file():
            files.append(root)
        elif root.is_dir():
            files.extend(p for p in sorted(root.rglob("*")) if p.is_file() and p.suffix in _TEXT_SUFFIXES)
    return files


def _code_blocks(path: Path) -> list[str]:
    try:
        text = path.read_text("utf-8", errors="replace")
    except OSError:
        return []
    if path.suffix == ".md":
        return [m[1] for m in _FENCE.finditer(text)]
    return [text]


def _fingerprint(name: str, text: str, language: str, boilerplate: Any = None) -> Any:
    from copydetect import CodeFingerprint

    raw = language in RAW
    return CodeFingerprint(
        name, NOISE, GUARANTEE - NOISE + 1, boilerplate, filter=not raw, language=language,
        fp=io.StringIO(normalise_shell(text) if raw else text),
    )  # fmt: skip


def normalise_shell(text: str) -> str:
    """A shell script with its own variable names as ``V``, no quotes, comments or extra blanks, line by line.

    The grader's variables (``$TOPIC``, ``$N``, upper case) keep their names: students cannot rename them.
    Lines stay lines, so a match's line numbers are the original script's.
    """

    def variable(m: re.Match[str]) -> str:
        return f"${m[1]}" if m[1].isupper() else "$V"

    out = []
    for line in text.split("\n"):
        line = _SHELL_COMMENT.sub("", line) if not line.startswith("#!") else line
        line = _SHELL_VAR.sub(variable, line)
        line = _SHELL_NAME.sub("V", line)
        line = re.sub(r"[\"']", "", line)
        out.append(" ".join(line.split()))
    return "\n".join(out)


def _drop(fp: Any, common: set[int]) -> None:
    """Leave ``common`` fingerprints out of ``fp``, as copydetect leaves out boilerplate ones."""
    from copydetect.utils import get_token_coverage

    fp.hashes = fp.hashes - common
    fp.hash_idx = {h: i for h, i in fp.hash_idx.items() if h not in common}
    fp.token_coverage = get_token_coverage(fp.hash_idx, fp.k, len(fp.filtered_code))


def _ranges(text: str, slices: Any) -> list[tuple[int, int]]:
    ranges: list[tuple[int, int]] = []
    for start, end in zip(slices[0], slices[1], strict=True):
        first, last = _line(text, int(start)), _line(text, max(int(start), int(end) - 1))
        if ranges and first <= ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], max(ranges[-1][1], last))
        else:
            ranges.append((first, last))
    return ranges


def _excerpt(text: str, ranges: list[tuple[int, int]]) -> str:
    lines = text.splitlines()
    shown: list[str] = []
    for first, last in ranges:
        if shown:
            shown.append("…")
        shown.extend(f"{n:4d}  {lines[n - 1]}" for n in range(first, min(last, len(lines)) + 1))
        if len(shown) >= EXCERPT_LINES:
            return "\n".join([*shown[:EXCERPT_LINES], "…"])
    return "\n".join(shown)


def _entrypoint(texts: dict[str, str], assignment: Assignment) -> str | None:
    for name in assignment.spec.entrypoints:
        rel = f"{assignment.id}/{name}"
        if rel in texts and texts[rel].strip():
            return rel
    return None


def similar_pairs(
    candidates: Sequence[Candidate],
    assignments: Sequence[Assignment],
    texts: dict[str, dict[str, str]],
    boilerplate: Sequence[Path],
    settings: CopySettings,
) -> list[SimilarPair]:
    """Pairs of entrypoints sharing at least ``settings.threshold`` of their non-boilerplate code."""
    import numpy as np
    from copydetect import compare_files

    who = {c.key: c for c in candidates}
    blocks = [b for path in boilerplate for b in _code_blocks(path)]
    known: dict[str, Any] = {}
    pairs: list[SimilarPair] = []
    for assignment in assignments:
        entries = {c.key: rel for c in candidates if (rel := _entrypoint(texts[c.key], assignment))}
        by_language: dict[str, list[str]] = defaultdict(list)
        for key, rel in entries.items():
            language = LANGUAGES.get(Path(rel).suffix)
            if language is not None:
                by_language[language].append(key)
        for language, keys in by_language.items():
            if language not in known:
                # Boilerplate is fingerprinted as the students' language: the same code normalises the same.
                hashes = set().union(*(_fingerprint("boilerplate", b, language).hashes for b in blocks))
                known[language] = np.array(sorted(hashes), dtype=np.int64)
            # Identical files (common for a one-line script) are fingerprinted once: lexing is the cost.
            by_text: dict[str, Any] = {}
            for k in keys:
                text = texts[k][entries[k]]
                if text not in by_text:
                    by_text[text] = _fingerprint(entries[k], text, language, known[language])
            prints = {k: by_text[texts[k][entries[k]]] for k in keys}
            holders: dict[int, list[str]] = defaultdict(list)
            for k, fp in prints.items():
                for h in fp.hashes:
                    holders[h].append(k)
            common = {h for h, ks in holders.items() if len(ks) > settings.max_common}
            if common:
                for fp in by_text.values():
                    _drop(fp, common)
                holders = {h: ks for h, ks in holders.items() if h not in common}
            # Only pairs that share a fingerprint at all are compared (an inverted index, not n² work).
            shared: dict[tuple[str, str], int] = defaultdict(int)
            for ks in holders.values():
                if len(ks) > 1:
                    for pair in itertools.combinations(sorted(ks), 2):
                        shared[pair] += 1
            for ka, kb in sorted(shared):
                matched, (sim_a, sim_b), (slices_a, slices_b) = compare_files(prints[ka], prints[kb])
                similarity = min(float(sim_a), float(sim_b))
                if similarity < settings.threshold or int(matched) < settings.min_tokens:
                    continue
                text_a, text_b = texts[ka][entries[ka]], texts[kb][entries[kb]]
                lines_a, lines_b = _ranges(text_a, slices_a), _ranges(text_b, slices_b)
                pairs.append(
                    SimilarPair(
                        assignment=assignment.id, a=who[ka].student_id, a_key=ka, b=who[kb].student_id,
                        b_key=kb, file_a=entries[ka], file_b=entries[kb], similarity=round(similarity, 3),
                        similarity_a=round(float(sim_a), 3), similarity_b=round(float(sim_b), 3),
                        matched=int(matched), lines_a=lines_a, lines_b=lines_b,
                        excerpt_a=_excerpt(text_a, lines_a), excerpt_b=_excerpt(text_b, lines_b),
                    )
                )  # fmt: skip
    return sorted(pairs, key=lambda p: (-p.similarity, p.assignment, p.a, p.b))


def find_copies(
    candidates: Sequence[Candidate],
    assignments: Sequence[Assignment],
    settings: CopySettings,
    *,
    base: Path,
) -> CopyEvidence:
    """Both kinds of evidence over ``candidates``; ``base`` resolves relative boilerplate paths."""
    extra = [p if p.is_absolute() else base / p for p in map(Path, settings.boilerplate)]
    boilerplate = boilerplate_files(assignments, extra)
    texts = {c.key: _texts(c.root) for c in candidates}
    boilerplate_text = "\n".join(b for path in boilerplate for b in _code_blocks(path))
    try:
        import copydetect  # noqa: F401  (an optional extra: grader[copies])
    except ImportError:
        similar: list[SimilarPair] = []
        note = "entrypoints were not compared: copydetect is not installed (pip install 'grader[copies]')"
    else:
        similar, note = similar_pairs(candidates, assignments, texts, boilerplate, settings), ""
    return CopyEvidence(
        threshold=settings.threshold,
        min_tokens=settings.min_tokens,
        max_common=settings.max_common,
        compared=len(candidates),
        boilerplate=[str(p) for p in boilerplate],
        parameters=parameter_evidence(candidates, assignments, texts, boilerplate_text),
        similar=similar,
        similarity_note=note,
    )
