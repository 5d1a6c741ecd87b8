#!/usr/bin/python3
"""Keyport's second test authorization server: Python Authlib (1.2, Debian 12) on Flask.

An OAuth 2.0 / OpenID Connect server written independently of tests/oidc (npm oidc-provider),
so that Keyport's main flows run against two implementations. Test-only: any password is
accepted and everything is kept in memory. See tests/authlib/README.md.

    /usr/bin/python3 tests/authlib/server.py [--access-ttl SECS] [--refresh-ttl SECS]
        [--device-ttl SECS] [--device-interval SECS] [--publish-device] [--sub-numeric]
        [--silent-refresh-expiry]

It listens on 127.0.0.1 with a port chosen by the OS, prints one JSON line
{"issuer":"http://127.0.0.1:PORT","port":PORT} on stdout, and exits on stdin EOF, SIGTERM or
SIGINT.
"""

import argparse
import html
import json
import os
import signal
import sys
import threading
import time
import urllib.parse

# Authlib refuses plain http unless told otherwise; this server only listens on loopback.
os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"

from authlib.common.security import generate_token  # noqa: E402
from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector, current_token  # noqa: E402
from authlib.jose import JsonWebKey  # noqa: E402
from authlib.oauth2 import OAuth2Error  # noqa: E402
from authlib.oauth2.rfc6749 import grants  # noqa: E402
from authlib.oauth2.rfc6749.errors import InvalidRequestError  # noqa: E402
from authlib.oauth2.rfc6749.util import list_to_scope, scope_to_list  # noqa: E402
from authlib.oauth2.rfc6750 import BearerTokenValidator  # noqa: E402
from authlib.oauth2.rfc7009 import RevocationEndpoint  # noqa: E402
from authlib.oauth2.rfc7636 import CodeChallenge  # noqa: E402
from authlib.oauth2.rfc7662 import IntrospectionEndpoint  # noqa: E402
from authlib.oauth2.rfc8628 import (  # noqa: E402
    DeviceAuthorizationEndpoint,
    DeviceCodeGrant as _DeviceCodeGrant,
    DeviceCredentialDict,
)
from authlib.oidc.core import UserInfo  # noqa: E402
from authlib.oidc.core.grants import OpenIDCode as _OpenIDCode, OpenIDToken  # noqa: E402
from authlib.oidc.core.grants.util import is_openid_scope  # noqa: E402
from flask import Flask, jsonify, redirect, request, session  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

SCOPES = ["openid", "profile", "email", "offline_access"]
AUTH_CODE_TTL = 600
LOOPBACK_HOSTS = {"127.0.0.1", "[::1]", "localhost"}


def parse_args(argv):
    parser = argparse.ArgumentParser(description="Keyport's Authlib test server")
    parser.add_argument("--access-ttl", type=int, default=3600)
    parser.add_argument("--refresh-ttl", type=int, default=86400)
    parser.add_argument("--id-ttl", type=int, default=3600)
    parser.add_argument("--device-ttl", type=int, default=600)
    parser.add_argument("--device-interval", type=int, default=5)
    parser.add_argument("--publish-device", action="store_true")
    parser.add_argument("--sub-numeric", action="store_true")
    parser.add_argument("--silent-refresh-expiry", action="store_true")
    return parser.parse_args(argv)


ARGS = parse_args(sys.argv[1:])
ISSUER = None  # set once the port is known
LOCK = threading.RLock()


def log(message):
    sys.stderr.write(f"authlib-server: {message}\n")
    sys.stderr.flush()


# ---------------------------------------------------------------------------
# Users and clients
# ---------------------------------------------------------------------------


class User:
    def __init__(self, login, number, name):
        self.login = login
        self.number = number
        self.name = name
        self.email = f"{login}@example.test"

    def get_user_id(self):
        return self.login

    @property
    def sub(self):
        """The subject: the login, or with --sub-numeric a JSON number (a real-server quirk)."""
        return self.number if ARGS.sub_numeric else self.login

    def claims(self, scope):
        scopes = scope_to_list(scope) or []
        info = {"sub": self.sub}
        if "profile" in scopes:
            info["name"] = self.name
        if "email" in scopes:
            info["email"] = self.email
            info["email_verified"] = True
        return info


USERS = {u.login: u for u in [User("alice", 1, "Alice Example"), User("bob", 2, "Bob Example")]}

