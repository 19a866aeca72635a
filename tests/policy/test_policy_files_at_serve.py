import os
import subprocess
import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[2] / "src")


def test_a_broken_blocklist_stops_serve_with_file_line_and_reason(tmp_path: Path) -> None:
    blocklist = tmp_path / "ours.yaml"
    blocklist.write_text("patterns:\n  competitor:\n    - '(?=lookahead)'\n", encoding="utf-8")
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(
        "extends: shipped\n"
        "content_policy:\n"
        "  policies:\n"
        "    standard: {blocklists: [shipped, ours.yaml]}\n"
        "    'off': {}\n",
        encoding="utf-8",
    )
    env = {**os.environ, "PYTHONPATH": SRC}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "creatix",
            "serve",
            "--catalog",
            str(catalog),
            "--data-dir",
            str(tmp_path / "data"),
            "--port",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    said = done.stdout + done.stderr
    assert done.returncode != 0
    assert f"{blocklist}:3" in said
    assert "lookahead" in said
    assert "Traceback" not in said
