"""The console in a real browser (Debian's Chromium, driven by Playwright) against a real iamd server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyotp
from botocore.client import BaseClient
from click.testing import CliRunner

from iamd.cli import main
from iamd.root_password import set_root_password
from tests.api.clock import StepClock
from tests.api.server import RunningServer
from tests.console.conftest import PASSWORD, make_user

EXAMPLES = Path(__file__).parents[2] / "docs" / "examples"


def sign_in(page: Any, server: RunningServer, user: str, password: str = PASSWORD) -> None:
    page.goto(f"{server.endpoint}/console")
    page.fill("#account", server.account_id)
    page.fill("#username", user)
    page.fill("#password", password)
    page.click("#signin")


def _events(server: RunningServer, name: str, user: str) -> list[dict[str, Any]]:
    with server.backend.store.read() as tx:
        page = tx.list_audit_events(server.account_id, event_name=name, user_name=user, max_items=100)
    return [json.loads(e.record) for e in page.items]


def test_sign_in_fails_with_aws_words_then_succeeds_from_the_keyboard(
    page: Any, server: RunningServer, iam: BaseClient
) -> None:
    make_user(iam, "kim")
    sign_in(page, server, "kim", "not-the-password")
    assert page.inner_text("#error") == (
        "Authentication failed\nYour authentication information is incorrect. Please try again."
    )
    # keyboard only: every field has a label, Tab moves through them, Enter submits
    page.goto(f"{server.endpoint}/console")
    page.get_by_label("Account ID (12 digits) or account alias").focus()
    page.keyboard.type(server.account_id)
    page.keyboard.press("Tab")
    page.keyboard.type("kim")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/console/home")
    assert page.inner_text("#arn") == f"arn:aws:iam::{server.account_id}:user/kim"
    assert page.inner_text("#mfa-used") == "No"
    outcomes = [e["responseElements"]["ConsoleLogin"] for e in _events(server, "ConsoleLogin", "kim")]
    assert sorted(outcomes) == ["Failure", "Success"]
    page.click("#signout")
    page.wait_for_url("**/console")
    assert page.is_visible("#signin-form")
    page.goto(f"{server.endpoint}/console/home")  # the session is gone
    assert page.is_visible("#signin-form")


def test_created_securely_then_first_sign_in_changes_the_password(
    page: Any, server: RunningServer, iam: BaseClient
) -> None:
    """``iamd user create --console-password``: the URL it prints signs in, and the forced change works
    (IAMUserChangePassword attached: the account does not let users change passwords)."""
    env = {"AWS_ACCESS_KEY_ID": server.root_key, "AWS_SECRET_ACCESS_KEY": server.root_secret,
           "AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"}  # fmt: skip
    out = CliRunner().invoke(main, ["user", "create", "noor", "--console-password", "--endpoint-url", server.endpoint],
                             env=env)  # fmt: skip
    assert out.exit_code == 0, out.output
    lines = dict(line.split(": ", 1) for line in out.output.splitlines() if ": " in line)
    password = lines["Console password (shown once; it must be changed at first sign-in)"]
    page.goto(lines["Sign-in URL"])
    assert page.input_value("#account") == server.account_id
    page.fill("#username", "noor")
    page.fill("#password", password)
    page.click("#signin")
    page.wait_for_url("**/console/password")
    assert page.is_visible("#forced")
    assert "At least 8 characters (at most 128)" in page.inner_text("#policy")
    page.goto(f"{server.endpoint}/console/credentials")  # nothing else until the password is changed
    page.wait_for_url("**/console/password")
    page.fill("#old", password)
    page.fill("#new", "short")
    page.fill("#confirm", "short")
    page.click("#change")
    assert "Password should have a minimum length of 8\n" in page.inner_text("#error")
    page.fill("#old", password)
    page.fill("#new", "Brand-new-passw0rd")
    page.fill("#confirm", "Brand-new-passw0rd")
    page.click("#change")
    page.wait_for_url("**/console/home")
    assert iam.get_login_profile(UserName="noor")["LoginProfile"]["PasswordResetRequired"] is False
    page.click("#signout")
    sign_in(page, server, "noor", "Brand-new-passw0rd")
    page.wait_for_url("**/console/home")


def test_diego_enables_mfa_then_manages_his_keys(
    page: Any, server: RunningServer, iam: BaseClient, clock: StepClock
) -> None:
    """AWS's "manage your own credentials only with MFA" policy: without MFA the keys are denied (and the
    page says why); the QR page's seed makes real TOTP codes; with MFA at sign-in, keys can be created
    (the secret shown once, with its CSV) and deleted."""
    document = (EXAMPLES / "manage-own-credentials-with-mfa.json").read_text()
    arn = iam.create_policy(PolicyName="SelfManageWithMfa", PolicyDocument=document)["Policy"]["Arn"]
    make_user(iam, "diego", policies=(arn,))
    sign_in(page, server, "diego")
    page.wait_for_url("**/console/home")
    page.click("text=My security credentials")
    assert "is not authorized to perform: iam:ListAccessKeys" in page.inner_text("#keys-error")
    assert "with an explicit deny in an identity-based policy" in page.inner_text("#keys-error")
    page.click("#assign-mfa")
    assert page.get_attribute("#qr", "src").startswith("data:image/png;base64,")
    totp = pyotp.TOTP(page.inner_text("#seed"))
    clock.advance()
    page.fill("#code1", totp.generate_otp(clock.step - 1))
    page.fill("#code2", totp.generate_otp(clock.step))
    page.click("#add-mfa")
    assert "The MFA device was assigned" in page.inner_text("#notice")
    assert iam.list_mfa_devices(UserName="diego")["MFADevices"][0]["SerialNumber"].endswith(":mfa/diego")
    page.click("#signout")

    sign_in(page, server, "diego")
    page.wait_for_url("**/console/mfa")
    clock.advance()
    page.fill("#code", f"{(int(totp.generate_otp(clock.step)) + 1) % 1_000_000:06d}")  # a wrong code
    page.click("#verify")
    assert "Your authentication information is incorrect" in page.inner_text("#error")
    page.fill("#code", totp.generate_otp(clock.step))
    page.click("#verify")
    page.wait_for_url("**/console/home")
    assert page.inner_text("#mfa-used") == "Yes"
    success = [
        e for e in _events(server, "ConsoleLogin", "diego") if e["responseElements"]["ConsoleLogin"] == "Success"
    ]
    assert [e["additionalEventData"]["MFAUsed"] for e in success] == ["Yes", "No"]  # newest first

    page.click("text=My security credentials")
    page.click("#create-key")
    key_id = page.inner_text("#new-key-id")
    secret = page.inner_text("#new-secret")
    assert key_id.startswith("AKIA") and len(secret) == 40
    with page.expect_download() as download:
        page.click("#download-csv")
    csv = Path(download.value.path()).read_text()
    assert csv.splitlines() == ["Access key ID,Secret access key", f"{key_id},{secret}"]
    page.click("#done")
    assert page.inner_text(f"#key-{key_id} .status") == "Active"
    assert secret not in page.content()  # shown once only
    page.click(f"#key-{key_id} >> text=Deactivate")
    assert page.inner_text(f"#key-{key_id} .status") == "Inactive"
    page.click(f"#key-{key_id} >> text=Delete")
    assert "The access key was deleted." in page.inner_text("#notice")
    assert iam.list_access_keys(UserName="diego")["AccessKeyMetadata"] == []
    page.click("#remove-mfa")  # the device can go too (with MFA, as the policy wants)
    assert page.inner_text("#notice").startswith("The MFA device was removed.")
    assert not page.is_visible("#error") and page.is_visible("#assign-mfa")
    assert iam.list_mfa_devices(UserName="diego")["MFADevices"] == []
    # the policy allows no DeleteVirtualMFADevice: the unassigned device stays, and a new one gets a new name
    page.click("#assign-mfa")
    assert page.get_attribute("#qr", "src").startswith("data:image/png;base64,")
    assert page.inner_text("#seed") != totp.secret  # a new seed
    # every one of those actions is in the trail as diego's, with MFA
    (created,) = _events(server, "CreateAccessKey", "diego")
    assert created["userIdentity"]["sessionContext"]["attributes"]["mfaAuthenticated"] == "true"
    assert secret not in json.dumps(created)


def test_root_signs_in_with_the_password_the_operator_set(page: Any, server: RunningServer) -> None:
    assert server.backend.data_dir is not None
    page.goto(f"{server.endpoint}/console")
    page.check("#kind-root")
    page.fill("#account", server.account_id)
    page.fill("#password", "Root-passw0rd-1")
    page.click("#signin")
    assert "Your authentication information is incorrect" in page.inner_text("#error")  # none set yet
    set_root_password(server.backend.data_dir, "Root-passw0rd-1")
    page.check("#kind-root")
    page.fill("#password", "Root-passw0rd-1")
    page.click("#signin")
    page.wait_for_url("**/console/home")
    assert page.inner_text("#arn") == f"arn:aws:iam::{server.account_id}:root"


def test_root_creates_a_user_securely_in_the_console(page: Any, server: RunningServer, iam: BaseClient) -> None:
    """The console's Create user with a console password and a required reset: the user's first sign-in
    changes it (IAMUserChangePassword attached, as AWS's console does)."""
    assert server.backend.data_dir is not None
    set_root_password(server.backend.data_dir, "Root-passw0rd-2")
    page.goto(f"{server.endpoint}/console")
    page.check("#kind-root")
    page.fill("#account", server.account_id)
    page.fill("#password", "Root-passw0rd-2")
    page.click("#signin")
    page.wait_for_url("**/console/home")
    page.click("nav >> text=Users")
    page.click("#new-user")
    page.fill("#name", "lena")
    page.click("#create-user")
    password = page.inner_text("#new-password")
    signin_url = page.inner_text("#signin-url")
    assert "Attached arn:aws:iam::aws:policy/IAMUserChangePassword" in page.inner_text("#created")
    page.click("#signout")
    page.goto(signin_url)
    page.fill("#username", "lena")
    page.fill("#password", password)
    page.click("#signin")
    page.wait_for_url("**/console/password")
    page.fill("#old", password)
    page.fill("#new", "Lena-new-passw0rd")
    page.fill("#confirm", "Lena-new-passw0rd")
    page.click("#change")
    page.wait_for_url("**/console/home")
    assert page.inner_text("#arn").endswith(":user/lena")


def test_a_denied_admin_action_and_its_why(page: Any, server: RunningServer, iam: BaseClient) -> None:
    make_user(iam, "eve")
    sign_in(page, server, "eve")
    page.wait_for_url("**/console/home")
    page.click("nav >> text=Users")
    assert "is not authorized to perform: iam:ListUsers" in page.inner_text("#error")
    page.click("#error >> a")  # the request id links to its "Why?"
    page.wait_for_url("**/console/why?request_id=*")
    assert page.inner_text("#why-error").startswith("AccessDenied: User: arn:aws:iam::")
    assert page.inner_text("#why-decision") == "implicitDeny"
    assert '"decision": "implicitDeny"' in page.inner_text("#why-detail")
    # the troubleshooter's answer is iamd:Explain, authorized like any call: refused, and said so
    assert "iamd:Explain" in page.inner_text("#why-refused")
    # allowed to explain her own requests (docs/troubleshooting.md), she gets the answer and a fix
    own = {"Effect": "Allow", "Action": "iamd:Explain", "Resource": "arn:aws:iam::*:user/${aws:username}"}
    iam.put_user_policy(UserName="eve", PolicyName="explain-own",
                        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [own]}))  # fmt: skip
    page.reload()
    assert "denied: no identity-based policy allows it" in page.inner_text("#why-verdict")
    assert "Blocked by the identity-based policy (no allow)" in page.inner_text("#why-findings")
    assert "the request is allowed" in page.inner_text("#why-fix")  # the fix, verified by re-evaluation
    assert '"iam:ListUsers"' in (page.text_content("#why-fix-detail") or "")


