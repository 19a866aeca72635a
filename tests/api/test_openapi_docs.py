"""The published OpenAPI says what the server does, and /docs and /redoc work offline.

Every claim of ``/openapi.json`` checked here is also tried against the running server: the
security schemes authenticate as described, the documented error bodies are the ones the
dialects send, the upload's documented body is accepted, and the example requests work.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from PIL import Image

from creatix.accounts import service as accounts
from support import LiveServer, make_settings

COOKIE = "creatix_session"
PASSWORD = "correct horse battery staple 42"

EITHER_KEY_PREFIXES = ("/v1/jobs/", "/v1/me")
"""Routes every dialect's clients call (jobs, their events, the key in use): a bearer key, or
X-API-ID + X-API-KEY."""
BEARER_PREFIXES = ("/v1/", "/api/platform/")
API_ID_PREFIXES = ("/api/asset_generator/", "/api/text_generator/")
SESSION_PREFIX = "/api/session"
MANAGEMENT_PREFIXES = ("/api/account/", "/api/admin/")
"""The account and admin APIs: a session, or a key with the manage or operator scope."""
PUBLIC = {"/healthz", "/readyz", "/metrics", "/files/{key}"}
NO_CREDENTIALS = {
    ("post", "/api/session"),
    ("post", "/api/session/accept-invitation"),
}
"""Signing in: what a person without a session calls."""
ERROR_SCHEMAS = {
    "/v1/generate": "ArtnexError",
    "/v1/": "CreatixV1Error",
    "/api/platform/": "PlatformError",
    "/api/asset_generator/": "AssetGeneratorError",
    "/api/text_generator/": "AssetGeneratorError",
    "/files/": "FilesError",
    "/api/session": "PlatformError",
    "/api/account/": "PlatformError",
    "/api/admin/": "PlatformError",
}
SESSION_ERRORS = {
    ("post", "/api/session"): {"400", "401", "413", "429", "503"},
    ("get", "/api/session"): {"400", "401", "503"},
    ("delete", "/api/session"): {"400", "403", "503"},
    ("post", "/api/session/sign-out-everywhere"): {"400", "401", "403", "413", "503"},
    ("post", "/api/session/password"): {"400", "401", "403", "413", "429", "503"},
    ("post", "/api/session/accept-invitation"): {"400", "413", "503"},
}
"""What each /api/session route answers besides success."""
MANAGEMENT_LOOKUPS = {
    ("get", "/api/admin/people"),
    ("post", "/api/admin/people"),
    ("post", "/api/platform/ad-sets"),
    ("post", "/api/platform/ad-sets/quote"),
}
"""Routes without an id in the path that still name an account or a resource (query, body):
an ad set (and its quote) names its brand kit."""
MANAGEMENT_CONFLICTS = {
    ("post", "/api/admin/people"),
    ("post", "/api/admin/people/{person_id}/password-reset"),
    ("post", "/api/admin/people/{person_id}/disable"),
    ("post", "/api/account/{account_id}/people"),
    ("post", "/api/admin/accounts"),
    ("patch", "/api/admin/accounts/{account_id}"),
    ("post", "/api/admin/accounts/{account_id}/credits"),
}
"""Management routes that answer a 409 (a name or email taken, a balance too small...)."""
CREATES = {
    ("post", "/v1/images/generations"),
    ("post", "/v1/generate"),
    ("post", "/api/platform/generate"),
    ("post", "/api/platform/videos"),
    ("post", "/api/platform/ad-sets"),
    ("post", "/api/asset_generator/"),
    ("post", "/api/text_generator/"),
    ("post", "/api/account/{account_id}/generations"),
    ("post", "/api/account/{account_id}/ad-sets"),
}
"""The operations that start a job, all of which honour an Idempotency-Key."""
IDEMPOTENT = CREATES | {("post", "/api/admin/accounts/{account_id}/credits")}
"""The operations that honour an Idempotency-Key: those and an operator's credit grant."""
SYNCHRONOUS = {("post", "/v1/images/generations"), ("post", "/v1/generate")}
EXAMPLES_RUN = {
    ("post", "/v1/images/generations"): 200,
    ("post", "/v1/generate"): 200,
    ("post", "/api/platform/generate"): 202,
    ("post", "/api/text_generator/"): 201,
}
"""The examples sent as they are (the others name a generation or a URL elsewhere)."""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(make_settings(Path(tmp_path_factory.mktemp("openapi-docs")))).start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def document(server: LiveServer) -> dict[str, Any]:
    response = httpx.get(f"{server.url}/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture(scope="module")
def schemes(server: LiveServer) -> dict[str, dict[str, str]]:
    """For each security scheme, the headers that satisfy it, by its own description: a key
    with every scope, and the session of a signed-in operator."""
    name, _ = server.funded_account(credits=10**9, plan="unlimited")
    assert server.runtime is not None
    key = server.call(
        accounts.create_key(server.runtime.db, name, scopes=["generate", "manage", "operator"])
    )
    email = "operator-openapi@example.com"
    server.call(server.runtime.people.create(email, password=PASSWORD, operator=True))
    signed = httpx.post(f"{server.url}/api/session", json={"email": email, "password": PASSWORD})
    assert signed.status_code == 200, signed.text
    return {
        "bearer": {"secret": key.secret},
        "pair": {"id": key.key_id, "secret": key.secret},
        "session": {"token": signed.cookies[COOKIE], "csrf": signed.json()["csrf_token"]},
    }


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield method, path, operation


def _dialect(path: str) -> str | None:
    matching = [prefix for prefix in ERROR_SCHEMAS if path.startswith(prefix)]
    return max(matching, key=len) if matching else None


def _validator(document: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator({**schema, "components": document["components"]})


def _headers_for(
    document: dict[str, Any], requirement: dict[str, list[str]], keys: dict[str, dict[str, str]]
) -> dict[str, str]:
    """The headers a client builds from the security schemes alone, as /docs' Authorize does."""
    headers = {}
    for name in requirement:
        scheme = document["components"]["securitySchemes"][name]
        if scheme["type"] == "http":
            assert scheme["scheme"] == "bearer"
            headers["Authorization"] = f"Bearer {keys['bearer']['secret']}"
        elif scheme["in"] == "cookie":
            assert scheme["type"] == "apiKey"
            headers["Cookie"] = f"{scheme['name']}={keys['session']['token']}"
        else:
            assert scheme["type"] == "apiKey"
            assert scheme["in"] == "header"
            pair = keys["pair"]
            headers[scheme["name"]] = pair["id"] if scheme["name"] == "X-API-ID" else pair["secret"]
    return headers


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "00000000-0000-0000-0000-000000000000", path)


# -- security --------------------------------------------------------------------------------


def test_the_security_schemes_are_bearer_the_api_id_pair_and_the_session(
    document: dict[str, Any],
) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}
    assert {(s["type"], s["in"], s["name"]) for n, s in schemes.items() if n != "bearerAuth"} == {
        ("apiKey", "header", "X-API-ID"),
        ("apiKey", "header", "X-API-KEY"),
        ("apiKey", "cookie", COOKIE),
    }
    assert schemes["sessionCookie"]["name"] == COOKIE


