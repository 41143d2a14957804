from fieldapp.audit.models import AuditRecord
from fieldapp.extensions import db
from tests.conftest import login


def test_login_redirects_by_role(client, make):
    inspector = make.user("inspector", [make.LAODIAN])
    response = login(client, inspector)
    assert response.headers["Location"] == "/"


def test_login_wrong_password_is_audited(client, make):
    user = make.user("supervisor", [make.YANGXIN])
    response = client.post("/login", data={"username": user.username, "password": "wrong-password"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "用户名或密码错误" in page or "Wrong user name" in page
    actions = db.session.scalars(db.select(AuditRecord.action)).all()
    assert "auth.login_failed" in actions
