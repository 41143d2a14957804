import pytest
from sqlalchemy import select
from werkzeug.security import check_password_hash

from fieldapp.api import tokens
from fieldapp.audit.models import AuditRecord
from fieldapp.auth import services
from fieldapp.auth.models import User
from fieldapp.errors import FieldError
from fieldapp.extensions import db
from tests.conftest import login

NEW_PASSWORD = "new-password-42"


@pytest.fixture
def english(client):
    client.set_cookie("lang", "en", domain="localhost.localdomain")
    return client


def audit_rows(action):
    return db.session.scalars(select(AuditRecord).where(AuditRecord.action == action)).all()


def user_named(username):
    return db.session.scalars(select(User).where(User.username == username)).one_or_none()


def create_form(**overrides):
    data = {
        "username": "zhang.wei",
        "display_name": "张伟",
        "role": "inspector",
        "divisions": ["371622107000"],
        "password": NEW_PASSWORD,
        "password_confirmation": NEW_PASSWORD,
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize("url", ["/users", "/users/new", "/users/1", "/users/1/password"])
def test_users_pages_need_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


@pytest.mark.parametrize("role", ["supervisor", "inspector"])
@pytest.mark.parametrize("url", ["/users", "/users/new"])
def test_users_pages_hidden_from_other_roles(client, make, role, url):
    login(client, make.user(role, [make.YANGXIN]))
    assert client.get(url).status_code == 404


def test_users_list_shows_managed_users(english, make):
    admin = make.user("admin", [make.YANGXIN])
    make.user("inspector", [make.LAODIAN], username="laodian-inspector")
    make.user("supervisor", [make.HUIMIN], username="huimin-supervisor")
    make.user("inspector", [make.LAODIAN], username="demo-trainee", is_demo=True)
    make.user("admin", [make.CITY], username="city-admin")
    login(english, admin)

    response = english.get("/users")

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "laodian-inspector" in page
    assert "劳店镇" in page
    assert admin.username in page
    assert "huimin-supervisor" not in page
    assert "demo-trainee" not in page
    assert "city-admin" not in page


def test_users_list_page_past_end(english, make):
    admin = make.user("admin", [make.YANGXIN])
    login(english, admin)

    response = english.get("/users?page=99")

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Page 99 does not exist; the list has 1 page. Showing page 1." in page
    assert admin.username in page


def test_users_list_demo_admin_sees_demo_only(english, make):
    admin = make.user("admin", [make.CITY], is_demo=True)
    make.user("inspector", [make.LAODIAN], username="demo-trainee", is_demo=True)
    make.user("inspector", [make.LAODIAN], username="real-inspector")
    login(english, admin)

    page = english.get("/users").get_data(as_text=True)

    assert "demo-trainee" in page
    assert "real-inspector" not in page
    assert "Training accounts" in page


def test_create_user(english, make):
    admin = make.user("admin", [make.YANGXIN])
    login(english, admin)

    response = english.post("/users/new", data=create_form(divisions=["371622107000", "371622106000"]))

    assert response.status_code == 302
    assert response.headers["Location"] == "/users"
    assert "User zhang.wei created." in english.get("/users").get_data(as_text=True)
    user = user_named("zhang.wei")
    assert user.role == "inspector"
    assert user.display_name == "张伟"
    assert user.division_codes == ["371622106000", "371622107000"]
    assert user.is_demo is False
    assert check_password_hash(user.password_hash, NEW_PASSWORD)
    [entry] = audit_rows("user.create")
    assert entry.user_id == admin.id
    assert entry.object_id == str(user.id)
    assert "张伟" not in str(entry.detail)


def test_create_user_in_training_is_demo(english, make):
    login(english, make.user("admin", [make.CITY], is_demo=True))

    response = english.post("/users/new", data=create_form())

    assert response.status_code == 302
    assert user_named("zhang.wei").is_demo is True


def test_create_user_taken_name_on_field(english, make):
    make.user("inspector", [make.LAODIAN], username="zhang.wei")
    login(english, make.user("admin", [make.YANGXIN]))

    response = english.post("/users/new", data=create_form())

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "The user name zhang.wei is taken; choose another." in page
    assert 'class="field  has-error"' in page
    assert audit_rows("user.create") == []


def test_create_user_short_password_on_field(english, make):
    login(english, make.user("admin", [make.YANGXIN]))

    response = english.post("/users/new", data=create_form(password="short", password_confirmation="short"))

    assert response.status_code == 200
    assert "The password must have at least 8 characters." in response.get_data(as_text=True)
    assert user_named("zhang.wei") is None


def test_create_user_passwords_differ(english, make):
    login(english, make.user("admin", [make.YANGXIN]))

    response = english.post("/users/new", data=create_form(password_confirmation="other-password-1"))

    assert response.status_code == 200
    assert "The two passwords differ" in response.get_data(as_text=True)
    assert user_named("zhang.wei") is None


@pytest.mark.parametrize("field, value, message", [
    ("username", "zhang wei", "Use letters, digits, dots, hyphens and underscores only."),
    ("username", "", "This field is required."),
    ("divisions", [], "Choose at least one county or township."),
    ("divisions", ["371621000000"], "is not a valid choice"),
    ("role", "superuser", "Not a valid choice"),
])
def test_create_user_invalid_input(english, make, field, value, message):
    login(english, make.user("admin", [make.YANGXIN]))

    response = english.post("/users/new", data=create_form(**{field: value}))

    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(select(db.func.count()).select_from(User)) == 1


def test_division_choices_limited_to_admin(english, make):
    login(english, make.user("admin", [make.YANGXIN]))

    page = english.get("/users/new").get_data(as_text=True)

    assert 'value="371622107000"' in page
    assert 'value="371622000000"' in page
    assert 'value="371621000000"' not in page
    assert 'value="371622107215"' not in page  # villages are not offered


def test_check_assignable_rejects_outside_code(ctx, make):
    admin = make.user("admin", [make.YANGXIN])
    with pytest.raises(FieldError) as raised:
        services.create_managed_user(admin, "outsider", NEW_PASSWORD, "inspector", [make.HUIMIN])
    assert raised.value.field == "divisions"
    assert "371621000000" in raised.value.message


def test_edit_user(english, make):
    admin = make.user("admin", [make.YANGXIN])
    user = make.user("inspector", [make.LAODIAN])
    login(english, admin)

    response = english.post(f"/users/{user.id}", data={
        "display_name": "李娜",
        "role": "supervisor",
        "divisions": ["371622000000"],
    })

    assert response.status_code == 302
    assert response.headers["Location"] == "/users"
    assert f"User {user.username} saved." in english.get("/users").get_data(as_text=True)
    db.session.refresh(user)
    assert user.role == "supervisor"
    assert user.display_name == "李娜"
    assert user.division_codes == ["371622000000"]
    assert user.is_active_account is False  # the unchecked box deactivates
    [entry] = audit_rows("user.update")
    assert entry.detail["changed"] == ["display_name", "role", "divisions", "is_active"]
    assert entry.detail["divisions"] == ["371622000000"]
    assert "李娜" not in str(entry.detail)


def test_edit_user_form_shows_stored_values(english, make):
    admin = make.user("admin", [make.YANGXIN])
    user = make.user("inspector", [make.LAODIAN])
    login(english, admin)

    page = english.get(f"/users/{user.id}").get_data(as_text=True)

    assert 'selected value="371622107000"' in page
    assert 'value="inspector" selected' in page or 'selected value="inspector"' in page


def test_edit_user_unchanged_writes_nothing(english, make):
    admin = make.user("admin", [make.YANGXIN])
    user = make.user("inspector", [make.LAODIAN])
    login(english, admin)

    response = english.post(f"/users/{user.id}", data={
        "display_name": user.display_name, "role": "inspector", "divisions": [make.LAODIAN], "is_active": "y",
    }, follow_redirects=True)

    assert "Nothing changed for user" in response.get_data(as_text=True)
    assert audit_rows("user.update") == []


def test_edit_own_account_cannot_deactivate(english, make):
    admin = make.user("admin", [make.YANGXIN])
    login(english, admin)

    response = english.post(f"/users/{admin.id}", data={
        "display_name": "", "role": "admin", "divisions": [make.YANGXIN],
    })

    assert response.status_code == 200
    assert "You cannot deactivate your own account" in response.get_data(as_text=True)
    db.session.refresh(admin)
    assert admin.is_active_account is True
    assert audit_rows("user.update") == []


def test_edit_own_role_kept(english, make):
    admin = make.user("admin", [make.YANGXIN])
    login(english, admin)

    response = english.post(f"/users/{admin.id}", data={
        "role": "inspector", "divisions": [make.YANGXIN], "is_active": "y",
    })

    assert response.status_code == 200
    assert "You cannot take away your own administrator role" in response.get_data(as_text=True)
    db.session.refresh(admin)
    assert admin.role == "admin"


@pytest.mark.parametrize("other", [
    {"role": "inspector", "divisions": ["371621101000"]},  # outside the admin's county
    {"role": "inspector", "divisions": ["371622107000"], "is_demo": True},  # the other world
    {"role": "admin", "divisions": ["371600000000"]},  # wider than the admin
])
@pytest.mark.parametrize("suffix", ["", "/password"])
def test_unmanaged_user_is_404(english, make, other, suffix):
    user = make.user(other["role"], other["divisions"], is_demo=other.get("is_demo", False))
    login(english, make.user("admin", [make.YANGXIN]))

    assert english.get(f"/users/{user.id}{suffix}").status_code == 404
    response = english.post(f"/users/{user.id}{suffix}", data={
        "role": "inspector", "divisions": [make.LAODIAN], "password": NEW_PASSWORD,
        "password_confirmation": NEW_PASSWORD,
    })
    assert response.status_code == 404
    assert audit_rows("user.update") == []
    assert audit_rows("user.password") == []


def test_reset_password(english, make):
    admin = make.user("admin", [make.YANGXIN])
    user = make.user("inspector", [make.LAODIAN])
    login(english, admin)

    response = english.post(f"/users/{user.id}/password", data={
        "password": NEW_PASSWORD, "password_confirmation": NEW_PASSWORD,
    })

    assert response.status_code == 302
    assert response.headers["Location"] == "/users"
    assert f"New password set for user {user.username}." in english.get("/users").get_data(as_text=True)
    db.session.refresh(user)
    assert check_password_hash(user.password_hash, NEW_PASSWORD)
    [entry] = audit_rows("user.password")
    assert entry.user_id == admin.id
    assert entry.object_id == str(user.id)


def test_reset_password_too_short(english, make):
    admin = make.user("admin", [make.YANGXIN])
    user = make.user("inspector", [make.LAODIAN])
    old_hash = user.password_hash
    login(english, admin)

    response = english.post(f"/users/{user.id}/password", data={
        "password": "short", "password_confirmation": "short",
    })

    assert response.status_code == 200
    assert "The password must have at least 8 characters." in response.get_data(as_text=True)
    db.session.refresh(user)
    assert user.password_hash == old_hash
    assert audit_rows("user.password") == []


def test_deactivated_user_cannot_log_in(english, make):
    admin = make.user("admin", [make.YANGXIN])
    user = make.user("inspector", [make.LAODIAN])
    login(english, admin)
    english.post(f"/users/{user.id}", data={"role": "inspector", "divisions": [make.LAODIAN]})
    english.post("/logout")

    response = english.post("/login", data={"username": user.username, "password": make.PASSWORD})

    assert response.status_code == 200
    assert "Wrong user name or password." in response.get_data(as_text=True)


def test_deactivation_ends_open_session(app, english, make):
    admin = make.user("admin", [make.YANGXIN])
    user = make.user("inspector", [make.LAODIAN])
    inspector_client = app.test_client()
    login(inspector_client, user)
    login(english, admin)

    english.post(f"/users/{user.id}", data={"role": "inspector", "divisions": [make.LAODIAN]})
    response = inspector_client.get("/")

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_edit_user_keeps_shared_division(english, make):
    admin = make.user("admin", [make.YANGXIN])
    user = make.user("inspector", [make.LAODIAN, "371622106000"])
    login(english, admin)

    response = english.post(f"/users/{user.id}", data={
        "display_name": user.display_name, "role": "inspector", "divisions": [make.LAODIAN, "371622105000"],
        "is_active": "y",
    })

    assert response.status_code == 302
    db.session.refresh(user)
    assert user.division_codes == ["371622105000", make.LAODIAN]
    [entry] = audit_rows("user.update")
    assert entry.detail["changed"] == ["divisions"]


def test_reset_password_revokes_the_users_sync_tokens(english, make):
    admin = make.user("admin", [make.YANGXIN])
    user = make.user("inspector", [make.LAODIAN])
    other = make.user("inspector", [make.LAODIAN])
    with english.application.test_request_context():
        token, _row = tokens.issue(user)
        other_token, _other_row = tokens.issue(other)
    db.session.flush()
    assert english.get("/api/v1/assignments", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    login(english, admin)

    response = english.post(f"/users/{user.id}/password", data={
        "password": NEW_PASSWORD, "password_confirmation": NEW_PASSWORD,
    })

    assert response.status_code == 302
    assert "Their phones must log in again" in english.get("/users").get_data(as_text=True)
    assert english.get("/api/v1/assignments", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert english.get("/api/v1/assignments",
                       headers={"Authorization": f"Bearer {other_token}"}).status_code == 200
    [entry] = audit_rows("api_token.revoke_all")
    assert (entry.user_id, entry.object_id, entry.detail) == (admin.id, str(user.id), {"tokens": 1})
