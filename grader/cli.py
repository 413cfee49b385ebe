"""Command line: ``grader setup | cluster up | list | check | validate | batch | serve | submit``."""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

from grader.errors import ExitCode, GraderError, UsageError

__all__ = ["ExitCode", "build_parser", "main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(ExitCode.USAGE, f"{self.prog}: error: {message}\n")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _whole(text: str, least: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number; {what}") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"{value} is too small; {what}")
    return value


def seed_value(text: str) -> int:
    """``--seed``, ``--course-seed``: a whole number >= 0 (what the reports print to re-run with)."""
    return _whole(text, 0, "pass a seed >= 0, e.g. one printed in a report")


def count_value(text: str) -> int:
    """``--brokers``, ``--jobs``: a whole number >= 1."""
    return _whole(text, 1, "pass 1 or more")


def port_value(text: str) -> int:
    """``--port``: a TCP port."""
    value = _whole(text, 1, "pass a port from 1 to 65535")
    if value > 65535:
        raise argparse.ArgumentTypeError(f"{value} is too large; pass a port from 1 to 65535")
    return value


def seconds_value(text: str) -> float:
    """``--timeout``: a number of seconds > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number; pass seconds > 0, e.g. 600") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a time limit; pass seconds > 0, e.g. 600")
    return value


def cmd_setup(args: argparse.Namespace) -> int:
    from grader.runtime.cluster import class_archive
    from grader.runtime.jars import ensure_runtime
    from grader.runtime.spark_cds import timed_build

    runtime = ensure_runtime(verify=args.verify)
    for line in runtime.describe():
        print(line)
    archive = class_archive(runtime)
    print(f"Broker class-data archive: {archive or 'not available (brokers start without it)'}")
    spark_archive, seconds = timed_build(runtime)
    print(
        f"Spark class-data archive: {spark_archive} ({seconds:.1f} s)"
        if spark_archive
        else "Spark class-data archive: not available (Spark starts without it, ~2 s slower)"
    )
    print("Runtime ready" + (" (checksums verified)." if args.verify else "."))
    return ExitCode.OK


def cmd_cluster_up(args: argparse.Namespace) -> int:
    from grader.runtime.cluster import MAX_VOTERS, KafkaCluster
    from grader.runtime.jars import ensure_runtime
    from grader.runtime.shims import install

    if args.port is not None:
        # Brokers listen on PORT.., their controllers on PORT+100..: all of them must be ports.
        last = max(args.port + args.brokers - 1, args.port + 100 + min(args.brokers, MAX_VOTERS) - 1)
        if last > 65535:
            raise UsageError(
                f"--port {args.port} with {args.brokers} broker(s) needs ports up to {last} "
                f"(brokers from {args.port}, controllers from {args.port + 100}); "
                f"pass --port {65535 - last + args.port} or lower"
            )

    # Installed here rather than inherited: a 'grader cluster up &' started from a script (or any
    # background job of a non-interactive shell) begins with SIGINT ignored, and Ctrl-C, kill -INT,
    # kill and a closed terminal must still stop the brokers and remove their files.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)
    runtime = ensure_runtime()
    with (
        tempfile.TemporaryDirectory(prefix="grader-cli-") as tmp,
        KafkaCluster(args.brokers, runtime=runtime, base_port=args.port) as cluster,
    ):
        bin_dir = Path(tmp) / "bin"
        install(
            bin_dir,
            python=sys.executable,
            java=str(runtime.java.executable),
            classpath=runtime.kafka_classpath,
            log4j=runtime.tools_log4j,
            bootstrap=cluster.bootstrap_servers,
            log_file=Path(tmp) / "translations.jsonl",
        )
        env_file = Path(tmp) / "env.sh"
        env_file.write_text(
            f'export PATH="{bin_dir}:$PATH"\nexport BOOTSTRAP_SERVERS="{cluster.bootstrap_servers}"\n'
        )
        print(
            f"Kafka cluster with {args.brokers} broker(s) is ready "
            f"(KRaft, started in {cluster.start_seconds:.1f} s)"
        )
        print(f"  bootstrap servers: {cluster.bootstrap_servers}")
        print(f"  broker ids:        {', '.join(map(str, cluster.broker_ids))}")
        print("\nIn another terminal:")
        print(f"  source {env_file}")
        print("  kafka-topics --bootstrap-server $BOOTSTRAP_SERVERS --list")
        print(
            "  kafka-topics --bootstrap-server $BOOTSTRAP_SERVERS --create --partitions 6 "
            "--replication-factor 2 --topic hob2026XX-topic"
        )
        print("  kafka-topics --bootstrap-server $BOOTSTRAP_SERVERS --describe --topic hob2026XX-topic")
        print(
            "  seq 20 | kafka-console-producer --bootstrap-server $BOOTSTRAP_SERVERS --topic hob2026XX-topic"
        )
        print(
            "  kafka-console-consumer --bootstrap-server $BOOTSTRAP_SERVERS --topic hob2026XX-topic "
            "--from-beginning --partition 0"
        )
        print(
            "The seminar's 2019 commands (--zookeeper HOST:2181, --broker-list, --new-consumer) work too: "
            "they are translated and the modern form is printed."
        )
        print("\nPress Ctrl-C to stop; the cluster and its data are removed.", flush=True)
        began = time.monotonic()
        while True:
            for node in cluster.nodes:
                if not node.alive():
                    print(
                        f"broker {node.node_id} stopped unexpectedly; last log lines:\n{node.log_tail()}",
                        file=sys.stderr,
                    )
                    return ExitCode.GRADER_ERROR
            if args.for_seconds is not None and time.monotonic() - began > args.for_seconds:
                return ExitCode.OK
            time.sleep(0.5)


def cmd_list(args: argparse.Namespace) -> int:
    from grader.registry import discover

    if args.json:
        import json

        from grader.registry import describe

        print(json.dumps([describe(a) for a in discover()], indent=2))
        return ExitCode.OK
    for a in discover():
        print(f"{a.id:<20} {a.spec.points:>4g} pts  {' | '.join(a.spec.entrypoints):<40} {a.spec.title}")
        params = ", ".join(f"${name}" for name in a.spec.params)
        if params:
            print(f"{'':<20}           parameters: {params}")
    return ExitCode.OK


def _print_result(result, paths: dict[str, Path], verbosity: int = 0) -> None:  # type: ignore[no-untyped-def]
    from grader.results import Status

    marks = {Status.PASSED: "PASS", Status.FAILED: "FAIL", Status.ERROR: "ERROR", Status.SKIPPED: "SKIP"}
    if verbosity < 0:
        print(f"{result.points:g}/{result.max_points:g} {result.outcome} (seed {result.seed})")
        return
    for a in result.assignments:
        print(f"\n{a.title} [{a.id}]: {a.points:g}/{a.max_points:g}")
        if a.error:
            print(f"  GRADER ERROR: {a.error}")
        for c in a.checks:
            print(f"  {marks[c.status]:<5} {c.points:g}/{c.max_points:g}  {c.title}")
            if c.status is not Status.PASSED or verbosity > 0:
                lines = c.message.splitlines()
                for line in lines if verbosity > 0 else lines[:6]:
                    print(f"          {line}")
                if c.hint:
                    print(f"          hint: {c.hint}")
                if verbosity > 1 and c.details:
                    print("          details:\n" + c.details)
        for n in a.notes:
            print(f"  note: {n.text}")
    print(
        f"\nTotal: {result.points:g}/{result.max_points:g}   (seed {result.seed}; "
        f"re-run with --seed {result.seed} for the same parameters)"
    )
    if verbosity > 0:
        print("Timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in result.timings.items()))
    if "html" in paths:
        print(f"Report: {paths['html']}")
    for kind, path in paths.items():
        if kind != "html" and (verbosity > 0 or "html" not in paths):
            print(f"{kind}: {path}")


def _assignment_ids(selected: list[str] | None) -> list[str]:
    """The course's assignment ids; an unknown ``-a`` is a usage error before anything is written.

    A broken course set-up gives no ids: the command itself reports it (for a platform, in its
    results file), so it is not raised here.
    """
    from grader.registry import discover, select

    try:
        select(selected)
        return [a.id for a in discover()]
    except UsageError:
        raise
    except GraderError:
        return []


SUBMISSION_HINT = "pass the folder that holds topic-create/, produce-sequence/, ..."


def _check_paths(args: argparse.Namespace) -> tuple[Path, Path]:
    """``grader check``'s submission and report folder, validated before any grading starts."""
    from grader import api
    from grader.paths import input_folder, output_folder, writable_layout
    from grader.report import default_out_for, report_targets
    from grader.results import SCHEMA_FILE

    submission = input_folder(Path(args.submission), hint=SUBMISSION_HINT, walk=True, skip=api.NOT_SUBMITTED)
    default = default_out_for(args.format) or api.default_out(submission)
    out = Path(args.out) if args.out else default
    targets = report_targets(args.format, out)  # a clash of file names: before anything is created
    files = [t.relative_to(out) for t in targets.values()]
    if "json" in targets:
        files.append(targets["json"].relative_to(out).parent / SCHEMA_FILE)
    output_folder(
        out,
        "--out",
        submission,
        given=bool(args.out),
        default=default,
        writes=[*files, "logs"],
        assignment_ids=_assignment_ids(args.assignment),
    )
    writable_layout(out, files=files, folders=["logs"], option="--out")
    return submission, out


