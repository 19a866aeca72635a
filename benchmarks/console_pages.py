"""The console's pages with an account holding 10,000 generations: server time per page, and
the CSS and JavaScript each page loads, gzipped, beside the 150 KB budget.

The account, its keys, its jobs and their usage rollup are generated straight into a migrated
SQLite database by ``usage_report.py``'s generator (``--jobs``, default 10,000, over
``--days``, default 60); each succeeded job gets its image asset rows. A person (the account's
owner, and an operator) is made with ``creatix users create``; ``creatix serve --no-worker``
runs on that database, and one client signed in with a session cookie loads each page
``--rounds`` (50) times: the page's HTML, then every API call its script makes when it opens,
one after another on one kept-alive connection. A page's time is the sum (the browser makes
the calls at once, so it waits less). Target: p50 ≤ 30 ms a page on SQLite.

    .venv/bin/python benchmarks/console_pages.py [--jobs 10000] [--rounds 50]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import httpx
from harness import percentiles
from usage_report import account_and_keys, fill_sqlite, job_chunks, serve

from creatix.catalog.loader import load_catalog
from creatix.kit.migrate import upgrade_database

EMAIL = "bench@example.com"
PASSWORD = "correct horse battery staple 42"
BUDGET_BYTES = 150 * 1024
TARGET_MS = 30.0


def add_assets(path: Path) -> int:
    """One stored image per image a succeeded job made, as the worker records them."""
    connection = sqlite3.connect(path)
    with connection:
        rows = connection.execute(
            "SELECT id, account_id, quota_images, finished_at FROM jobs WHERE status = 'succeeded'"
        ).fetchall()
        assets = [
            (
                f"{job_id}-{i}",
                job_id,
                account_id,
                i,
                "image",
                f"images/{job_id}/{i}.png",
                "image/png",
                250_000,
                1024,
                1024,
                "sha256:" + "0" * 64,
                finished,
            )
            for job_id, account_id, n, finished in rows
            for i in range(n)
        ]
        connection.executemany(
            'INSERT INTO assets (id, job_id, account_id, "index", kind, storage_key, mime_type,'
            " size_bytes, width, height, checksum, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            assets,
        )
    connection.close()
    return len(assets)


def make_person(url: str, account: str) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "creatix",
            "users",
            "create",
            EMAIL,
            "--operator",
            "--account",
            account,
            "--role",
            "owner",
            "--password-stdin",
        ],
        input=f"{PASSWORD}\n".encode(),
        env={"CREATIX_DATABASE_URL": url, "PATH": "/usr/bin:/bin"},
        check=True,
        capture_output=True,
    )


def page_calls(account_id: str, job_id: str) -> dict[str, list[str]]:
    """Each page's HTML and the API calls its script makes on opening (static/js/pages/)."""
    today = date.today()
    month = today.replace(day=1).isoformat()
    start = (today - timedelta(days=29)).isoformat()
    account = f"/api/account/{account_id}"
    usage = f"{account}/usage?start={start}&end={today.isoformat()}"
    return {
        "overview": [
            f"{account}",
            f"{account}/usage?group_by=day&start={month}&end={today}",
            f"{account}/generations?limit=6",
        ],
        "playground": [f"{account}/models", f"{account}/styles"],
        "gallery": [f"{account}/models", f"{account}/generations?limit=24"],
        "gallery#detail": [f"{account}/models", f"{account}/generations/{job_id}"],
        "keys": [f"{account}/keys", f"{account}/models"],
        "usage": [
            f"{usage}&group_by=day,model,key",
            f"{account}/ledger?limit=20&offset=0",
        ],
        "webhooks": [f"{account}/webhooks/deliveries?limit=25&offset=0"],
        "settings": [],
        "admin/accounts": ["/api/admin/accounts"],
        "admin/people": ["/api/admin/people", "/api/admin/accounts"],
        "admin/models": ["/api/admin/models"],
        "admin/queue": ["/api/admin/queue"],
        "admin/audit": [
            "/api/admin/audit?limit=50&offset=0",
            "/api/admin/accounts",
            "/api/admin/people",
        ],
    }


def time_pages(base: str, calls: dict[str, list[str]], rounds: int) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    with httpx.Client(base_url=base, timeout=60) as client:
        signed = client.post("/api/session", json={"email": EMAIL, "password": PASSWORD})
        signed.raise_for_status()
        for page, api_calls in calls.items():
            paths = [f"/console/{page.split('#')[0]}", *api_calls]
            for path in paths:  # warm up, and fail loudly on a broken call
                answer = client.get(path)
                if answer.status_code != 200:
                    raise SystemExit(f"{path}: {answer.status_code} {answer.text[:300]}")
            samples = []
            for _ in range(rounds):
                began = time.perf_counter()
                for path in paths:
                    client.get(path)
                samples.append(time.perf_counter() - began)
            results[page] = percentiles(samples)
    return results


def asset_bytes(static: Path) -> dict[str, int]:
    """Gzipped bytes of the CSS and every script a page loads (its module and their imports)."""
    pages_dir = static / "js" / "pages"
    css = len(gzip.compress((static / "console.css").read_bytes(), 6))
    totals = {}
    for module in sorted(pages_dir.glob("*.js")):
        seen: set[Path] = set()
        pending = [module, static / "js" / "shell.js"]
        while pending:
            path = pending.pop().resolve()
            if path in seen:
                continue
            seen.add(path)
            text = path.read_text()
            pending += [path.parent / m for m in re.findall(r'from "(\.{1,2}/[^"]+)"', text)]
        totals[module.stem] = css + sum(len(gzip.compress(p.read_bytes(), 6)) for p in seen)
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        path = work / "console.db"
        url = f"sqlite:///{path}"
        upgrade_database(url)
        account_id, _secret, key_ids = asyncio.run(account_and_keys(url, 5))
        models = [
            (m.id, max(1, m.credits_per_image)) for m in load_catalog().models if m.kind == "image"
        ][:6]
        jobs = fill_sqlite(
            path, job_chunks(account_id, key_ids, models, args.jobs, args.days), account_id
        )
        assets = add_assets(path)
        make_person(url, "usage-bench")
        job_id = (
            sqlite3.connect(path)
            .execute("SELECT id FROM jobs WHERE status = 'succeeded' LIMIT 1")
            .fetchone()[0]
        )
        server, base = serve(work, url)
        try:
            timings = time_pages(base, page_calls(account_id, job_id), args.rounds)
        finally:
            server.terminate()
            server.wait(timeout=30)
    sizes = asset_bytes(Path(__file__).parents[1] / "src" / "creatix" / "console" / "static")
    print(f"{jobs} generations ({assets} images) on SQLite, {args.rounds} rounds per page")
    print(f"{'page':<16} {'p50 ms':>8} {'p99 ms':>8}  target p50 <= {TARGET_MS:.0f} ms")
    for page, figures in timings.items():
        mark = "ok" if figures["p50_ms"] <= TARGET_MS else "OVER"
        print(f"{page:<16} {figures['p50_ms']:>8.1f} {figures['p99_ms']:>8.1f}  {mark}")
    print(f"\n{'page script':<16} {'CSS+JS gzipped':>15}  budget {BUDGET_BYTES // 1024} KB")
    for page, size in sizes.items():
        print(f"{page:<16} {size / 1024:>12.1f} KB  {'ok' if size <= BUDGET_BYTES else 'OVER'}")
    summary = {
        "p50_max_ms": max(f["p50_ms"] for f in timings.values()),
        "bytes_max": max(sizes.values()),
        "median_p50_ms": statistics.median(f["p50_ms"] for f in timings.values()),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