def test_each_operation_names_the_scheme_it_accepts(document: dict[str, Any]) -> None:
    operations = list(_operations(document))
    assert len(operations) > 20
    for method, path, operation in operations:
        security = operation.get("security")
        if path in PUBLIC or (method, path) in NO_CREDENTIALS:
            assert not security, f"{method} {path} needs no key"
        elif path.startswith(EITHER_KEY_PREFIXES):
            assert security == [{"bearerAuth": []}, {"apiId": [], "apiKey": []}], path
        elif path.startswith(BEARER_PREFIXES):
            assert security == [{"bearerAuth": []}], f"{method} {path}"
        elif path.startswith(SESSION_PREFIX):
            assert security == [{"sessionCookie": []}], f"{method} {path}"
        elif path.startswith(MANAGEMENT_PREFIXES):
            # Alternatives: a session, or a key (with the scope the route asks for).
            assert security == [{"sessionCookie": []}, {"bearerAuth": []}], f"{method} {path}"
        else:
            assert path.startswith(API_ID_PREFIXES), f"{method} {path}: which dialect?"
            # One requirement naming both headers: both are needed at once.
            assert security == [{"apiId": [], "apiKey": []}], f"{method} {path}"


def test_the_documented_schemes_authenticate(
    document: dict[str, Any], server: LiveServer, schemes: dict[str, dict[str, str]]
) -> None:
    """Every keyed GET answers 200 (or its 404 for an unknown id) with the headers each of its
    security requirements describes, and 401 with the other dialects' headers."""
    tried = 0
    for method, path, operation in _operations(document):
        if method != "get" or path in PUBLIC:
            continue
        requirements = operation["security"]
        named = {name for requirement in requirements for name in requirement}
        other = {"apiId": [], "apiKey": []} if "bearerAuth" in named else {"bearerAuth": []}
        url = f"{server.url}{_concrete(path)}"
        for requirement in requirements:
            answered = httpx.get(url, headers=_headers_for(document, requirement, schemes))
            assert answered.status_code == (404 if "{" in path else 200), (path, answered.text)
        if not path.startswith(EITHER_KEY_PREFIXES):  # those take the other dialects' too
            refused = httpx.get(url, headers=_headers_for(document, other, schemes))
            assert refused.status_code == 401, path
        assert httpx.get(url).status_code == 401, path
        tried += 1
    assert tried >= 12


