import time
from pathlib import Path

import pytest

from creatix.policy.blocklists import Blocklist, PolicyFileError, load_blocklist


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "blocklist.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_terms_match_whole_words_case_and_width_insensitively(tmp_path: Path) -> None:
    blocklist = load_blocklist(
        write(
            tmp_path,
            "terms:\n  competitor: [Acme Corp]\npatterns:\n  regulated_claim: ['cures? \\w+']\n",
        )
    )
    found = blocklist.first_match("Better than ＡＣＭＥ corp, ask anyone")
    assert found is not None
    assert found.category == "competitor"
    assert found.matched == "acme corp"
    assert blocklist.first_match("acmecorporation rocks") is None
    claim = blocklist.first_match("This tea cures cancer")
    assert claim is not None
    assert claim.category == "regulated_claim"
    assert blocklist.first_match("a calm beach at dawn") is None


def test_unknown_category_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "terms:\n  competitor: [a]\n  gossip: [b]\n")
    with pytest.raises(PolicyFileError) as caught:
        load_blocklist(path)
    assert caught.value.line == 3
    assert "gossip" in caught.value.reason
    assert str(path) in str(caught.value)


def test_catastrophic_pattern_is_refused_at_load(tmp_path: Path) -> None:
    path = write(tmp_path, "patterns:\n  violence:\n    - 'ok'\n    - '(a)\\1'\n")
    with pytest.raises(PolicyFileError) as caught:
        load_blocklist(path)
    assert caught.value.line == 4
    assert "backreference" in caught.value.reason


def test_ten_thousand_terms_stay_linear_on_a_long_prompt() -> None:
    blocklist = Blocklist(
        {f"brand{i}x": "competitor" for i in range(10_000)}, [("(a+)+$", "violence")]
    )
    prompt = "a" * 50_000 + "!"
    started = time.perf_counter()
    assert blocklist.first_match(prompt) is None
    long_time = time.perf_counter() - started
    started = time.perf_counter()
    blocklist.first_match("a" * 5_000 + "!")
    short_time = time.perf_counter() - started
    assert long_time < max(short_time * 40, 0.05)


def test_shipped_list_loads_and_catalog_assigns_policies_per_plan() -> None:
    from creatix.catalog.loader import load_catalog
    from creatix.policy.blocklists import load_blocklists

    blocklist = load_blocklists(["shipped"])
    found = blocklist.first_match("a miracle cure for everyone")
    assert found is not None
    assert found.category == "regulated_claim"
    catalog = load_catalog()
    assert catalog.policy_name_for("free") == "standard"
    assert catalog.policy_name_for("free", override="off") == "off"
    assert set(catalog.content_policy.policies) == {"strict", "standard", "off"}


def test_a_lone_surrogate_is_matched_around_not_a_crash() -> None:
    blocklist = Blocklist({"gore": "violence"}, [("miracle\\s+cure", "regulated_claim")])
    found = blocklist.first_match("\ud800 gore \udfff")
    assert found is not None
    assert found.category == "violence"
    assert blocklist.first_match("\ud800 a calm cat") is None
