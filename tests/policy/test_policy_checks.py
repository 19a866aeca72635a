import pytest

from creatix.kit.errors import ContentPolicyViolation
from creatix.policy.blocklists import load_blocklists
from creatix.policy.checks import refuse_blocked


def test_refusal_names_field_category_and_policy_code() -> None:
    blocklist = load_blocklists(["shipped"])
    refuse_blocked(blocklist, {"prompt": "a sunny beach", "negative_prompt": "blurry"})
    with pytest.raises(ContentPolicyViolation) as caught:
        refuse_blocked(blocklist, {"prompt": "a sunny beach", "negative_prompt": "gore"})
    assert caught.value.status == 400
    assert caught.value.code == "content_policy_violation"
    assert caught.value.param == "negative_prompt"
    assert caught.value.category == "violence"
    assert "violence" in caught.value.message