REDIRECT_URIS = ["http://127.0.0.1/callback/second", "http://127.0.0.1/callback"]
USER_GRANTS = [
    "authorization_code",
    "refresh_token",
    "urn:ietf:params:oauth:grant-type:device_code",
]


class Client:
    def __init__(self, client_id, secret, auth_methods, grant_types, introspect_all=False):
        self.client_id = client_id
        self.client_secret = secret
        self.auth_methods = auth_methods
        self.grant_types = grant_types
        self.introspect_all = introspect_all

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return None  # redirect_uri is required

    def get_allowed_scope(self, scope):
        if not scope:
            return ""
        return list_to_scope([s for s in scope_to_list(scope) if s in SCOPES])

    def check_redirect_uri(self, redirect_uri):
        return redirect_uri_allowed(redirect_uri, REDIRECT_URIS)

    def check_client_secret(self, client_secret):
        return self.client_secret is not None and client_secret == self.client_secret

    def check_endpoint_auth_method(self, method, endpoint):
        return method in self.auth_methods

    def check_response_type(self, response_type):
        return response_type == "code" and "authorization_code" in self.grant_types

    def check_grant_type(self, grant_type):
        return grant_type in self.grant_types


SECRET_AUTH = ["client_secret_basic", "client_secret_post"]
CLIENTS = {
    c.client_id: c
    for c in [
        Client("keyport-native", None, ["none"], USER_GRANTS),
        Client("keyport-confidential", "keyport-confidential-secret", SECRET_AUTH, USER_GRANTS),
        Client("keyport-service", "keyport-service-secret", SECRET_AUTH, ["client_credentials"]),
        Client("keyport-introspector", "keyport-introspector-secret", SECRET_AUTH, [], introspect_all=True),
    ]
}


def redirect_uri_allowed(uri, registered):
    """Scheme, host and path exactly as registered; for loopback hosts any port (RFC 8252 §7.3).
    No query, fragment or user info."""
    try:
        got = urllib.parse.urlsplit(uri)
        got_port = got.port
    except ValueError:
        return False
    if got.query or got.fragment or got.username or got.password:
        return False
    for entry in registered:
        want = urllib.parse.urlsplit(entry)
        host = got.netloc.rsplit("@", 1)[-1]
        host = host if host.startswith("[") else host.split(":")[0]
        if got.scheme != want.scheme or host != want.hostname or got.path != want.path:
            continue
        if want.hostname in LOOPBACK_HOSTS or got_port == want.port:
            return True
    return False


# ---------------------------------------------------------------------------
# In-memory storage
# ---------------------------------------------------------------------------


class AuthorizationCode:
    def __init__(self, code, client_id, user, redirect_uri, scope, nonce, challenge, method):
        self.code = code
        self.client_id = client_id
        self.user = user
        self.redirect_uri = redirect_uri
        self.scope = scope
        self.nonce = nonce
        self.code_challenge = challenge
        self.code_challenge_method = method
        self.auth_time = int(time.time())
        self.expires_at = time.time() + AUTH_CODE_TTL

    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope

    def get_nonce(self):
        return self.nonce

    def get_auth_time(self):
        return self.auth_time


class TokenRecord:
    """One token response: an access token and perhaps a refresh token, each revocable alone."""

    def __init__(self, token, client, user, grant_type):
        now = time.time()
        self.client_id = client.client_id
        self.user = user
        self.grant_type = grant_type
        self.scope = token.get("scope", "")
        self.access_token = token["access_token"]
        self.refresh_token = token.get("refresh_token")
        self.expires_in = token.get("expires_in", ARGS.access_ttl)
        self.issued_at = int(now)
        self.access_expires_at = now + self.expires_in
        self.refresh_expires_at = now + ARGS.refresh_ttl
        self.access_revoked = False
        self.refresh_revoked = False

    # TokenMixin, as used by the refresh token grant (the record stands for its refresh token).
    def check_client(self, client):
        return self.client_id == client.client_id

    def get_scope(self):
        return self.scope

    def get_expires_in(self):
        return self.expires_in

    def get_nonce(self):
        return None

    def get_auth_time(self):
        return None

    def is_expired(self):
        return self.refresh_expires_at < time.time()

    def is_revoked(self):
        return self.refresh_revoked