def cmd_check(args: argparse.Namespace) -> int:
    from grader import api
    from grader.sandbox import factory

    submission, out = _check_paths(args)
    result, paths = api.check(
        submission,
        args.assignment,
        out=out,
        seed=args.seed,
        sandbox_factory=factory(args.sandbox),
        formats=args.format,
        view="student" if args.student_view else "ta",
    )
    _print_result(result, paths, args.verbose - args.quiet)
    if result.has_error:
        return ExitCode.GRADER_ERROR
    return ExitCode.OK if result.passed else ExitCode.FAILED


def cmd_validate(args: argparse.Namespace) -> int:
    from grader import api
    from grader.paths import input_folder, output_folder

    if args.references:
        references = input_folder(
            Path(args.references),
            "--references",
            hint="pass the course-private folder with one <assignment id>/ reference solution each",
        )
        os.environ["GRADER_REFERENCES"] = str(references.resolve())
    if args.out:
        output_folder(Path(args.out), "--out")

    report = api.validate(
        args.assignment,
        out=Path(args.out) if args.out else None,
        seed=args.seed,
        sandbox=args.sandbox,
        jobs=args.jobs,
        with_cases=not args.quick,
    )
    for line in report.lines:
        print(line)
    for problem in report.problems:
        print(f"PROBLEM: {problem}")
    graded = sum(len(columns) for columns in report.columns.values())
    print(
        f"validate: {'OK' if report.ok else f'{len(report.problems)} problem(s)'} "
        f"({graded} submissions of {len(report.columns)} assignments in {report.duration_s:g} s)"
    )
    return ExitCode.OK if report.ok else ExitCode.FAILED


