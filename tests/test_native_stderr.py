"""native_stderr: TensorFlow's absl start-up lines are dropped from a command's stderr, its children's included,
while every other byte (errors, partial progress-bar lines) still arrives."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from videonas import native_stderr

ONEDNN = (b"I0000 00:00:1796548347.743662   23388 port.cc:153] oneDNN custom operations are on. You may see slightly "
          b"different numerical results")
PRE_INIT = b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
ERROR = b"E0000 00:00:1796548347.743662   23388 cuda_dnn.cc:8579] Unable to register cuDNN factory"
NL = b"\n"
CPU = (b"I0000 00:00:1796548350.983284   23416 cpu_feature_guard.cc:210] This TensorFlow binary is optimized.\n"
       b"To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow.\n")


@pytest.mark.parametrize(("line", "level", "noise"), [
    (ONEDNN, 2, True), (ONEDNN, 1, True), (ONEDNN, 0, False), (PRE_INIT, 2, True), (PRE_INIT, 0, False),
    (ERROR, 2, False), (ERROR, 3, True), (b"Traceback (most recent call last):", 3, False),
    (b"I think this is a user's line", 2, False)])
def test_lines_below_the_level_are_noise_and_the_rest_is_kept(line, level, noise):
    assert native_stderr.is_noise(line, level) is noise


def test_a_command_and_its_children_lose_the_start_up_lines_and_keep_everything_else():
    child = f"import os; os.write(2, {PRE_INIT + NL + ONEDNN + NL + CPU + b'child kept' + NL!r})"
    script = textwrap.dedent(f"""
        import os, subprocess, sys
        from videonas import native_stderr
        with native_stderr.filtered(2):
            os.write(2, {ONEDNN + NL + b"kept" + NL + ERROR + NL + b"To enable the following instructions" + NL!r})
            subprocess.run([sys.executable, "-c", {child!r}], check=True)
            os.write(2, b"\\rprogress 50%")
        os.write(2, b" after\\n")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60, check=True)
    assert done.stderr == (b"kept\n" + ERROR + b"\nTo enable the following instructions\nchild kept\n"
                           b"\rprogress 50% after\n")


def test_level_zero_changes_nothing():
    script = ("import os\nfrom videonas import native_stderr\nwith native_stderr.filtered(0):\n"
              f"    os.write(2, {ONEDNN + NL!r})\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60, check=True)
    assert done.stderr == ONEDNN + b"\n"



def test_import_quietly_drops_a_modules_start_up_lines_and_a_missing_module_still_raises(tmp_path):
    (tmp_path / "noisy_module.py").write_text(f"import os\nos.write(2, {ONEDNN + NL + b'kept' + NL!r})\n")
    script = ("import sys\nfrom videonas import native_stderr\n"
              "native_stderr.import_quietly('noisy_module')\nassert 'noisy_module' in sys.modules\n"
              "native_stderr.import_quietly('no_such_module_here')\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60, cwd=tmp_path,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert done.returncode == 1 and done.stderr.startswith(b"kept\n")
    assert b"ModuleNotFoundError: No module named 'no_such_module_here'" in done.stderr and b"oneDNN" not in done.stderr