class TokenView:
    """One token string of a record, as the revocation, introspection and resource endpoints
    see it."""

    def __init__(self, record, kind):
        self.record = record
        self.kind = kind

    def check_client(self, client):
        return self.record.check_client(client)

    def get_scope(self):
        return self.record.scope

    def get_expires_in(self):
        return self.record.expires_in

    def expires_at(self):
        r = self.record
        return r.access_expires_at if self.kind == "access_token" else r.refresh_expires_at

    def is_expired(self):
        return self.expires_at() < time.time()

    def is_revoked(self):
        r = self.record
        return r.access_revoked if self.kind == "access_token" else r.refresh_revoked


class Store:
    def __init__(self):
        self.codes = {}
        self.access = {}
        self.refresh = {}
        self.devices = {}  # device_code -> DeviceCredentialDict
        self.device_decisions = {}  # user_code -> (user, approved)
        self.device_polls = {}  # device_code -> time of the last poll

    def token(self, value, hint=None):
        kinds = ["access_token", "refresh_token"]
        if hint == "refresh_token":
            kinds.reverse()
        for kind in kinds:
            table = self.access if kind == "access_token" else self.refresh
            if value in table:
                return TokenView(table[value], kind)
        return None


STORE = Store()


def save_token(token, req):
    client = req.client
    user = req.user
    record = TokenRecord(token, client, user, req.grant_type)
    with LOCK:
        STORE.access[record.access_token] = record
        if record.refresh_token:
            STORE.refresh[record.refresh_token] = record
            if not ARGS.silent_refresh_expiry:
                token["refresh_expires_in"] = ARGS.refresh_ttl
    log(f"issued tokens to {client.client_id} ({req.grant_type}) for {user.login if user else '-'}")


def query_client(client_id):
    return CLIENTS.get(client_id)


# ---------------------------------------------------------------------------
# Grants and endpoints
# ---------------------------------------------------------------------------