def cmd_template(args: argparse.Namespace) -> int:
    from grader.assemble import template
    from grader.registry import select

    folder = template(select(args.assignment), Path(args.out))
    print(f"Student template: {folder} (student_template/ and each assignment's stub/)")
    return ExitCode.OK


def cmd_examples(args: argparse.Namespace) -> int:
    from grader.assemble import examples
    from grader.registry import select

    for folder in examples(select(None), Path(args.out), args.name or None):
        print(folder)
    return ExitCode.OK


def cmd_new(args: argparse.Namespace) -> int:
    from grader.registry import assignments_root, discover
    from grader.scaffold import scaffold

    root = assignments_root()
    order = max((a.spec.order for a in discover(root)), default=0) + 1
    folder = scaffold(root, args.id, order)
    print(f"New assignment: {folder}")
    print(f"  check that it validates:  grader validate -a {args.id}")
    print("  then make it yours: spec.toml, checks.py, README.md, reference/, stub/, cases/*/expect.toml")
    return ExitCode.OK


BATCH_SOURCE_HINT = "pass the folder or zip with the class's submissions"


def _batch_paths(args: argparse.Namespace) -> tuple[Path, Path | None, Path]:
    """``grader batch``'s submissions, roster and output folder, validated before any work starts.

    ``--out`` may hold an earlier run (``--resume``): only a non-folder or an unwritable one is
    refused, and one that overlaps the submissions.
    """
    from grader.batch.intake import is_archive
    from grader.batch.run import WORK_DIR
    from grader.paths import READABLE_FIX, input_file, input_folder, is_inside, kind, output_folder

    source = Path(args.submissions)
    source_kind = kind(source, str(source), READABLE_FIX)
    if source_kind in ("missing", "dangling"):
        raise UsageError(f"{source} does not exist; {BATCH_SOURCE_HINT}")
    if source_kind == "dir":
        input_folder(source, hint=BATCH_SOURCE_HINT)
    else:
        input_file(source, "", what="zip or tar archive", hint=BATCH_SOURCE_HINT)
        if not is_archive(source):
            raise UsageError(f"{source} is neither a folder nor a zip/tar archive of submissions")
    roster = None
    if args.roster:
        roster = input_file(
            Path(args.roster),
            "--roster",
            what="CSV file",
            hint="pass the class roster as CSV (UTF-8) with id, name, email, login columns",
            encoding="utf-8-sig",
        )
    out = Path(args.out)
    if source_kind == "dir" and out.resolve() == source.resolve():
        raise UsageError(
            f"--out {out} is the submissions folder: the batch would replace the students' folders "
            "with their reports; pass a folder outside it"
        )
    if source_kind == "dir" and is_inside(out, source):
        raise UsageError(
            f"--out {out} is inside the submissions folder {source}: it would be graded as one more "
            "student's submission; pass a folder outside it"
        )
    if is_inside(source, out) and not (source_kind != "dir" and source.resolve().parent == out.resolve()):
        raise UsageError(
            f"the submissions {source} are inside --out {out}, where the batch rewrites one folder "
            f"per student and empties {WORK_DIR}/ at every start; keep the submissions outside --out"
        )
    output_folder(out, "--out")
    return source, roster, out