def test_the_simulator_form_and_the_trail_table(page: Any, server: RunningServer, iam: BaseClient) -> None:
    make_user(iam, "quinn")
    arn = f"arn:aws:iam::{server.account_id}:user/quinn"
    iam.put_user_policy(UserName="quinn", PolicyName="sim", PolicyDocument=json.dumps({"Version": "2012-10-17",
                        "Statement": [{"Effect": "Allow", "Action": ["iam:SimulatePrincipalPolicy", "iam:GetUser"],
                                       "Resource": arn}]}))  # fmt: skip
    sign_in(page, server, "quinn")
    page.wait_for_url("**/console/home")
    page.click("nav >> text=Simulator")
    assert page.input_value("#sim-source") == arn
    page.fill("#sim-actions", "iam:GetUser\niam:ListUsers")
    page.fill("#sim-resources", arn)
    page.click("#simulate")
    assert page.inner_text("#simulation tbody tr:nth-child(1) td:nth-child(3)") == "allowed"
    assert page.inner_text("#simulation tbody tr:nth-child(2) td:nth-child(3)") == "implicitDeny"
    page.click("nav >> text=Users")  # denied: ListUsers
    server.backend.audit.flush()
    page.click("nav >> text=Trail")
    page.check("#tr-errors")
    page.click("#trail-apply")
    assert page.inner_text("#trail tbody tr:nth-child(1) td:nth-child(3)") == "ListUsers"
    page.click("#trail tbody tr:nth-child(1) a")  # its request id: "Why?"
    page.wait_for_url("**/console/why?request_id=*")
    assert "iam:ListUsers" in page.inner_text("#why-error")


