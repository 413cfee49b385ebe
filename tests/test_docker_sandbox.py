"""DockerSandbox on a real engine: the same grades as the local sandbox, and hostile submissions contained.

Each hostile behaviour is run inside one shared container (as separate runs, like separate
assignments of one submission); after each the test asserts what a trustworthy grader guarantees:
the run ended within its limit, the brokers it is graded on still run, no process of the student's
is left, and the grader itself carried on normally.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import wait_until
from grading import assert_full_marks_with_overlap, grade_example

from grader.kafka_util import KafkaView
from grader.registry import select
from grader.results import Status
from grader.runner import grade_submission
from grader.sandbox import Sandbox, SandboxProcess
from grader.spec import Limits

pytestmark = [pytest.mark.docker, pytest.mark.kafka]


@pytest.fixture(scope="session")
def docker_ready() -> None:
    from grader.sandbox.docker import docker_unavailable_reason

    reason = docker_unavailable_reason()
    if reason is not None:
        pytest.skip(f"docker sandbox unavailable: {reason} (scripts/docker-setup.sh sets it up)")


def _leftovers() -> tuple[list[str], list[str], list[str]]:
    import docker

    from grader.sandbox.docker import LABEL

    client = docker.from_env()
    containers = [c.name for c in client.containers.list(all=True, filters={"label": LABEL})]
    networks = [n.name for n in client.networks.list(filters={"label": LABEL})]
    dirs = [str(p) for p in Path(sys.modules["tempfile"].gettempdir()).glob("grader-docker-*")]
    return containers, networks, dirs


def _docker_factory(sub: Path, brokers: int, limits: Limits) -> Sandbox:
    from grader.sandbox.docker import DockerSandbox

    return DockerSandbox(sub, brokers=brokers, limits=limits)


@pytest.mark.spark
def test_a_whole_submission_with_overlapping_assignments_in_one_container(docker_ready):
    assert_full_marks_with_overlap(grade_example("good-student", _docker_factory))
    assert _leftovers() == ([], [], [])


# -- the same grades as the local sandbox --------------------------------------------------------------


def test_every_case_of_assignments_1_to_3_gets_the_same_checks_in_docker(docker_ready):
    """``grader validate`` in docker: every reference, stub and case of assignments 1-3 gets what its
    expect.toml says, as locally (cases that damage their cluster on purpose are contained in a
    container, so they are left out)."""
    from grader import api

    report = api.validate(
        ["topic-create", "produce-sequence", "consume-partition"],
        sandbox="docker",
        jobs=1,
        select_case=lambda case: not case.expect.alone,
    )
    assert report.ok, "\n".join(report.problems + report.lines)
    assert {r.sandbox for r in report.results.values()} == {"docker"}
    assert _leftovers() == ([], [], [])


def test_a_submissions_odd_files_are_its_own_in_docker(docker_ready, tmp_path):
    """A FIFO is left out of the container's copy (named in a note) and grading goes on; a sparse giant
    is refused before any container exists (a failed check, not a grader error)."""
    (a,) = select(["topic-create"])
    submission = tmp_path / "submission"
    shutil.copytree(a.reference, submission / a.id)
    os.mkfifo(submission / a.id / "pipe")
    result = grade_submission(submission, [a], seed=11, sandbox_factory=_docker_factory)
    (res,) = result.assignments
    assert res.points == res.max_points, {c.id: c.message for c in res.checks}
    assert any("topic-create/pipe (a named pipe) was left out" in n.text for n in res.notes)
    with (submission / a.id / "core").open("wb") as f:
        f.truncate(1 << 30)
    refused = grade_submission(submission, [a], seed=11, sandbox_factory=_docker_factory)
    assert not refused.has_error
    assert refused.assignments[0].checks[0].message.startswith(
        "the submission was not graded: topic-create/core is 1 GiB"
    )
    assert _leftovers() == ([], [], [])


WORDCOUNT_IN_DOCKER = ["reference", "per_batch", "import_error"]


@pytest.mark.spark
@pytest.mark.parametrize("name", WORDCOUNT_IN_DOCKER)
def test_wordcount_gets_the_same_checks_in_docker(docker_ready, tmp_path, name):
    """Spark in the container: the reference, a wrong app and a crashing one, as locally.

    (Each costs a minute or more in a container; the other wrong word counts share these code
    paths and are graded locally by tests/test_validate.py.)
    """
    from grader.cases import judge, load_case

    (a,) = select(["stateful-wordcount"])
    submission = tmp_path / "submission"
    shutil.copytree(a.reference if name == "reference" else a.cases / name, submission / a.id)
    result = grade_submission(submission, [a], seed=4243, sandbox_factory=_docker_factory)
    (res,) = result.assignments
    if name == "reference":
        assert res.points == res.max_points, {c.id: c.message for c in res.checks}
    else:
        assert judge(load_case(a.id, a.cases / name), res, [c.id for c in a.checks]) == []
    assert _leftovers() == ([], [], [])


# -- hostile submissions ----------------------------------------------------------------------------

HOSTILE = {
    "outside.py": """