# -- errors ----------------------------------------------------------------------------------


def test_no_operation_documents_fastapis_validation_error(document: dict[str, Any]) -> None:
    text = str(document)
    assert "HTTPValidationError" not in text
    assert "ValidationError'" not in text
    for method, path, operation in _operations(document):
        if (method, path) not in SYNCHRONOUS:  # where the model itself may refuse (below)
            assert "422" not in operation["responses"], f"{method} {path}"


def test_every_operation_documents_its_errors_in_its_dialects_shape(
    document: dict[str, Any],
) -> None:
    for method, path, operation in _operations(document):
        dialect = _dialect(path)
        if dialect is None:
            continue
        responses = operation["responses"]
        if path.startswith("/files/"):
            expected = {"400", "403", "404", "416"}
        elif path.startswith(SESSION_PREFIX):
            expected = SESSION_ERRORS[(method, path)]
        else:
            expected = {"400", "401", "403", "429", "503"}
            if "{" in path or (method, path) in MANAGEMENT_LOOKUPS:
                expected.add("404")
            if method in ("post", "patch", "put"):
                expected |= {"413"}
            if (method, path) in CREATES:
                expected |= {"402", "403", "409"}
            if (method, path) in MANAGEMENT_CONFLICTS:
                expected |= {"409"}
            if (method, path) in SYNCHRONOUS:
                expected |= {"422", "500"}
        errors = {status for status in responses if int(status) >= 400}
        assert errors == expected, f"{method} {path}"
        reference = f"#/components/schemas/{ERROR_SCHEMAS[dialect]}"
        for status in errors:
            schema = responses[status]["content"]["application/json"]["schema"]
            assert schema == {"$ref": reference}, f"{method} {path} {status}"


def test_the_documented_error_shapes_are_what_the_dialects_send(
    document: dict[str, Any], server: LiveServer
) -> None:
    """Every keyed operation, called without a key, answers the 401 it documents, its body
    valid against the documented schema; so does a 404 of every lookup by id."""
    tried = 0
    for method, path, operation in _operations(document):
        if path in PUBLIC or (method, path) in NO_CREDENTIALS:
            continue
        if (method, path) == ("delete", "/api/session"):
            continue  # signing out without a session is a 204 (there is nothing to end)
        body = {"json": {}} if method in ("post", "patch") else {}
        response = httpx.request(method, f"{server.url}{_concrete(path)}", **body)
        assert response.status_code == 401, path
        documented = operation["responses"]["401"]["content"]["application/json"]["schema"]
        _validator(document, documented).validate(response.json())
        tried += 1
    assert tried > 20


