"""``make lab``: headless (no browser), as root where it runs as root, host and port from LAB_ARGS, and it serves the
kernel every notebook names (the one ``make setup`` installs)."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _makefile_kernel() -> tuple[str, str]:
    text = (ROOT / "Makefile").read_text()
    name = re.search(r"^KERNEL := (\S+)", text, re.MULTILINE).group(1)
    display = re.search(r'--display-name "([^"]+)"', text).group(1)
    return name, display


def test_every_notebook_names_the_kernel_make_setup_installs():
    name, display = _makefile_kernel()
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert notebooks
    for path in notebooks:
        spec = json.loads(path.read_text())["metadata"]["kernelspec"]
        assert (spec["name"], spec["display_name"]) == (name, display), path.name


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _kernelspecs(port: int, token: str, process: subprocess.Popen, timeout_s: float = 120) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/kernelspecs",
                                     headers={"Authorization": f"token {token}"})
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"make lab exited with {process.returncode}: {process.stdout.read()}")
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return json.loads(response.read())
        except (urllib.error.URLError, ConnectionError):
            time.sleep(1)
    raise AssertionError(f"make lab did not answer on port {port} within {timeout_s} s")


@pytest.mark.slow
def test_make_lab_serves_the_videonas_kernel_headless(tmp_path):
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    venv = Path(sys.prefix)
    port, token = _free_port(), secrets.token_hex(16)
    lab_args = f"--ip=127.0.0.1 --port={port} --ServerApp.port_retries=0 --IdentityProvider.token={token}"
    # This interpreter's venv stands for .venv; -o: its install stamp counts as up to date (no reinstall here).
    command = ["make", "--no-print-directory", "-o", str(venv / ".installed"), "lab", f"VENV={venv}",
               f"LAB_ARGS={lab_args}"]
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "BROWSER": "false"}
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True)
    try:
        specs = _kernelspecs(port, token, process)
        name, display = _makefile_kernel()
        assert name in specs["kernelspecs"], sorted(specs["kernelspecs"])
        assert specs["kernelspecs"][name]["spec"]["display_name"] == display
        anonymous = urllib.request.Request(f"http://127.0.0.1:{port}/api/kernelspecs")
        with pytest.raises(urllib.error.HTTPError, match="403"):  # the token is required
            urllib.request.urlopen(anonymous, timeout=5)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        output = process.communicate(timeout=60)[0]
    assert "--no-browser" in output and ("--allow-root" in output) == (os.getuid() == 0)