def test_switch_role_with_its_color_history_and_back(page: Any, server: RunningServer, iam: BaseClient) -> None:
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                        "Principal": {"AWS": f"arn:aws:iam::{server.account_id}:root"}}]})  # fmt: skip
    role = iam.create_role(RoleName="browser-reader", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    iam.attach_role_policy(RoleName="browser-reader", PolicyArn="arn:aws:iam::aws:policy/IAMReadOnlyAccess")
    make_user(iam, "sam")
    iam.put_user_policy(UserName="sam", PolicyName="switch", PolicyDocument=json.dumps({"Version": "2012-10-17",
                        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role}]}))  # fmt: skip
    sign_in(page, server, "sam")
    page.wait_for_url("**/console/home")
    page.click("nav >> text=Switch role")
    page.fill("#sr-account", server.account_id)
    page.fill("#sr-role", "browser-reader")
    page.fill("#sr-display", "Reader")
    page.check("#sr-color-green")
    page.click("#switch")
    page.wait_for_url("**/console/home")
    assert page.inner_text("#role-banner") == "Reader"
    assert "role-green" in (page.get_attribute("#role-banner", "class") or "")
    assert page.inner_text("#acting-as") == f"arn:aws:sts::{server.account_id}:assumed-role/browser-reader/sam"
    page.click("nav >> text=Users")
    assert page.is_visible("#users") and not page.is_visible("#error")  # the role may list users
    page.click("nav >> text=Switch role")
    assert page.inner_text("#role-history button") == "Reader"
    page.click("#back")
    page.wait_for_url("**/console/home")
    assert not page.is_visible("#role-banner")
    page.click("nav >> text=Users")
    assert "is not authorized to perform: iam:ListUsers" in page.inner_text("#error")
    page.click("nav >> text=Switch role")
    page.click("#role-history >> text=edit")  # "edit" fills the form with the entry
    assert page.input_value("#sr-role") == "browser-reader" and page.is_checked("#sr-color-green")
    page.click("nav >> text=Switch role")
    page.click("#role-history >> text=Reader")  # one click switches, as AWS's role history does
    page.wait_for_url("**/console/home")
    assert page.inner_text("#role-banner") == "Reader"
    assert "role-green" in (page.get_attribute("#role-banner", "class") or "")
    page.click("nav >> text=Users")
    assert page.is_visible("#users") and not page.is_visible("#error")


