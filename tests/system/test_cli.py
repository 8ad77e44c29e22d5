"""The `mamd` command line against real files and a running daemon."""

from __future__ import annotations

import codecs
import json
import os
import re
import selectors
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from mamd.sim.qbittorrent import binary as qbittorrent_binary
from tests.support.configs import API_KEY, write_config
from tests.support.daemon import running_daemon, wait_for

pytestmark = pytest.mark.system


def mamd(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mamd", *args], capture_output=True, text=True, timeout=timeout, env=env
    )


def test_check_config_accepts_a_valid_file(tmp_path: Path) -> None:
    result = mamd("check-config", "-c", str(write_config(tmp_path)))
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout
    assert f"imports: hardlinked from {tmp_path / 'torrents'} into {tmp_path / 'library'} (tried)" in (
        result.stdout
    )


def test_check_config_tries_the_import_and_says_what_to_fix(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"qbittorrent": {"save_path": str(tmp_path / "not-mounted")}})
    result = mamd("check-config", "-c", str(config))
    assert result.returncode == 2
    assert f"{config}: valid, but imports cannot work here:" in result.stderr
    assert f"qbittorrent.save_path {tmp_path / 'not-mounted'} does not exist (ENOENT)" in result.stderr
    assert f"audiobookshelf.path {tmp_path / 'library'}" in result.stderr
    assert result.stdout == ""


def test_check_config_lists_every_problem_with_file_line_and_key(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"mam": {"session": "CHANGE-ME"}, "limits": {"grabs_per_day": "ten"}})
    result = mamd("check-config", "-c", str(config))
    assert result.returncode == 2
    lines = [line.strip() for line in result.stderr.splitlines() if line.startswith("  ")]
    assert len(lines) == 2
    assert any(
        line.startswith(f"{config}:") and "mam.session" in line and "placeholder" in line for line in lines
    )
    assert any("limits.grabs_per_day" in line and "whole number" in line for line in lines)


def test_check_config_reads_the_path_from_mamd_config(tmp_path: Path) -> None:
    env = {**os.environ, "MAMD_CONFIG": str(write_config(tmp_path))}
    assert mamd("check-config", env=env).returncode == 0