import socket, sys
results = []
for host, port in [(sys.argv[1], int(sys.argv[2])), ("192.0.2.1", 80)]:
    try:
        socket.create_connection((host, port), timeout=3).close()
        results.append(f"REACHED {host}:{port}")
    except OSError as exc:
        results.append(f"blocked {host}:{port}: {exc}")
try:
    socket.getaddrinfo("example.org", 443)
    results.append("RESOLVED a public name")
except OSError as exc:
    results.append(f"no DNS: {exc}")
print("\\n".join(results))
""",
    "forkbomb.sh": "#!/bin/bash\nbomb() { bomb | bomb & }; bomb\nsleep 5\n",
    "memory.py": "chunks = []\nwhile True:\n    chunks.append(bytearray(64 * 1024 * 1024))\n",
    "flood.sh": "#!/bin/bash\nyes 'flooding the grader'\n",
    "disk.sh": (
        "#!/bin/bash\n"
        "dd if=/dev/zero of=one-big-file bs=1M count=400 2>&1 | tail -n 1\n"
        "for i in $(seq 1 40); do dd if=/dev/zero of=fill-$i bs=1M count=100 status=none || break; done\n"
        "sleep 30\n"
    ),
    "stubborn.sh": "#!/bin/bash\ntrap '' TERM INT\nwhile true; do sleep 1; done\n",
    "daemon.sh": (
        "#!/bin/bash\n"
        "setsid nohup sleep 10000 >/dev/null 2>&1 &\n"
        "( ( sleep 10000 & ) & )\n"
        "python3 -c 'import os,time\nif os.fork()==0:\n os.setsid()\n if os.fork()==0: time.sleep(10000)' &\n"
        "echo daemons started\n"
    ),
    "killer.sh": (
        "#!/bin/bash\npkill -9 java; kill -9 -1; kill -9 1\n"
        'for p in /proc/[0-9]*; do [ "${p#/proc/}" = $$ ] || kill -9 ${p#/proc/} 2>/dev/null; done\n'
        "echo tried\n"
    ),
    "snoop.sh": (
        "#!/bin/bash\n"
        "find / -xdev \\( -name 'checks.py' -o -name reference -o -name 'results.json' "
        "-o -name 'report.html' -o -name 'grader_assignments' \\) 2>/dev/null | sed 's/^/FOUND /'\n"
        "cat /etc/shadow 2>&1 | head -n 1\n"
        "echo '<script>alert(1)</script>'\n"
    ),
}


@pytest.fixture(scope="module")
def hostile_box(docker_ready, tmp_path_factory):
    from grader.sandbox.docker import DockerSandbox

    submission = tmp_path_factory.mktemp("hostile") / "submission"
    (submission / "evil").mkdir(parents=True)
    for name, text in HOSTILE.items():
        path = submission / "evil" / name
        path.write_text(text.lstrip("\n"))
        path.chmod(0o755)
    (submission / "evil" / "leak").symlink_to("/etc/passwd")
    box = DockerSandbox(submission, brokers=3, limits=Limits(run_seconds=20, output_kb=16, file_size_mb=256))
    with box:
        yield box
    assert _leftovers() == ([], [], [])


def _student_processes(box) -> list[str]:
    _code, out = box.container.exec_run(["ps", "-o", "pid=,args=", "-u", str(box.uid)], user="10002")
    return [line for line in out.decode().splitlines() if line.strip()]


def _assert_cluster_and_grader_fine(box) -> None:
    assert box.dead_brokers() == {}
    assert _student_processes(box) == []
    view = KafkaView(box.bootstrap_servers)
    try:
        topic = f"after-{time.monotonic_ns()}"
        view.create_topic(topic, 6, 3)
        # Every broker learns of a new topic a moment later (slower under load): wait for it.
        info = wait_until(lambda: view.describe_topic(topic), f"topic {topic} in the metadata", timeout=30)
        assert len(info.partitions) == 6
    finally:
        view.close()


def _run(box, name: str, *args: str, timeout: float = 20):
    folder = box.workdir / "evil"
    cmd = ["python3", name, *args] if name.endswith(".py") else [f"./{name}", *args]
    return box.run(cmd, label=name, timeout=timeout, cwd=folder)


def test_satisfies_the_protocol_and_runs_as_an_unprivileged_user(hostile_box):
    assert isinstance(hostile_box, Sandbox)
    rec = hostile_box.run(
        [
            "sh",
            "-c",
            "id -u; cat /proc/self/status | grep -E '^(CapEff|NoNewPrivs)'; touch /usr/x 2>&1; "
            "echo $BOOTSTRAP_SERVERS; getent hosts mipt-node04.atp-fivt.org",
        ],
        label="whoami",
        timeout=20,
    )
    lines = rec.stdout.splitlines()
    assert int(lines[0]) == hostile_box.uid
    assert hostile_box.uid >= 200_000
    assert "CapEff:\t0000000000000000" in rec.stdout
    assert "NoNewPrivs:\t1" in rec.stdout
    assert "Read-only file system" in rec.stdout
    assert "127.0.0.1:9092" in rec.stdout
    assert "127.0.0.1" in lines[-1]  # the seminar's host names reach the sandbox's own brokers
    assert isinstance(hostile_box.spawn(["true"], label="t"), SandboxProcess)


def test_no_way_out_to_the_network_or_the_host(hostile_box):
    server = socket.socket()
    server.bind(("0.0.0.0", 0))
    server.listen()
    port = server.getsockname()[1]
    accepted: list[object] = []

    def accept() -> None:
        with contextlib.suppress(OSError):  # the socket is closed under it at the end
            accepted.append(server.accept())

    threading.Thread(target=accept, daemon=True).start()
    gateway = hostile_box.network.attrs["IPAM"]["Config"][0]["Gateway"]
    try:
        rec = _run(hostile_box, "outside.py", gateway, str(port))
    finally:
        server.close()
    assert "REACHED" not in rec.stdout, rec.stdout
    assert "RESOLVED" not in rec.stdout, rec.stdout
    assert rec.stdout.count("blocked") == 2
    assert not accepted
    _assert_cluster_and_grader_fine(hostile_box)


def test_fork_bomb_is_bounded(hostile_box):
    rec = _run(hostile_box, "forkbomb.sh", timeout=15)
    assert rec.returncode is not None or rec.timed_out
    _assert_cluster_and_grader_fine(hostile_box)


def test_memory_hog_loses_its_own_run_not_the_brokers(hostile_box):
    rec = _run(hostile_box, "memory.py", timeout=60)
    assert rec.returncode not in (0, None)
    _assert_cluster_and_grader_fine(hostile_box)


def test_output_flood_is_capped(hostile_box):
    rec = _run(hostile_box, "flood.sh", timeout=4)
    assert rec.timed_out
    assert rec.stdout_truncated_bytes > 0
    assert len(rec.stdout.encode()) <= 16 * 1024 + 100
    _assert_cluster_and_grader_fine(hostile_box)


def test_filling_the_disk_is_stopped(hostile_box):
    from grader.sandbox.docker import BOX_MB, _tree_size

    folder = hostile_box.workdir / "evil"
    try:
        rec = _run(hostile_box, "disk.sh", timeout=60)
        size = _tree_size(hostile_box.box, 10 * BOX_MB * 2**20)
        big = (folder / "one-big-file").stat().st_size
    finally:  # the later hostile runs share this box: never leave it full
        for leftover in [*folder.glob("fill-*"), folder / "one-big-file"]:
            leftover.unlink(missing_ok=True)
        hostile_box.disk_exceeded = False
    # No file grows past the file-size limit (256 MB here) ...
    assert big <= 256 * 2**20
    # ... and the run is killed once everything it wrote fills the sandbox's disk quota, which
    # the box's own file system enforces (as root), so nothing is written past it.
    assert rec.returncode == -9
    assert not rec.timed_out
    assert "disk quota" in rec.stderr
    # As root the box is a tmpfs of the quota's size; otherwise a watchdog (0.5 s) may be late.
    assert size <= (1 if os.geteuid() == 0 else 2) * BOX_MB * 2**20, size
    _assert_cluster_and_grader_fine(hostile_box)


def test_ignoring_sigterm_does_not_outlive_the_limit(hostile_box):
    began = time.monotonic()
    rec = _run(hostile_box, "stubborn.sh", timeout=3)
    assert rec.timed_out
    assert time.monotonic() - began < 15
    proc = hostile_box.spawn(["./stubborn.sh"], label="stop me", cwd=hostile_box.workdir / "evil")
    assert proc.wait(1) is None
    assert proc.terminate(grace=1) is not None
    _assert_cluster_and_grader_fine(hostile_box)


def test_daemons_die_with_the_run(hostile_box):
    rec = _run(hostile_box, "daemon.sh")
    assert rec.returncode == 0
    assert "daemons started" in rec.stdout
    _assert_cluster_and_grader_fine(hostile_box)


def test_overlapping_runs_end_separately(hostile_box):
    # The runner grades short assignments while the word count's app waits: the end of a short run
    # kills what it started (here: three kinds of daemon), never the app of the run still going.
    app = hostile_box.spawn(["sh", "-c", "exec sleep 555"], label="app", cwd=hostile_box.workdir)
    try:
        time.sleep(0.5)
        rec = _run(hostile_box, "daemon.sh")
        assert rec.returncode == 0
        assert "daemons started" in rec.stdout
        assert app.poll() is None, "the end of the short run killed the app's run"
        left = _student_processes(hostile_box)
        assert left
        assert all(line.split(None, 1)[1] == "sleep 555" for line in left), left
        # ...and stopping the app's run (the grader's SIGTERM) does not touch a run started since.
        short = hostile_box.spawn(["sh", "-c", "exec sleep 556"], label="short", cwd=hostile_box.workdir)
        assert app.terminate(grace=2) is not None
        assert short.poll() is None
        assert short.terminate(grace=2) is not None
    finally:
        app.terminate(grace=0)
    _assert_cluster_and_grader_fine(hostile_box)


@pytest.mark.spark
def test_the_images_spark_archive_is_accepted_by_a_students_spark(hostile_box):
    from test_spark_cds import STRICT_SESSION

    rec = hostile_box.run(["python3", "-c", STRICT_SESSION], label="spark", timeout=180)
    assert rec.returncode == 0, rec.stderr[-2000:]
    assert "count 7" in rec.stdout


def test_killing_the_brokers_is_impossible(hostile_box):
    rec = _run(hostile_box, "killer.sh")
    assert "tried" in rec.stdout
    _assert_cluster_and_grader_fine(hostile_box)


def test_nothing_of_the_grader_to_find_and_no_host_files(hostile_box):
    rec = _run(hostile_box, "snoop.sh", timeout=60)
    found = [ln for ln in rec.stdout.splitlines() if ln.startswith("FOUND ")]
    assert found == [], found
    assert "root:" not in rec.stdout  # /etc/shadow is not readable
    # A link in the submission stays a link: inside it names the container's own /etc/passwd, and the
    # grader on the host never reads through links in the box.
    assert (hostile_box.workdir / "evil" / "leak").is_symlink()
    reading = hostile_box.run(
        ["head", "-n", "1", "leak"], label="l", timeout=10, cwd=hostile_box.workdir / "evil"
    )
    assert reading.stdout.startswith("root:x:0:0")
    _assert_cluster_and_grader_fine(hostile_box)


def test_html_in_student_output_is_escaped_in_the_report(hostile_box, tmp_path):
    from grader.report.html import render_html
    from grader.results import AssignmentResult, SubmissionResult

    rec = _run(hostile_box, "snoop.sh", timeout=60)
    result = SubmissionResult(submission="evil", seed=1, grader_version="t", started_at=datetime.now(UTC))
    result.assignments.append(AssignmentResult(id="evil", title="Evil", max_points=1, runs=[rec]))
    html = render_html(result)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


# -- life cycle ---------------------------------------------------------------------------------------


def test_leftovers_of_a_dead_grader_are_swept(docker_ready):
    import docker

    from grader.sandbox.docker import LABEL, OWNER_LABEL, expected_image, sweep

    client = docker.from_env()
    dead = subprocess.Popen(["true"])
    dead.wait()
    orphan = client.containers.create(
        expected_image(),
        command=["status"],
        labels={LABEL: "1", OWNER_LABEL: f"{socket.gethostname()}:{dead.pid}"},
    )
    # A grader killed with -9 also leaves its temp folder (with the box mounted, as root).
    from grader.sandbox.docker import OWNER_FILE, _mount_quota

    folder = Path(tempfile.mkdtemp(prefix="grader-docker-"))
    (folder / OWNER_FILE).write_text(f"{socket.gethostname()}:{dead.pid}", encoding="utf-8")
    (folder / "box").mkdir()
    mounted = _mount_quota(folder / "box")
    assert mounted == (os.geteuid() == 0)
    (folder / "box" / "left.txt").write_text("from a dead grader", encoding="utf-8")
    removed = sweep(client)
    assert orphan.name in removed
    assert folder.name in removed
    assert orphan.name not in _leftovers()[0]
    assert not folder.exists()
    assert not os.path.ismount(folder / "box")


def test_ctrl_c_during_a_docker_grading_removes_everything(docker_ready, tmp_path):
    from grader.registry import select as pick

    (a,) = pick(["topic-create"])
    submission = tmp_path / "submission"
    shutil.copytree(a.reference, submission / "topic-create")
    before = _leftovers()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "grader",
            "check",
            str(submission),
            "-a",
            "topic-create",
            "--sandbox",
            "docker",
            "--out",
            str(tmp_path / "out"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and _leftovers()[0] == before[0]:
            time.sleep(0.2)
        assert _leftovers()[0] != before[0], "no container was started"
        time.sleep(1)
        proc.send_signal(2)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 2, out.decode()
    assert _leftovers() == before


def test_missing_image_is_a_grader_error_with_the_fix(docker_ready, tmp_path):
    from grader.sandbox.docker import DockerSandbox, DockerUnavailable

    before = _leftovers()
    with pytest.raises(DockerUnavailable, match="grader image build"):
        DockerSandbox(tmp_path, image="grader-sandbox:does-not-exist").start()
    assert _leftovers() == before


def test_grading_error_when_the_engine_is_unreachable(tmp_path, monkeypatch):
    from grader.sandbox.docker import DockerSandbox, DockerUnavailable

    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-such.sock")
    with pytest.raises(DockerUnavailable, match="no docker engine is reachable"):
        DockerSandbox(tmp_path).start()
    result = grade_submission(tmp_path, select(["topic-create"]), seed=1, sandbox_factory=_docker_factory)
    (res,) = result.assignments
    assert "no docker engine is reachable" in (res.error or "")
    assert all(c.status is not Status.PASSED for c in res.checks)


def test_course_host_names_are_configurable(monkeypatch):
    from grader.sandbox.docker import COURSE_HOSTS, course_hosts

    monkeypatch.delenv("GRADER_COURSE_HOSTS", raising=False)
    assert course_hosts() == COURSE_HOSTS
    assert "mipt-node04.atp-fivt.org" in course_hosts()
    monkeypatch.setenv("GRADER_COURSE_HOSTS", " kafka1.uni.example , kafka2.uni.example,")
    assert course_hosts() == ("kafka1.uni.example", "kafka2.uni.example")
