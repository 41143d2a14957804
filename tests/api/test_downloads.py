import re

from fieldapp.extensions import db
from tests.visits.support import sample


def test_openapi_lists_every_api_route(app, client):
    response = client.get("/api/v1/openapi.json")
    document = response.get_json()
    assert response.status_code == 200
    assert document["openapi"].startswith("3.")
    documented = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    }
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api.") or rule.endpoint == "api.openapi_document":
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (method, path) in documented, f"{method} {path} is missing from openapi.json"


def test_openapi_references_resolve(client):
    document = client.get("/api/v1/openapi.json").get_json()
    schemas = document["components"]["schemas"]
    references = re.findall(r'"\$ref": "#/components/schemas/(\w+)"', str(document).replace("'", '"'))
    assert references
    for name in references:
        assert name in schemas, name


def test_assignments_show_own_households_masked(api, sampled, household, make):
    sample(make.household(members=1), make.user("inspector", [make.LAODIAN]))
    db.session.commit()
    response = api.get("/api/v1/assignments")
    data = response.get_json()
    assert response.status_code == 200
    assert [row["sampled_household_id"] for row in data["assignments"]] == [sampled.id]
    row = data["assignments"][0]
    head = household.head
    assert row["head_name"] == head.name
    assert row["head_id_number"] == head.id_number[:6] + "********" + head.id_number[-4:]
    assert head.id_number not in response.get_data(as_text=True)
    assert row["pages"] == {"household": f"/visits/households/{sampled.id}",
                            "visit_form": f"/visits/households/{sampled.id}/new"}
    assert data["pages"] == ["/visits/"]
    assert response.headers["Cache-Control"] == "no-store"


def test_questionnaire_download(api):
    data = api.get("/api/v1/questionnaires/household_visit").get_json()
    assert data["code"] == "household_visit"
    assert data["version"] >= 1
    assert data["definition"]["sections"]


def test_unknown_questionnaire_is_404(api):
    response = api.get("/api/v1/questionnaires/nothing_like_it")
    assert response.status_code == 404
    assert "nothing_like_it" in response.get_json()["message"]


def test_unknown_method_is_405(api):
    response = api.client.delete("/api/v1/assignments", headers=api.headers())
    assert response.status_code == 405