def test_the_policy_editor_shows_findings_as_you_type(
    page: Any, server: RunningServer, iam: BaseClient, tmp_path: Path
) -> None:
    make_user(iam, "editor", policies=("arn:aws:iam::aws:policy/IAMFullAccess",))
    sign_in(page, server, "editor")
    page.wait_for_url("**/console/home")
    page.click("nav >> text=Policies")
    page.click("#new-policy")
    page.fill("#pe-name", "typed")
    page.fill("#pe-document", '{\n  "Version": "2012-10-17",\n  "Statement": {"Effect": "Allow", "Action": "s3:*"}\n}')
    page.type("#pe-document", " ")  # a keystroke: the script asks the server for the findings
    page.wait_for_selector("#findings li")
    assert page.inner_text("#findings li") == "Line 3, column 16: Policy statement must contain resources."
    page.screenshot(path=str(_screens(tmp_path) / "test_the_policy_editor_findings.png"), full_page=True)
    page.fill("#pe-document", '{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:GetObject", '
              '"Resource": "arn:aws:s3:::reports/*"}}')  # fmt: skip
    page.type("#pe-document", " ")
    page.wait_for_selector("#findings-status >> text=No findings")
    page.click("#save")
    page.wait_for_url("**/console/policy?arn=*")
    assert "arn:aws:s3:::reports/*" in page.inner_text("pre.document")


def test_tls_with_the_self_signed_certificate_sets_secure_cookies(browser: Any, tmp_path: Path, request: Any) -> None:
    from tests.console.test_processes import _iam, _serve, _user

    with _serve(tmp_path, "--tls-self-signed", scheme="https") as endpoint:
        _user(_iam(endpoint, verify=str(tmp_path / "tls-cert.pem")), "tls-user")
        context = browser.new_context(ignore_https_errors=True)
        try:
            tab = context.new_page()
            tab.goto(f"{endpoint}/console")
            tab.fill("#account", "123456789012")
            tab.fill("#username", "tls-user")
            tab.fill("#password", PASSWORD)
            tab.click("#signin")
            tab.wait_for_url("**/console/home")
            cookies = {c["name"]: c for c in context.cookies()}
            assert cookies["iamd-console"]["secure"] and cookies["iamd-console"]["httpOnly"]
            assert cookies["iamd-console"]["sameSite"] == "Strict"
            tab.screenshot(path=str(_screens(tmp_path) / f"{request.node.name}.png"), full_page=True)
        finally:
            context.close()


def _screens(tmp_path: Path) -> Path:
    import os

    where = Path(os.environ.get("IAMD_SCREENSHOTS") or tmp_path)
    where.mkdir(parents=True, exist_ok=True)
    return where
