"""A page number far past any list (found by the reliability suite's live fuzzing on
PostgreSQL: the offset overflowed bigint and the list answered 500)."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("page", [2**40, 2**63, 45865870659242993941217280])
def test_a_page_number_past_any_possible_list_is_a_404_not_a_server_error(editor_client, waf, page):
    response = editor_client.get(f"/api/networks?page={page}&page_size=500")
    assert response.status_code == 404, response.content
    assert response.json()["error"]["code"] == "not_found"
