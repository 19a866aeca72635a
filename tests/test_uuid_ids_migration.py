"""Migration 0009 on data a real server made: jobs whose ids are the old ``job_…`` form get
UUIDv7s in their creation order, every row citing them follows, and the old ids still resolve
through the API. Runs on SQLite, and on PostgreSQL where one is reachable."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from alembic import command
from sqlalchemy import Connection, create_engine, text

from creatix.kit.db import sync_url
from creatix.kit.ids import new_id
from creatix.kit.migrate import alembic_config, upgrade_database
from support import LiveServer, make_settings

API = "/api/platform"
CITING = ("assets", "ledger_entries", "webhook_deliveries", "idempotency_keys")


def _generate(server: LiveServer, secret: str, idempotency_key: str) -> str:
    with server.client(secret) as client:
        body = {"prompt": "a red sneaker", "modelId": "creatix-flash", "batchCount": 2}
        created = client.post(
            f"{API}/generate", json=body, headers={"Idempotency-Key": idempotency_key}
        )
        assert created.status_code == 202, created.text
        job_id = str(created.json()["id"])
        deadline = time.monotonic() + 30
        while client.get(f"{API}/generations/{job_id}").json()["generation"]["status"] != (
            "completed"
        ):
            assert time.monotonic() < deadline, "the generation did not finish"
            time.sleep(0.1)
        return job_id


def _old_ids(connection: Connection, job_ids: list[str]) -> dict[str, str]:
    """Give the jobs (and their assets) ids of the form Creatix made before UUIDs, as data
    made then has them; a webhook delivery is recorded for each too. Old id -> UUID."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SET session_replication_role = replica"))  # no FK checks
    renames = {new_id("job"): job_id for job_id in job_ids}
    for old, current in renames.items():
        connection.execute(
            text("UPDATE jobs SET id = :old WHERE id = :id"), {"old": old, "id": current}
        )
        for table in CITING:
            if table != "webhook_deliveries":
                connection.execute(
                    text(f"UPDATE {table} SET job_id = :old WHERE job_id = :id"),
                    {"old": old, "id": current},
                )
        connection.execute(
            text(
                "INSERT INTO webhook_deliveries (id, account_id, job_id, url, event_type, status,"
                " attempts, created_at) SELECT :id, account_id, id, 'https://example.com/hook',"
                " 'generation.completed', 'delivered', 1, created_at FROM jobs WHERE id = :old"
            ),
            {"id": new_id("whd"), "old": old},
        )
        for (asset_id,) in connection.execute(
            text("SELECT id FROM assets WHERE job_id = :old"), {"old": old}
        ):
            connection.execute(
                text("UPDATE assets SET id = :new WHERE id = :id"),
                {"new": new_id("asset"), "id": asset_id},
            )
    return renames


def _rows(connection: Connection, sql: str, **params: Any) -> list[Any]:
    return list(connection.execute(text(sql), params))


def test_old_job_ids_become_uuid7s_and_still_resolve(
    tmp_path: Path, empty_database_url: str
) -> None:
    settings = make_settings(tmp_path / "data", database_url=empty_database_url)
    server = LiveServer(settings).start()
    try:
        _, secret = server.funded_account(credits=10_000)
        made = [_generate(server, secret, f"order-{i}") for i in range(3)]
    finally:
        server.stop()

    engine = create_engine(sync_url(empty_database_url))
    try:
        command.downgrade(alembic_config(empty_database_url), "0008")
        with engine.begin() as connection:
            renames = _old_ids(connection, made)
        upgrade_database(empty_database_url)
        with engine.connect() as connection:
            jobs = _rows(
                connection, "SELECT id, legacy_id, created_at FROM jobs ORDER BY created_at"
            )
            citing = {table: _rows(connection, f"SELECT job_id FROM {table}") for table in CITING}
            asset_ids = [row.id for row in _rows(connection, "SELECT id FROM assets")]
    finally:
        engine.dispose()

    assert {row.legacy_id for row in jobs} == set(renames)
    job_ids = [row.id for row in jobs]
    for row in jobs:
        parsed = uuid.UUID(row.id)
        assert (parsed.version, str(parsed)) == (7, row.id)
        created_at = row.created_at
        if isinstance(created_at, str):  # SQLite, read without the model's column type
            created_at = datetime.fromisoformat(created_at)
        milliseconds = int(created_at.replace(tzinfo=created_at.tzinfo or UTC).timestamp() * 1000)
        assert abs((parsed.int >> 80) - milliseconds) <= 1, "the UUID's time is the job's"
    assert job_ids == sorted(job_ids), "the new ids keep the jobs' order"
    for table, rows in citing.items():
        assert rows, table
        assert {row.job_id for row in rows if row.job_id} <= set(job_ids), table
    assert len(asset_ids) == 6
    assert all(uuid.UUID(asset_id).version == 7 for asset_id in asset_ids)

    server = LiveServer(make_settings(tmp_path / "data", database_url=empty_database_url)).start()
    try:
        with server.client(secret) as client:
            for old, _ in renames.items():
                response = client.get(f"{API}/generations/{old}")
                assert response.status_code == 200, response.text
                generation = response.json()["generation"]
                assert generation["id"] in job_ids
                for url in generation["image_urls"]:
                    assert httpx.get(url, timeout=30).status_code == 200
            listed = client.get(f"{API}/generations").json()
            assert sorted(item["id"] for item in listed) == sorted(job_ids)
            replay = client.post(
                f"{API}/generate",
                json={"prompt": "a red sneaker", "modelId": "creatix-flash", "batchCount": 2},
                headers={"Idempotency-Key": "order-0"},
            )
            assert replay.json()["id"] in job_ids
            for wrong in ("job_short", "not-a-uuid", str(uuid.UUID(job_ids[0])).upper() + "x"):
                assert client.get(f"{API}/generations/{wrong}").status_code == 404
            old = next(iter(renames))
            assert client.delete(f"{API}/generations/{old}").json() == {"deleted": True}
            assert client.get(f"{API}/generations/{old}").status_code == 404
    finally:
        server.stop()