# -- bodies, headers, examples ---------------------------------------------------------------


def test_the_upload_documents_its_multipart_and_raw_bodies(
    document: dict[str, Any], server: LiveServer, schemes: dict[str, dict[str, str]]
) -> None:
    body = document["paths"]["/api/platform/upload"]["post"]["requestBody"]
    content = body["content"]
    assert body["required"] is True
    assert set(content) == {"multipart/form-data", "image/png", "image/jpeg", "image/webp"}
    form = content["multipart/form-data"]["schema"]
    (field,) = form["required"]
    assert form["properties"][field] == {**form["properties"][field], "format": "binary"}
    picture = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 30, 30)).save(picture, "PNG")
    auth = {"Authorization": f"Bearer {schemes['bearer']['secret']}"}
    url = f"{server.url}/api/platform/upload"
    as_form = httpx.post(url, headers=auth, files={field: ("a.png", picture.getvalue())})
    assert as_form.status_code == 201, as_form.text
    raw = httpx.post(url, headers={**auth, "Content-Type": "image/png"}, content=picture.getvalue())
    assert raw.status_code == 201, raw.text


def test_create_operations_document_the_idempotency_key(document: dict[str, Any]) -> None:
    documented = {
        (method, path)
        for method, path, operation in _operations(document)
        if any(
            p["name"] == "Idempotency-Key" and p["in"] == "header"
            for p in operation.get("parameters", [])
        )
    }
    assert documented == IDEMPOTENT


def test_every_operation_has_an_example_request(document: dict[str, Any]) -> None:
    for method, path, operation in _operations(document):
        (sample,) = operation["x-codeSamples"]
        source = sample["source"]
        assert source.startswith(f"curl -X {method.upper()} http"), (path, source)
        assert re.sub(r"\{(\w+)\}", lambda m: m.group(1).upper(), path) in source
        for requirement in operation.get("security", []):
            for name in requirement:
                scheme = document["components"]["securitySchemes"][name]
                assert scheme.get("name", "Authorization: Bearer") in source, (path, name)
        json_body = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if json_body is not None:
            _validator(document, json_body["schema"]).validate(json_body["example"])
            assert "-d '" in source
            assert "Content-Type: application/json" in source
    upload = document["paths"]["/api/platform/upload"]["post"]["x-codeSamples"][0]["source"]
    assert '-F "file=@product.jpg"' in upload


def test_the_example_requests_work(
    document: dict[str, Any], server: LiveServer, schemes: dict[str, dict[str, str]]
) -> None:
    for (method, path), status in EXAMPLES_RUN.items():
        operation = document["paths"][path][method]
        (requirement,) = operation["security"]
        example = operation["requestBody"]["content"]["application/json"]["example"]
        response = httpx.request(
            method,
            f"{server.url}{path}",
            json=example,
            headers=_headers_for(document, requirement, schemes),
            timeout=120,
        )
        assert response.status_code == status, (path, response.text)


# -- the pages -------------------------------------------------------------------------------

ASSET_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png"}


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_pages_load_only_local_assets(server: LiveServer, page: str) -> None:
    response = httpx.get(f"{server.url}{page}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert "http://" not in html, html
    assert "https://" not in html, html
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert len(assets) >= (3 if page == "/docs" else 2)
    for asset in assets:
        assert asset.startswith("/"), asset
        assert not asset.startswith("//"), asset
        served = httpx.get(f"{server.url}{asset}")
        assert served.status_code == 200, asset
        assert len(served.content) > 1000, asset
        suffix = Path(asset).suffix
        assert ASSET_TYPES[suffix] in served.headers["content-type"], asset
    assert re.search(r"(url: |spec-url=)['\"]/openapi\.json['\"]", html)