def cmd_batch(args: argparse.Namespace) -> int:
    from datetime import datetime

    from grader.batch import BatchOptions, run_batch
    from grader.batch.progress import make_progress

    try:
        deadline = datetime.fromisoformat(args.deadline) if args.deadline else None
    except ValueError as exc:
        raise UsageError(f"--deadline {args.deadline!r}: use ISO 8601, e.g. 2026-12-01T23:59+01:00") from exc
    source, roster, out = _batch_paths(args)
    from grader.paths import input_file

    course_files: dict[str, Path | None] = {}
    for option, hint in (
        ("policy", "pass the course's course.toml (deadlines, late penalties, grace days)"),
        ("overrides", "pass the course's overrides.csv or overrides.toml"),
        ("extensions", "pass a CSV with student, assignment, due (or days) and comment columns"),
    ):
        value = getattr(args, option)
        checked = input_file(Path(value), f"--{option}", hint=hint, encoding="utf-8-sig") if value else None
        course_files[option] = checked
    opts = BatchOptions(
        source=source,
        out=out,
        assignment_ids=args.assignment,
        roster=roster,
        jobs=args.jobs,
        sandbox=args.sandbox,
        resume=args.resume,
        rerun_errors=args.rerun_errors,
        course_seed=args.course_seed,
        deadline=deadline,
        timeout_s=args.timeout,
        layout=args.layout,
        policy=course_files["policy"],
        overrides=course_files["overrides"],
        extensions=course_files["extensions"],
        exports=list(dict.fromkeys(args.export or [])),
    )
    executor = None
    if args.scheduler:
        from grader.batch.dask import DaskExecutor

        executor = DaskExecutor(args.scheduler)
    outcome = run_batch(opts, executor=executor, progress=make_progress())
    print(
        f"\n{outcome.layout} layout, course seed {outcome.course_seed}: {outcome.graded} graded now, "
        f"{outcome.kept} kept from before"
    )
    for status, n in outcome.counts.items():
        if n:
            print(f"  {status:<13} {n:>4}")
    print(f"Class page: {outcome.paths['index']}")
    print(f"Gradebook:  {outcome.paths['gradebook']}")
    exports = {
        "moodle_worksheet": "Moodle grading worksheet",
        "moodle_feedback": "Moodle feedback zip",
        "canvas_gradebook": "Canvas gradebook",
    }
    for name, label in exports.items():
        if name in outcome.paths:
            print(f"{label}: {outcome.paths[name]}")
    if any(r.status.grader_side for r in outcome.records):
        print("Some submissions hit grader errors or time-outs; re-run them with --rerun-errors.")
        return ExitCode.GRADER_ERROR
    return ExitCode.OK if all(r.status.value == "passed" for r in outcome.records) else ExitCode.FAILED


def cmd_package_gradescope(args: argparse.Namespace) -> int:
    from grader.package.gradescope import build_package
    from grader.paths import output_file

    out = output_file(Path(args.out), "--out", what="zip file", example="autograder.zip")
    built = build_package(out, args.assignment)
    names = ", ".join(built.assignments)
    print(f"Gradescope autograder: {built.path} ({built.size_kb} KiB; assignments: {names})")
    print("Upload it as the assignment's autograder (see README: 'Gradescope').")
    return ExitCode.OK


def _verbosity_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("-q", "--quiet", action="count", default=0, help="print only the total")
    p.add_argument(
        "-v", "--verbose", action="count", default=0, help="print every check's message (-vv: details)"
    )


