"""``creatix generate`` as a subprocess against the live server (preview engines)."""

from __future__ import annotations

import csv
import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from client_support import account_key, client_server, write_png
from creatix.catalog.loader import load_catalog
from support import LiveServer, creatix_command, make_settings

__all__ = ["client_server"]  # the fixture, imported for this module

pytestmark = pytest.mark.slow
PRICED = "z-image-turbo"  # 100 credits an image


def _env(server: LiveServer, secret: str, key_id: str | None = None) -> dict[str, str]:
    env = {**os.environ, "CREATIX_BASE_URL": server.url, "CREATIX_API_KEY": secret}
    env.pop("CREATIX_API_ID", None)
    if key_id:
        env["CREATIX_API_ID"] = key_id
    return env


def _run(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        creatix_command("generate", *args),
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _manifest(folder: Path) -> list[dict[str, object]]:
    path = folder / "manifest.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _write_csv(path: Path, rows: list[dict[str, object]]) -> Path:
    with path.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_image_video_and_copy(client_server: LiveServer, tmp_path: Path) -> None:
    _, secret, key_id = account_key(client_server, credits=10_000)
    env = _env(client_server, secret, key_id)
    made = _run(
        env,
        "image",
        "A red sneaker",
        "-n",
        "2",
        "--aspect-ratio",
        "16:9",
        "-o",
        str(tmp_path / "a"),
        "--json",
    )
    assert made.returncode == 0, made.stderr
    document = json.loads(made.stdout)
    assert len(document["files"]) == 2
    assert all(Path(f).read_bytes().startswith(b"\x89PNG") for f in document["files"])

    seeded = _run(
        env,
        "image",
        "A blue cup",
        "--size",
        "512x512",
        "--seed",
        "7",
        "--style",
        "minimal",
        "-o",
        str(tmp_path / "b"),
    )
    assert seeded.returncode == 0, seeded.stderr
    assert Path(seeded.stdout.strip()).exists()

    video = _run(
        env,
        "video",
        "--from",
        document["job_id"],
        "--duration",
        "3",
        "--resolution",
        "720p",
        "--prompt",
        "Slow orbit",
        "-o",
        str(tmp_path / "v"),
        "--json",
    )
    assert video.returncode == 0, video.stderr
    assert json.loads(video.stdout)["files"][0].endswith(".mp4")

    local = _run(
        env, "video", "--from", str(write_png(tmp_path / "in.png")), "-o", str(tmp_path / "w")
    )
    assert local.returncode == 0, local.stderr
    assert local.stdout.strip().endswith(".mp4")

    schema = tmp_path / "schema.json"
    schema.write_text(
        json.dumps(
            {
                "type": "object",
                "properties": {"headlines": {"type": "array"}},
                "required": ["headlines"],
            }
        )
    )
    copy = _run(env, "copy", "Three headlines for cold brew", "--schema", str(schema), "--json")
    assert copy.returncode == 0, copy.stderr
    assert isinstance(json.loads(copy.stdout)["json"]["headlines"], list)
    plain = _run(env, "copy", "One tagline for tea", "--model", "gemini-2.5-flash-lite")
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.strip()


def test_errors_are_one_line(client_server: LiveServer, tmp_path: Path) -> None:
    _, secret, _ = account_key(client_server)
    env = _env(client_server, secret)
    bad = _run(env, "image", "A cat", "--size", "300x300")
    assert bad.returncode == 2
    assert "--size" in bad.stderr
    assert "Traceback" not in bad.stderr
    # No CREATIX_API_ID: the key's id is learned from the server; no credits is a failure.
    poor = _run(env, "copy", "hello")
    assert poor.returncode == 1
    assert poor.stderr.startswith("error: This request costs")
    assert poor.stderr.count("\n") == 1
    wrong = _run({**env, "CREATIX_API_KEY": "sk_live_nope"}, "image", "A cat", "--json")
    assert wrong.returncode == 1
    assert wrong.stderr.count("\n") == 1
    assert "Traceback" not in wrong.stderr
    missing = _run(env, "video", "--from", "no-such-generation")
    assert missing.returncode == 2
    assert "sourceGenerationId" in missing.stderr


def test_batch_of_twenty(client_server: LiveServer, tmp_path: Path) -> None:
    _, secret, _ = account_key(client_server)
    rows: list[dict[str, object]] = [
        {
            "prompt": f"Poster {i} for a summer sale",
            "size": "512x512",
            "n": 1 + i % 2,
            "seed": i,
            "aspect_ratio": "1:1" if i % 3 else "16:9",
        }
        for i in range(20)
    ]
    prompts = _write_csv(tmp_path / "prompts.csv", rows)
    out = tmp_path / "out"
    ran = _run(
        _env(client_server, secret),
        "image",
        "--batch",
        str(prompts),
        "--concurrency",
        "4",
        "-o",
        str(out),
        "--json",
    )
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["succeeded"] == 20
    manifest = _manifest(out)
    assert sorted(e["row"] for e in manifest) == list(range(1, 21))
    assert all(e["status"] == "succeeded" and e["job_id"] for e in manifest)
    assert sum(len(e["files"]) for e in manifest) == 30  # type: ignore[arg-type]
    again = _run(
        _env(client_server, secret), "image", "--batch", str(prompts), "-o", str(out), "--json"
    )
    assert json.loads(again.stdout)["skipped"] == 20
    assert len(_manifest(out)) == 20


def test_batch_interrupted_and_resumed_charges_each_row_once(
    client_server: LiveServer, tmp_path: Path
) -> None:
    count = 24
    name, secret, _ = account_key(client_server, credits=count * 100)
    rows = [
        {"prompt": f"Banner {i} with a bold headline", "model": PRICED, "size": "512x512"}
        for i in range(count)
    ]
    jsonl = tmp_path / "prompts.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out"
    command = creatix_command(
        "generate", "image", "--batch", str(jsonl), "--concurrency", "2", "-o", str(out)
    )
    process = subprocess.Popen(
        command,
        env=_env(client_server, secret),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while len(_manifest(out)) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 1, stderr
    assert "Traceback" not in stderr
    partial = len(_manifest(out))
    assert 3 <= partial < count, "interrupted partway"

    resumed = _run(
        _env(client_server, secret),
        "image",
        "--batch",
        str(jsonl),
        "--concurrency",
        "4",
        "-o",
        str(out),
        "--json",
    )
    assert resumed.returncode == 0, resumed.stderr
    manifest = _manifest(out)
    done = [e["row"] for e in manifest if e["status"] == "succeeded"]
    assert sorted(done) == list(range(1, count + 1)), "every row done exactly once"
    assert client_server.balance(name) == 0, "charged once per row"
    # Each row says what the server charged for it (a replayed row: the job's own charge).
    assert {e["credits"] for e in manifest if e["status"] == "succeeded"} == {100}


def test_batch_stops_at_insufficient_credits(client_server: LiveServer, tmp_path: Path) -> None:
    _, secret, _ = account_key(client_server, credits=250)
    prompts = _write_csv(
        tmp_path / "p.csv",
        [{"prompt": f"Ad {i}", "model": PRICED, "size": "512x512"} for i in range(6)],
    )
    ran = _run(
        _env(client_server, secret),
        "image",
        "--batch",
        str(prompts),
        "--concurrency",
        "1",
        "-o",
        str(tmp_path / "out"),
    )
    assert ran.returncode == 1
    assert "insufficient credits" in ran.stderr
    assert "2 of 6 rows done" in ran.stderr
    assert "Traceback" not in ran.stderr


def test_video_and_copy_batches(client_server: LiveServer, tmp_path: Path) -> None:
    # No CREATIX_API_ID: a video from a local image and the text generator learn the key's
    # id from the server (GET /v1/me).
    name, secret, _ = account_key(client_server, credits=100_000)
    env = _env(client_server, secret)
    made = _run(env, "image", "A red chair", "-o", str(tmp_path / "img"), "--json")
    assert made.returncode == 0, made.stderr
    generation = json.loads(made.stdout)["job_id"]
    image = write_png(tmp_path / "in.png")
    videos = _write_csv(
        tmp_path / "videos.csv",
        [
            {"from": generation, "prompt": "Slow orbit", "duration": "3", "audio": ""},
            {"from": str(image), "prompt": "", "duration": "", "audio": "no"},
        ],
    )
    out = tmp_path / "videos"
    before = client_server.balance(name)
    ran = _run(env, "video", "--batch", str(videos), "--duration", "5", "-o", str(out), "--json")
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout) == {
        "rows": 2,
        "succeeded": 2,
        "skipped": 0,
        "failed": 0,
        "manifest": str(out / "manifest.jsonl"),
    }
    lines = _manifest(out)
    assert sorted(e["status"] for e in lines) == ["created"] * 2 + ["succeeded"] * 2
    manifest = sorted(
        (e for e in lines if e["status"] == "succeeded"),
        key=lambda e: int(e["row"]),  # type: ignore[call-overload]
    )
    assert manifest[1]["prompt"] == "Smooth camera motion"
    for entry in manifest:
        [file] = entry["files"]  # type: ignore[misc]
        assert Path(file).name == f"row-{entry['row']:05d}.mp4"
        assert Path(file).stat().st_size > 1000
        assert isinstance(entry["credits"], int)
        assert entry["credits"] > 0
    charged = sum(int(e["credits"]) for e in manifest)  # type: ignore[call-overload]
    assert client_server.balance(name) == before - charged
    again = _run(env, "video", "--batch", str(videos), "--duration", "5", "-o", str(out))
    assert again.returncode == 0, again.stderr
    assert "2 of 2 rows done (2 from an earlier run)" in again.stdout
    assert client_server.balance(name) == before - charged

    schema = tmp_path / "schema.json"
    schema.write_text(
        json.dumps({"type": "object", "properties": {"h": {"type": "string"}}, "required": ["h"]})
    )
    copies = tmp_path / "copy.jsonl"
    copies.write_text(
        json.dumps({"prompt": "A headline for cold brew", "schema": str(schema)})
        + "\n"
        + json.dumps({"prompt": "A tagline for tea", "temperature": 0.5})
        + "\n"
    )
    out = tmp_path / "copy"
    ran = _run(env, "copy", "--batch", str(copies), "-o", str(out), "--json")
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["succeeded"] == 2
    by_row = {e["row"]: e for e in _manifest(out)}
    answer = Path(str(by_row[1]["files"][0]))  # type: ignore[index]
    assert answer.name == "row-00001.json"
    assert isinstance(json.loads(answer.read_text())["h"], str)
    assert json.loads(str(by_row[1]["text"])) == json.loads(answer.read_text())
    assert Path(str(by_row[2]["files"][0])).read_text().strip() == by_row[2]["text"]  # type: ignore[index]
    assert all(isinstance(e["credits"], int | float) for e in by_row.values())


def _local_videos(tmp_path: Path, count: int) -> Path:
    """A video batch of ``count`` rows, each animating its own local PNG."""
    from PIL import Image

    rows: list[dict[str, object]] = []
    for i in range(count):
        image = tmp_path / f"in-{i}.png"
        Image.new("RGB", (512, 512), (40 * i, 120, 200)).save(image)
        rows.append({"from": str(image), "prompt": f"Slow push-in {i}", "duration": "5"})
    return _write_csv(tmp_path / "videos.csv", rows)


def _charges(server: LiveServer, name: str) -> int:
    return server.ledger_kinds(name).count("charge")


def test_local_image_videos_interrupted_and_resumed(
    client_server: LiveServer, tmp_path: Path
) -> None:
    """Interrupted once every row's job was accepted and before all were done: the rerun
    waits on the recorded jobs (no second upload under the same key, so no 409)."""
    count = 3
    name, secret, _ = account_key(client_server, credits=100_000)
    env = _env(client_server, secret)  # no key id: learned from the server on each run
    videos = _local_videos(tmp_path, count)
    out = tmp_path / "out"
    before = client_server.balance(name)
    process = subprocess.Popen(
        creatix_command(
            "generate", "video", "--batch", str(videos), "--concurrency", "3", "-o", str(out)
        ),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if sum(e["status"] == "created" for e in _manifest(out)) == count:
            break
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 1, stderr
    assert "interrupted" in stderr
    assert "Traceback" not in stderr, stderr
    first = _manifest(out)
    assert sum(e["status"] == "created" for e in first) == count, first
    finished = {e["key"] for e in first if e["status"] == "succeeded"}
    assert len(finished) < count, "some video was created but not finished"
    assert not [e for e in first if e["status"] == "failed"]

    resumed = _run(env, "video", "--batch", str(videos), "-o", str(out), "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout) == {
        "rows": count,
        "succeeded": count,
        "skipped": len(finished),
        "failed": 0,
        "manifest": str(out / "manifest.jsonl"),
    }
    manifest = _manifest(out)
    assert not [e for e in manifest if e["status"] == "failed"], "no 409 on the rerun"
    created = {e["key"]: e["job_id"] for e in manifest if e["status"] == "created"}
    done = [e for e in manifest if e["status"] == "succeeded"]
    assert sorted(int(str(e["row"])) for e in done) == list(range(1, count + 1))
    for entry in done:
        assert entry["job_id"] == created[entry["key"]], "the recorded job, not a new one"
        [file] = entry["files"]  # type: ignore[misc]
        assert Path(file).name == f"row-{entry['row']:05d}.mp4"
        assert Path(file).stat().st_size > 1000
    assert _charges(client_server, name) == count, "one job per row"
    charged = sum(int(str(e["credits"])) for e in done)
    assert charged > 0
    assert client_server.balance(name) == before - charged, "charged once per row"


def test_a_created_row_is_waited_on_not_created_again(
    client_server: LiveServer, tmp_path: Path
) -> None:
    """A manifest whose latest line for a row is ``created``: the rerun waits on that job id
    and makes no new job; a job recorded as ended badly is created afresh on a new key."""
    name, secret, _ = account_key(client_server, credits=100_000)
    env = _env(client_server, secret)
    videos = _local_videos(tmp_path, 1)
    out = tmp_path / "out"
    ran = _run(env, "video", "--batch", str(videos), "-o", str(out), "--json")
    assert ran.returncode == 0, ran.stderr
    [created, done] = _manifest(out)
    assert created["status"] == "created"
    assert created["job_id"] == done["job_id"]
    assert {k: created[k] for k in ("row", "key")} == {k: done[k] for k in ("row", "key")}
    balance = client_server.balance(name)
    assert _charges(client_server, name) == 1

    # As if killed while the job ran: its created line, a torn line, no file.
    torn = '{"row": 1, "ke'
    (out / "manifest.jsonl").write_text(json.dumps(created) + "\n" + torn)
    Path(str(done["files"][0])).unlink()  # type: ignore[index]
    resumed = _run(env, "video", "--batch", str(videos), "-o", str(out), "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["succeeded"] == 1
    assert json.loads(resumed.stdout)["skipped"] == 0, "finished in this run, not skipped"
    lines = (out / "manifest.jsonl").read_text().splitlines()
    assert lines[1] == torn, "the torn line is left whole, the next one after it"
    [again] = [json.loads(line) for line in lines[2:]]
    assert again["status"] == "succeeded"
    assert again["job_id"] == created["job_id"]
    assert Path(str(again["files"][0])).stat().st_size > 1000  # type: ignore[index]
    assert _charges(client_server, name) == 1, "no new job"
    assert client_server.balance(name) == balance

    # A recorded job that ended failed: the row fails with its message; the next rerun
    # makes a new job under a new key (the old one would be refused: a fresh upload URL).
    failed = {
        **created,
        "status": "failed",
        "error": {"code": "failed", "message": "the engine gave up"},
    }
    (out / "manifest.jsonl").write_text(json.dumps(created) + "\n" + json.dumps(failed) + "\n")
    retried = _run(env, "video", "--batch", str(videos), "-o", str(out), "--json")
    assert retried.returncode == 0, retried.stderr
    [*_, new_created, new_done] = _manifest(out)
    assert new_created["status"] == "created"
    assert new_created["job_id"] != created["job_id"]
    assert new_done["job_id"] == new_created["job_id"]
    assert new_done["key"] == created["key"]
    assert _charges(client_server, name) == 2


@pytest.mark.parametrize(
    ("kind", "rows", "expected"),
    [
        ("video", [{"prompt": "Orbit"}], "row 1, column 'from'"),
        ("video", [{"from": "gen-1", "duration": "long"}], "row 1, column 'duration'"),
        ("video", [{"from": "gen-1", "resolution": "4k"}], "row 1, column 'resolution'"),
        ("video", [{"from": "gen-1", "audio": "loud"}], "row 1, column 'audio'"),
        ("video", [{"from": "gen-1", "n": "2"}], "row 1, column 'n'"),
        (
            "copy",
            [{"prompt": "A", "temperature": ""}, {"prompt": "B", "temperature": "hot"}],
            "row 2, column 'temperature'",
        ),
        ("copy", [{"prompt": "A", "schema": "missing.json"}], "row 1, column 'schema'"),
        ("copy", [{"prompt": ""}], "row 1, column 'prompt'"),
    ],
)
def test_video_and_copy_batches_refuse_bad_rows(
    client_server: LiveServer,
    tmp_path: Path,
    kind: str,
    rows: list[dict[str, object]],
    expected: str,
) -> None:
    prompts = _write_csv(tmp_path / "bad.csv", rows)
    ran = _run(
        _env(client_server, "sk_live_unused"), kind, "--batch", str(prompts), "-o", str(tmp_path)
    )
    assert ran.returncode == 2, ran.stderr
    assert expected in ran.stderr
    assert ran.stderr.count("\n") == 1
    assert "Traceback" not in ran.stderr
    assert not (tmp_path / "manifest.jsonl").exists()


def test_usage_errors_of_video_and_copy(client_server: LiveServer, tmp_path: Path) -> None:
    env = _env(client_server, "sk_live_unused")
    for args, expected in (
        (("video",), "give --from"),
        (("copy",), "give a prompt"),
        (("copy", "A", "--batch", str(tmp_path / "p.csv")), "not both"),
        (("video", "--batch", str(tmp_path / "missing.csv")), "cannot read"),
    ):
        ran = _run(env, *args)
        assert ran.returncode == 2, (args, ran.stderr)
        assert expected in ran.stderr, (args, ran.stderr)
        assert "Traceback" not in ran.stderr


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([{"prompt": "A", "colour": "red"}], "row 1, column 'colour'"),
        ([{"prompt": "A", "n": "2"}, {"prompt": "B", "n": "nine"}], "row 2, column 'n'"),
        ([{"prompt": "A", "size": "9x9"}], "row 1, column 'size'"),
        ([{"prompt": "A"}, {"prompt": ""}], "row 2, column 'prompt'"),
    ],
)
def test_batch_refuses_bad_rows(
    client_server: LiveServer, tmp_path: Path, rows: list[dict[str, object]], expected: str
) -> None:
    prompts = _write_csv(tmp_path / "bad.csv", rows)
    ran = _run(
        _env(client_server, "sk_live_unused"),
        "image",
        "--batch",
        str(prompts),
        "-o",
        str(tmp_path / "out"),
    )
    assert ran.returncode == 2
    assert expected in ran.stderr
    assert ran.stderr.count("\n") == 1
    assert not (tmp_path / "out" / "manifest.jsonl").exists()


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server whose preview engine takes a second and a half per batch, in ten steps."""
    tmp = tmp_path_factory.mktemp("slow")
    catalog = load_catalog().model_dump(mode="json")
    catalog["engines"]["preview"]["options"] = {"delay_seconds": 1.5}
    path = tmp / "catalog.yaml"
    path.write_text(yaml.safe_dump(catalog))
    live = LiveServer(make_settings(tmp / "data", catalog=path)).start()
    yield live
    live.stop()


def test_progress_bar_in_a_terminal(slow_server: LiveServer, tmp_path: Path) -> None:
    _, secret, _ = account_key(slow_server)
    leader, follower = pty.openpty()
    env = {**_env(slow_server, secret), "COLUMNS": "120", "TERM": "xterm"}
    process = subprocess.Popen(
        creatix_command("generate", "image", "A lighthouse at dusk", "-o", str(tmp_path)),
        env=env,
        stdin=follower,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    seen = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(leader, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        elif process.poll() is not None:
            break
    process.wait(timeout=30)
    os.close(leader)
    text = seen.decode("utf-8", "replace")
    assert process.returncode == 0, text
    assert "100%" in text
    assert "━" in text  # the bar itself
    # The engine's steps: the preview's ten delay ticks and the image, of 11.
    assert re.search(r"step ([1-9]|10)/11", text), text
    assert str(tmp_path) in text


def test_generate_imports_nothing_server_side() -> None:
    code = (
        "import sys\n"
        "sys.argv = ['creatix', 'generate', '--help']\n"
        "from creatix.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "bad = [m for m in sys.modules if m.startswith(('creatix.api', 'creatix.jobs', "
        "'creatix.cli.serve', 'sqlalchemy', 'fastapi'))]\n"
        "print('BAD', bad)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert "BAD []" in out
    assert "image" in out


def test_a_row_whose_recorded_job_is_gone_is_created_afresh_on_the_next_rerun(
    client_server: LiveServer, tmp_path: Path
) -> None:
    """A ``created`` line naming a job the server does not know (deleted since): the row
    fails as ``gone`` rather than being waited on forever; the next rerun makes a new job."""
    name, secret, _ = account_key(client_server, credits=100_000)
    env = _env(client_server, secret)
    videos = _local_videos(tmp_path, 1)
    out = tmp_path / "out"
    assert _run(env, "video", "--batch", str(videos), "-o", str(out), "--json").returncode == 0
    [created, _] = _manifest(out)
    job_id = str(created["job_id"])
    missing = job_id[:-1] + ("0" if job_id[-1] != "0" else "1")
    (out / "manifest.jsonl").write_text(json.dumps({**created, "job_id": missing}) + "\n")

    lost = _run(env, "video", "--batch", str(videos), "-o", str(out), "--json")
    assert lost.returncode == 1, lost.stderr
    [_, failed] = _manifest(out)
    assert failed["status"] == "failed"
    assert failed["job_id"] == missing
    assert failed["error"]["code"] == "gone"  # type: ignore[index]

    again = _run(env, "video", "--batch", str(videos), "-o", str(out), "--json")
    assert again.returncode == 0, again.stderr
    [*_, new_created, new_done] = _manifest(out)
    assert new_done["status"] == "succeeded"
    assert new_done["job_id"] == new_created["job_id"] not in (job_id, missing)
    assert _charges(client_server, name) == 2