def test_check_config_on_a_missing_file_exits_2(tmp_path: Path) -> None:
    result = mamd("check-config", "-c", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2
    assert "does not exist" in result.stderr


def test_status_hook_and_run_job_talk_to_the_running_daemon(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    with running_daemon(config) as daemon:
        text = mamd("status", "-c", str(config))
        assert text.returncode == 0, text.stderr
        assert "generation 1" in text.stdout
        assert "ready" in text.stdout
        assert "account   guard CAUTION: grabs: freeleech only" in text.stdout  # no account read yet
        assert "because no account snapshot yet" in text.stdout
        assert "library   not read yet" in text.stdout
        assert "wanted    0 book(s)" in text.stdout

        raw = mamd("status", "-c", str(config), "--json")
        assert json.loads(raw.stdout)["config"]["generation"] == 1

        hook = mamd("hook", "B" * 40, "-c", str(config))
        assert hook.returncode == 0, hook.stderr
        assert "accepted " + "b" * 40 in hook.stdout
        assert daemon.status()["inbox"]["pending"] == 1
        again = mamd("hook", "b" * 40, "-c", str(config))
        assert "already waiting" in again.stdout

        job = mamd("run-job", "retention", "-c", str(config))
        assert job.returncode == 0, job.stderr
        wait_for("the job to finish", lambda: daemon.status()["jobs"]["retention"]["last_result"] == "ok")

        unknown = mamd("run-job", "nonsense", "-c", str(config))
        assert unknown.returncode == 2
        assert "retention" in unknown.stderr  # the known jobs are listed


def test_the_readme_curl_hook_line_is_accepted_and_passes_the_host_check(tmp_path: Path) -> None:
    """The line users paste into qBittorrent, run as qBittorrent runs it: no shell, one argument each."""
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    [line] = [raw for raw in readme.splitlines() if raw.startswith("/usr/bin/curl ")]
    curl = shutil.which("curl")
    if curl is None:
        if os.environ.get("CI"):
            pytest.fail("curl is missing; contrib/dev/system-packages.sh installs it")
        pytest.skip("curl is not installed (contrib/dev/system-packages.sh installs it)")
    config = write_config(tmp_path)
    with running_daemon(config) as daemon:
        port = daemon.port or 0
        placeholders = {"%I": "c" * 40, "%N": "Brandon Sanderson - The Hero of Ages", "%L": "mamd"}
        args = [
            curl if arg == "/usr/bin/curl" else arg for arg in shlex.split(line.replace("8787", str(port)))
        ]
        args = [arg.replace("KEY", API_KEY) for arg in args]
        for placeholder, value in placeholders.items():
            args = [arg.replace(placeholder, value) for arg in args]
        result = subprocess.run(args, capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["accepted"] is True
        assert daemon.status()["inbox"]["pending"] == 1


def test_status_still_reaches_the_daemon_while_the_file_holds_a_rejected_edit(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    with running_daemon(config) as daemon:
        config.write_text(config.read_text() + "rules: {freeleech: sometimes}\n")
        wait_for("the rejection", lambda: daemon.status()["config"]["last_error"])
        result = mamd("status", "-c", str(config))
        assert result.returncode == 0, result.stderr
        assert "REJECTED" in result.stdout
        assert "rules.freeleech" in result.stdout


def test_hook_refuses_a_malformed_hash_without_calling_the_daemon(tmp_path: Path) -> None:
    result = mamd("hook", "not-a-hash", "-c", str(write_config(tmp_path)))
    assert result.returncode == 2
    assert "info-hash" in result.stderr


def test_commands_say_clearly_when_no_daemon_answers(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    for args in (("status",), ("hook", "c" * 40), ("run-job", "retention")):
        result = mamd(*args, "-c", str(config))
        assert result.returncode == 1
        assert "not answering" in result.stderr
        assert "is it running" in result.stderr


def demo_serving(timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`mamd demo --serve`: once it serves, its status page is fetched as a browser asks for it, then
    Ctrl-C (SIGINT to its PID) ends it; the output of the whole run, with the page as the last line."""
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "mamd", "demo", "--serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    before = ""  # read from the pipe's descriptor: a buffered readline could hide a line from select
    decoder = codecs.getincrementaldecoder("utf-8")()  # a read may end inside a character
    deadline = time.monotonic() + timeout
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout.fileno(), selectors.EVENT_READ)
            while "Serving until Ctrl-C" not in before:
                left = deadline - time.monotonic()
                if left <= 0 or process.poll() is not None:
                    if process.poll() is None:
                        process.kill()
                    out, err = process.communicate(timeout=10)
                    raise AssertionError(f"the demo never served:\n{before}{out}\n--- stderr:\n{err[-4000:]}")
                if selector.select(min(left, 1.0)):
                    before += decoder.decode(os.read(process.stdout.fileno(), 65536))
        url = re.search(r"Open the status page (http://127\.0\.0\.1:\d+/) in a browser", before)
        assert url, before
        request = urllib.request.Request(url[1], headers={"Accept": "text/html,*/*;q=0.8"})
        with urllib.request.urlopen(request, timeout=15) as response:
            assert response.status == 200
            assert response.headers.get_content_type() == "text/html"
            page = response.read().decode()
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)
    return subprocess.CompletedProcess(process.args, process.returncode, before + out + page, err)


@pytest.mark.qbittorrent  # with MAMD_QBITTORRENT's, or the qbittorrent-nox on PATH
def test_demo_runs_end_to_end_and_serves_its_status_page() -> None:
    result = demo_serving()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Summary" in result.stdout
    assert re.search(r"Its status page: http://127\.0\.0\.1:\d+/ \(open it in a browser", result.stdout)
    assert '<h2 id="guard">Account guard</h2>' in result.stdout  # the page, fetched while it served
    assert "11 books, 4 series, 4 authors" in result.stdout
    assert "Mistborn #3 by Brandon Sanderson  (a gap in an owned series)" in result.stdout
    assert "Warbreaker by Brandon Sanderson  (asked for in mamd.yaml)" in result.stdout
    assert "The account guard says OK" in result.stdout
    assert "Mistborn #3 by Brandon Sanderson: " in result.stdout
    assert "left: 'The Hero of Ages (Abridged)' [MAM 900102]: abridged" in result.stdout
    assert "left: 'Warbreaker' [MAM 900109]: VIP-only" in result.stdout
    binary = qbittorrent_binary.locate()
    if binary or os.environ.get("CI"):
        assert binary is not None
        found = qbittorrent_binary.version(binary)
        assert f"A real qbittorrent-nox, qBittorrent {found} ({qbittorrent_binary.chosen()}), runs on" in (
            result.stdout
        )
        assert (
            "Mistborn #3 by Brandon Sanderson: grabbed The Hero of Ages by Brandon Sanderson" in result.stdout
        )
        assert "All 4 imported and scanned by Audiobookshelf" in result.stdout
        assert "the same inode as the file qBittorrent seeds" in result.stdout
        assert "still wanted: nothing" in result.stdout
        assert "grabbed 4 books into qBittorrent and imported 4 of them" in result.stdout
        assert (
            "the account guard says EMERGENCY (ratio 1.00 is below ratio.emergency_below (1.2))"
            in result.stdout
        )
        assert "leaves the 4 seeding torrents alone" in result.stdout
        assert "guard OK, and exactly that download is started again" in result.stdout
        # a series continuation found, and the second-best release of it grabbed by hand
        assert (
            "Shadows of Self by Brandon Sanderson  (series_next; named by MAM 900150 #5, MAM 900151 #5)"
            in (result.stdout)
        )
        assert "Ashes of the Fan" not in result.stdout  # the same-named series by another author
        assert "     - chosen: Shadows of Self [MAM 900150], m4b" in result.stdout
        assert "     - accepted: Shadows of Self [MAM 900151], mp3" in result.stdout
        assert (
            '/grab {"mam_id": 900151} grabbed it (not the best, MAM 900150) into qBittorrent' in result.stdout
        )
        arrived = result.stdout.split("ntfy receiver (ntfy://127.0.0.1:", 1)[1]
        titles = re.findall(r"^     - (.+)$", arrived, re.MULTILINE)
        # each once, in the order they were said; the minute's imports and the recovery, gathering
        # still, are sent as the daemon stops
        assert titles == [
            "Account guard: EMERGENCY",
            "MAM refused the session",
            "Resolved: MAM refused the session",
            "Imported 4 books",
            "Account guard: OK again",
        ], arrived
        assert (
            "Stopped 1 download(s) for the account emergency: James S. A. Corey - Abaddon's Gate" in arrived
        )
        assert "• The Hero of Ages — Brandon Sanderson (Mistborn #3)" in arrived
    else:
        assert "dry run: would grab The Hero of Ages" in result.stdout
        assert "MAM refused the session\n" in result.stdout
    assert "stopped in" in result.stdout
    assert "exit status 0" in result.stdout
    assert "MAM stops taking mamd's session (it expired): the next account reading is refused, MAM is " in (
        result.stdout
    )
    assert "the next account reading works (MAM is ok)" in result.stdout
    assert "None of them holds the API key, a MAM session or cookie, or a password." in result.stdout


def test_check_config_names_a_secret_file_this_user_cannot_read(tmp_path: Path) -> None:
    """As root, file modes stop nobody; the check runs without the capabilities that bypass them."""
    secret = tmp_path / "mam_session"
    secret.write_text("a-real-looking-session-value\n")
    secret.chmod(0o000)
    config = write_config(tmp_path, {"mam": {"session": None, "session_file": str(secret)}})
    command = [sys.executable, "-m", "mamd", "check-config", "-c", str(config)]
    if os.geteuid() == 0:
        capsh = shutil.which("capsh")
        if capsh is None:
            pytest.skip("capsh (libcap2-bin) is needed to drop root's file-permission override")
        drop = "cap_dac_override,cap_dac_read_search"
        command = [capsh, f"--drop={drop}", "--", "-c", shlex.join(command)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"mam.session_file: secret file {secret} is not readable by this user" in result.stderr