def cmd_image_build(args: argparse.Namespace) -> int:
    from grader.runtime.jars import ensure_runtime
    from grader.sandbox.image import build, describe

    result = build(ensure_runtime(), force=args.force, log=lambda line: print(line, flush=True))
    print(describe(result))
    return ExitCode.OK


def cmd_doctor(args: argparse.Namespace) -> int:
    from grader.doctor import diagnose

    findings = diagnose()
    for f in findings:
        print(f"{'ok' if f.ok else 'MISSING':<8} {f.name:<28} {f.found}")
        if not f.ok:
            print(f"{'':<8} {'':<28} fix: {f.fix}   (needed for {f.needed_for})")
    required = [f for f in findings if f.needed_for == "grading"]
    return ExitCode.OK if all(f.ok for f in required) else ExitCode.FAILED


def _sandbox_option(p: argparse.ArgumentParser) -> None:
    from grader.sandbox import KINDS

    p.add_argument(
        "--sandbox",
        choices=list(KINDS),
        default=os.environ.get("GRADER_SANDBOX", "auto"),
        help="where student code runs: docker (a fresh locked-down container per submission), local "
        "(processes of your user, unisolated) or auto (docker when the engine and the grading image "
        "are there, else local with a warning); default: $GRADER_SANDBOX or auto",
    )