class S256CodeChallenge(CodeChallenge):
    """PKCE required on every authorization request, S256 only (the metadata says otherwise on
    purpose, like the real server in Keyport issue 11)."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant):
        data = grant.request.data
        if not data.get("code_challenge"):
            raise InvalidRequestError('Missing "code_challenge" (PKCE is required)')
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError('"code_challenge_method" must be S256')
        super().validate_code_challenge(grant)


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    def save_authorization_code(self, code, req):
        data = req.data
        item = AuthorizationCode(
            code,
            req.client.client_id,
            req.user,
            req.redirect_uri,
            req.scope,
            data.get("nonce"),
            data.get("code_challenge"),
            data.get("code_challenge_method"),
        )
        with LOCK:
            STORE.codes[code] = item
        return item

    def query_authorization_code(self, code, client):
        with LOCK:
            item = STORE.codes.get(code)
        if item and item.client_id == client.client_id and item.expires_at > time.time():
            return item
        return None

    def delete_authorization_code(self, authorization_code):
        with LOCK:
            STORE.codes.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code):
        return authorization_code.user


def jwt_config(grant):
    return {"key": PRIVATE_KEY, "alg": "RS256", "iss": ISSUER, "exp": ARGS.id_ttl}


class OpenIDCode(_OpenIDCode):
    """Authlib's OpenIDCode, but with a `prompt` check of our own: Authlib 1.2 answers
    `prompt=consent` from a browser with no session with `consent_required` (and no `state`),
    where a server should sign the user in and then ask for consent, as this one does."""

    def __call__(self, grant):
        grant.register_hook("process_token", self.process_token)
        if is_openid_scope(grant.request.scope):
            grant.register_hook("after_validate_authorization_request", self.validate_openid_authorization_request)
            grant.register_hook("after_validate_consent_request", check_prompt)

    def exists_nonce(self, nonce, req):
        with LOCK:
            return any(c.nonce == nonce for c in STORE.codes.values())

    def get_jwt_config(self, grant):
        return jwt_config(grant)

    def generate_user_info(self, user, scope):
        return UserInfo(user.claims(scope))


def check_prompt(grant, redirect_uri):
    prompts = (grant.request.data.get("prompt") or "").split()
    if "none" in prompts and (len(prompts) > 1 or grant.request.user is None):
        error = "invalid_request" if len(prompts) > 1 else "login_required"
        raise OAuth2Error(error=error, state=grant.request.state, redirect_uri=redirect_uri)


class IdTokenOnTokenGrants(OpenIDToken):
    """ID tokens from the refresh and device grants too, when `openid` is in scope."""

    def get_jwt_config(self, grant):
        return jwt_config(grant)

    def generate_user_info(self, user, scope):
        return UserInfo(user.claims(scope))


class RefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotation

    def authenticate_refresh_token(self, refresh_token):
        with LOCK:
            record = STORE.refresh.get(refresh_token)
        if record and not record.is_revoked() and not record.is_expired():
            return record
        if record:
            log("refused a refresh token: " + ("revoked" if record.is_revoked() else "expired"))
        return None

    def authenticate_user(self, credential):
        return credential.user

    def revoke_old_credential(self, credential):
        # The spent refresh token dies; its access token lives until it expires.
        with LOCK:
            credential.refresh_revoked = True


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


class DeviceCodeGrant(_DeviceCodeGrant):
    def query_device_credential(self, device_code):
        with LOCK:
            return STORE.devices.get(device_code)

    def query_user_grant(self, user_code):
        with LOCK:
            return STORE.device_decisions.get(user_code)

    def should_slow_down(self, credential):
        now = time.time()
        code = credential["device_code"]
        with LOCK:
            last = STORE.device_polls.get(code)
            STORE.device_polls[code] = now
        # 20% slack for timer jitter; faster than that is "slow_down" (RFC 8628 §3.5).
        return last is not None and now - last < ARGS.device_interval * 0.8

    def create_token_response(self):
        answer = super().create_token_response()
        # A device code gives tokens once.
        with LOCK:
            STORE.devices.pop(self.request.credential["device_code"], None)
        return answer


class DeviceEndpoint(DeviceAuthorizationEndpoint):
    ENDPOINT_NAME = "device_authorization"
    EXPIRES_IN = ARGS.device_ttl
    INTERVAL = ARGS.device_interval

    def get_verification_uri(self):
        return f"{ISSUER}/device"

    def save_device_credential(self, client_id, scope, data):
        client = CLIENTS.get(client_id)
        if client is None or not client.check_grant_type(DeviceCodeGrant.GRANT_TYPE):
            raise InvalidRequestError("this client may not use the device flow")
        credential = DeviceCredentialDict(
            client_id=client_id,
            scope=scope,
            expires_at=time.time() + self.EXPIRES_IN,
            **data,
        )
        with LOCK:
            STORE.devices[data["device_code"]] = credential


class Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    def query_token(self, token_string, token_type_hint):
        with LOCK:
            return STORE.token(token_string, token_type_hint)

    def revoke_token(self, token, req):
        # RFC 7009 §2.1: revoking a refresh token also revokes the access token issued with
        # it; revoking an access token revokes only that one.
        with LOCK:
            token.record.access_revoked = True
            if token.kind == "refresh_token":
                token.record.refresh_revoked = True
        log(f"revoked a {token.kind} of {token.record.client_id}")


class Introspection(IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def query_token(self, token_string, token_type_hint):
        with LOCK:
            return STORE.token(token_string, token_type_hint)

    def check_permission(self, token, client, req):
        return client.introspect_all or token.check_client(client)

    def introspect_token(self, token):
        r = token.record
        answer = {
            "active": True,
            "client_id": r.client_id,
            "token_type": "Bearer" if token.kind == "access_token" else "refresh_token",
            "scope": r.scope,
            "iss": ISSUER,
            "iat": r.issued_at,
            "exp": int(token.expires_at()),
        }
        if r.user:
            answer["sub"] = str(r.user.sub)
            answer["username"] = r.user.login
        else:
            answer["sub"] = r.client_id
        return answer


class Validator(BearerTokenValidator):
    def authenticate_token(self, token_string):
        with LOCK:
            record = STORE.access.get(token_string)
        return TokenView(record, "access_token") if record else None


# ---------------------------------------------------------------------------
# Flask app
# ---------------------------------------------------------------------------

app = Flask(__name__)
app.secret_key = generate_token(32)
app.config["SESSION_COOKIE_NAME"] = "authlib_test_session"
app.config["OAUTH2_REFRESH_TOKEN_GENERATOR"] = True
app.config["OAUTH2_SCOPES_SUPPORTED"] = SCOPES
app.config["OAUTH2_TOKEN_EXPIRES_IN"] = {
    "authorization_code": ARGS.access_ttl,
    "refresh_token": ARGS.access_ttl,
    "client_credentials": ARGS.access_ttl,
    DeviceCodeGrant.GRANT_TYPE: ARGS.access_ttl,
}

PRIVATE_KEY = JsonWebKey.generate_key("RSA", 2048, is_private=True)
PUBLIC_JWK = dict(PRIVATE_KEY.as_dict(is_private=False), use="sig", alg="RS256")

class Server(AuthorizationServer):
    def handle_error_response(self, req, error):
        # Authlib 1.2 redirects some errors (PKCE, prompt) without the request's `state`;
        # RFC 6749 §4.1.2.1 requires it whenever the request had one.
        if error.redirect_uri and not error.state:
            error.state = request.args.get("state")
        return super().handle_error_response(req, error)


authorization = Server(app, query_client=query_client, save_token=save_token)
authorization.register_grant(AuthorizationCodeGrant, [S256CodeChallenge(required=True), OpenIDCode()])
authorization.register_grant(RefreshTokenGrant, [IdTokenOnTokenGrants()])
authorization.register_grant(ClientCredentialsGrant)
authorization.register_grant(DeviceCodeGrant, [IdTokenOnTokenGrants()])
authorization.register_endpoint(DeviceEndpoint)
authorization.register_endpoint(Revocation)
authorization.register_endpoint(Introspection)

protect = ResourceProtector()
protect.register_token_validator(Validator())


def metadata(rfc8414):
    doc = {
        "issuer": ISSUER,
        "authorization_endpoint": f"{ISSUER}/authorize",
        "token_endpoint": f"{ISSUER}/token",
        "userinfo_endpoint": f"{ISSUER}/userinfo",
        "jwks_uri": f"{ISSUER}/jwks",
        "scopes_supported": SCOPES,
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        # Deliberately like the real server of issue 11: plain is listed but refused.
        "code_challenge_methods_supported": ["plain", "S256"],
        "claims_supported": ["sub", "name", "email", "email_verified"],
    }
    if rfc8414:
        doc["revocation_endpoint"] = f"{ISSUER}/revoke"
        doc["introspection_endpoint"] = f"{ISSUER}/introspect"
        if ARGS.publish_device:
            doc["device_authorization_endpoint"] = f"{ISSUER}/device_authorization"
            doc["grant_types_supported"].append(DeviceCodeGrant.GRANT_TYPE)
    return doc


@app.get("/.well-known/openid-configuration")
def openid_configuration():
    return jsonify(metadata(rfc8414=False))


@app.get("/.well-known/oauth-authorization-server")
def oauth_authorization_server():
    return jsonify(metadata(rfc8414=True))


@app.get("/jwks")
def jwks():
    return jsonify({"keys": [PUBLIC_JWK]})


def page(title, body, status=200):
    text = (
        "<!doctype html><html><head><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title></head><body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return text, status, {"Content-Type": "text/html; charset=utf-8"}


def error_page(error, description, status=400):
    return page(
        "Error",
        f'<p id="error">{html.escape(error)}</p><p id="error_description">{html.escape(description)}</p>',
        status,
    )


def current_user():
    login = session.get("user")
    return USERS.get(login) if login else None


def login_page(next_url):
    return page(
        "Sign in",
        '<form id="login-form" method="post" action="/login">'
        f'<input type="hidden" name="next" value="{html.escape(next_url)}">'
        '<label>Login <input type="text" name="login"></label>'
        '<label>Password <input type="password" name="password"></label>'
        '<button type="submit">Sign in</button></form>',
    )


@app.post("/login")
def login():
    user = USERS.get(request.form.get("login", ""))
    next_url = request.form.get("next", "/")
    if not next_url.startswith("/") or next_url.startswith("//"):
        return error_page("invalid_request", "bad next URL")
    if user is None:
        return error_page("login_failed", "unknown user", 401)
    session["user"] = user.login
    return redirect(next_url, code=303)


def authorization_error(error):
    """An OAuth error at the authorization endpoint: redirected when the redirect URI is known
    good, else shown as a page."""
    if error.redirect_uri:
        return authorization.handle_error_response(request, error)
    return error_page(error.error, error.description or "")


@app.get("/authorize")
def authorize():
    user = current_user()
    try:
        grant = authorization.get_consent_grant(end_user=user)
    except OAuth2Error as error:
        return authorization_error(error)
    if user is None:
        return login_page(request.full_path)
    scopes = scope_to_list(grant.request.scope) or []
    items = "".join(f"<li>{html.escape(s)}</li>" for s in scopes)
    action = html.escape(request.full_path)
    return page(
        "Authorize",
        f'<p id="consent-user">Signed in as {html.escape(user.login)}</p>'
        f'<p>{html.escape(grant.client.client_id)} asks for:</p><ul id="consent-scopes">{items}</ul>'
        f'<form id="consent-form" method="post" action="{action}">'
        '<input type="hidden" name="decision" value="approve">'
        '<label>Grant only these scopes (empty: all) <input type="text" name="grant_scope"></label>'
        '<button type="submit">Allow</button></form>'
        f'<form id="deny-form" method="post" action="{action}">'
        '<input type="hidden" name="decision" value="deny">'
        '<button type="submit">Deny</button></form>',
    )


@app.post("/authorize")
def authorize_decision():
    user = current_user()
    if user is None:
        return error_page("login_required", "sign in first", 401)
    requested = scope_to_list(request.args.get("scope")) or []
    granted = scope_to_list(request.form.get("grant_scope")) or []
    if granted and not set(granted) <= set(requested):
        return error_page("invalid_scope", "can only grant requested scopes")
    approved = request.form.get("decision") == "approve"
    if approved and granted:
        # The form's `scope` wins over the query's in Authlib's request data.
        req = authorization.create_oauth2_request(request)
        req.form["scope"] = list_to_scope(granted)
        req.data["scope"] = list_to_scope(granted)
        return authorization.create_authorization_response(req, grant_user=user)
    return authorization.create_authorization_response(grant_user=user if approved else None)


@app.post("/token")
def issue_token():
    with LOCK:
        return authorization.create_token_response()


@app.post("/revoke")
def revoke_token():
    return authorization.create_endpoint_response(Revocation.ENDPOINT_NAME)


@app.post("/introspect")
def introspect_token():
    return authorization.create_endpoint_response(Introspection.ENDPOINT_NAME)


@app.post("/device_authorization")
def device_authorization():
    return authorization.create_endpoint_response(DeviceEndpoint.ENDPOINT_NAME)


def device_message(kind, text, status=200):
    return page("Device sign-in", f'<p id="device-{kind}">{html.escape(text)}</p>', status)


@app.route("/device", methods=["GET", "POST"])
def device():
    user = current_user()
    if request.method == "GET":
        code = request.args.get("user_code", "")
        if not code:
            return page(
                "Device sign-in",
                '<form id="device-code-form" method="get" action="/device">'
                '<label>Code <input type="text" name="user_code"></label>'
                '<button type="submit">Continue</button></form>',
            )
        if user is None:
            return login_page(request.full_path)
        if not find_device(code):
            return device_message("error", "unknown or expired code", 400)
        form = (
            '<form id="device-{d}-form" method="post" action="/device">'
            f'<input type="hidden" name="user_code" value="{html.escape(code)}">'
            '<input type="hidden" name="decision" value="{d}">'
            '<button type="submit">{label}</button></form>'
        )
        return page(
            "Device sign-in",
            f'<p id="device-confirm">Signed in as {html.escape(user.login)}. Allow the device with code '
            f"{html.escape(code)}?</p>" + form.format(d="approve", label="Allow") + form.format(d="deny", label="Deny"),
        )
    if user is None:
        return error_page("login_required", "sign in first", 401)
    code = request.form.get("user_code", "")
    if not find_device(code):
        return device_message("error", "unknown or expired code", 400)
    approved = request.form.get("decision") == "approve"
    with LOCK:
        STORE.device_decisions[code] = (user, approved)
    if approved:
        return device_message("success", "The device is signed in. You can close this page.")
    return device_message("denied", "The device was refused.")


def find_device(user_code):
    with LOCK:
        return any(
            d.get_user_code() == user_code and not d.is_expired() and user_code not in STORE.device_decisions
            for d in STORE.devices.values()
        )


@app.route("/userinfo", methods=["GET", "POST"])
@protect()
def userinfo():
    record = current_token.record
    if record.user is None:
        return jsonify({"error": "invalid_token", "error_description": "no user"}), 401
    return jsonify(record.user.claims(record.scope))


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------


def main():
    global ISSUER
    server = make_server("127.0.0.1", 0, app, threaded=True)
    port = server.server_port
    ISSUER = f"http://127.0.0.1:{port}"

    def stop(*_):
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdout.write(json.dumps({"issuer": ISSUER, "port": port}, separators=(",", ":")) + "\n")
    sys.stdout.flush()
    # Exit when stdin closes (the test harness dropped us).
    while sys.stdin.buffer.read(4096):
        pass
    os._exit(0)


if __name__ == "__main__":
    main()