def build_parser() -> argparse.ArgumentParser:
    """The whole command line; the choices come from what the grader has (formats, sandboxes, layouts)."""
    from grader.batch.intake import LAYOUTS
    from grader.report import FORMATS

    parser = _Parser(
        prog="grader",
        description="Grades the Kafka + Spark Streaming seminar's assignments "
        "on a real Kafka cluster and real Spark.",
    )
    from grader import __version__

    parser.add_argument("--version", action="version", version=f"grader {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser(
        "setup", help="find Java, fetch and cache the Kafka and Spark-Kafka jars (safe to re-run)"
    )
    p.add_argument("--verify", action="store_true", help="re-check every cached jar's SHA-256")
    p.set_defaults(func=cmd_setup)

    p = sub.add_parser("cluster", help="a practice Kafka cluster like the seminar's")
    csub = p.add_subparsers(dest="cluster_command", required=True, parser_class=_Parser)
    up = csub.add_parser("up", help="start N brokers until Ctrl-C")
    up.add_argument("--brokers", type=count_value, default=3, help="number of brokers (default 3)")
    up.add_argument("--port", type=port_value, default=None, help="first broker port (default: free ports)")
    up.add_argument("--for-seconds", type=float, default=None, help=argparse.SUPPRESS)
    up.set_defaults(func=cmd_cluster_up)

    p = sub.add_parser("list", help="the assignments, their points and entrypoints")
    p.add_argument("--json", action="store_true", help="as JSON (specs, parameters, checks and their points)")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("check", help="grade a submission folder and write its reports")
    p.add_argument("submission", help="folder with one sub-folder per assignment (like student_template/)")
    p.add_argument("-a", "--assignment", action="append", help="only this assignment (repeatable)")
    p.add_argument("--out", help="report folder (default reports/<submission name>)")
    p.add_argument("--seed", type=seed_value, help="parameter seed (default: random; printed in the report)")
    p.add_argument(
        "--format",
        action="append",
        choices=list(FORMATS),
        help="write only this report under its platform's file name (repeatable); gradescope or "
        "prairielearn alone default --out to the platform's folder (/autograder/results, /grade/results)",
    )
    p.add_argument(
        "--student-view", action="store_true", help="HTML report without checks students may not see yet"
    )
    _verbosity_options(p)
    _sandbox_option(p)
    p.set_defaults(func=cmd_check)

    p = sub.add_parser(
        "validate",
        help="course CI: references get full marks, stubs zero, every case what its expect.toml says; "
        "prints the kill matrix",
    )
    p.add_argument("-a", "--assignment", action="append", help="only this assignment (repeatable)")
    p.add_argument("--jobs", type=count_value, help="submissions graded at once (default: what fits)")
    p.add_argument("--quick", action="store_true", help="references and stubs only, not the cases")
    p.add_argument("--out", help="also write the reports here")
    p.add_argument("--seed", type=seed_value, help="parameter seed (default: random)")
    p.add_argument(
        "--references",
        help="course-private folder with one <assignment id>/ reference solution each "
        "(default: $GRADER_REFERENCES, else assignments/<id>/reference/)",
    )
    _sandbox_option(p)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("template", help="assemble the student template (student_template/ + each stub)")
    p.add_argument("--out", required=True, help="folder to write (new, or one written by this before)")
    p.add_argument("-a", "--assignment", action="append", help="only this assignment (repeatable)")
    p.set_defaults(func=cmd_template)

    p = sub.add_parser("examples", help="assemble the example submissions from the cases that name them")
    p.add_argument("--out", required=True, help="folder to write them into, one sub-folder each")
    p.add_argument("name", nargs="*", help="only these examples (default: all)")
    p.set_defaults(func=cmd_examples)

    p = sub.add_parser("new", help="scaffold a new assignment that validates (spec, checks, README, ...)")
    p.add_argument("id", help="the assignment's id and folder name, e.g. delivery-semantics")
    p.set_defaults(func=cmd_new)

    p = sub.add_parser("image", help="the docker grading image")
    isub = p.add_subparsers(dest="image_command", required=True, parser_class=_Parser)
    b = isub.add_parser(
        "build", help="build the grading image from docker/ (re-used when inputs are unchanged)"
    )
    b.add_argument("--force", action="store_true", help="rebuild the base and the image even if they exist")
    b.set_defaults(func=cmd_image_build)

    p = sub.add_parser(
        "doctor", help="what is installed or missing (Java, jars, docker, image) and how to fix it"
    )
    p.set_defaults(func=cmd_doctor)

    p = sub.add_parser("package", help="build a grading platform's autograder bundle")
    psub = p.add_subparsers(dest="package_command", required=True, parser_class=_Parser)
    gs = psub.add_parser(
        "gradescope", help="the Gradescope autograder zip (setup.sh, run_autograder, the grader)"
    )
    gs.add_argument("--out", default="autograder.zip", help="zip to write (default autograder.zip)")
    gs.add_argument("-a", "--assignment", action="append", help="only this assignment (repeatable)")
    gs.set_defaults(func=cmd_package_gradescope)

    p = sub.add_parser("batch", help="grade a whole class: gradebook.csv, index.html, one report per student")
    p.add_argument(
        "submissions",
        help="folder of per-student folders or archives, or an LMS download "
        "(Moodle, Canvas, Gradescope export, GitHub Classroom clones; folder or zip)",
    )
    p.add_argument("--out", required=True, help="output folder (reports, gradebook.csv, index.html)")
    p.add_argument("-a", "--assignment", action="append", help="only this assignment (repeatable)")
    p.add_argument("--roster", help="CSV with id, name, email, login columns to join")
    p.add_argument("--jobs", type=count_value, help="sandboxes at once (default: what memory and CPUs allow)")
    p.add_argument(
        "--resume",
        action="store_true",
        help="keep every result whose submission, assignments and seed are unchanged",
    )
    p.add_argument(
        "--rerun-errors",
        action="store_true",
        help="like --resume, but also regrade grader errors, time-outs and crashes",
    )
    p.add_argument(
        "--course-seed",
        type=seed_value,
        help="seed from which each student's parameters derive (default: the one in --out, else new)",
    )
    p.add_argument("--deadline", help="GitHub Classroom: grade the last commit before this ISO time")
    p.add_argument("--timeout", type=seconds_value, help="wall-clock limit per submission in seconds")
    p.add_argument(
        "--layout",
        default="auto",
        choices=["auto", *LAYOUTS],
    )
    p.add_argument("--scheduler", help="grade on a Dask cluster at this address (tcp://HOST:8786)")
    p.add_argument("--policy", help="course.toml: course seed, time zone, due dates, late penalties, grace")
    p.add_argument("--overrides", help="overrides.csv / .toml: a TA's changes, applied after every grading")
    p.add_argument("--extensions", help="extensions.csv: per-student due dates (student, assignment, due)")
    p.add_argument(
        "--export",
        action="append",
        choices=["moodle", "canvas"],
        help="also write an LMS import: moodle (grading worksheet + feedback zip), canvas (gradebook CSV)",
    )
    _sandbox_option(p)
    p.set_defaults(func=cmd_batch)

    from grader.serve.cli import register as register_service

    register_service(sub, count=count_value, port=port_value, seconds=seconds_value, sandbox=_sandbox_option)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns an :class:`ExitCode`."""
    args = build_parser().parse_args(argv)
    # Our own handlers, whatever we inherited: a background job of a non-interactive shell starts with
    # SIGINT ignored, and Ctrl-C must still stop every process and container and clean up.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("\ninterrupted: stopped every process and removed temp files", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except GraderError as exc:  # each error class knows its exit status (usage 4, grader error 3)
        print(f"grader: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    finally:
        sys.stdout.flush()
