"""Security for the web app: headers, CSRF tokens, and who counts as an admin.

CSRF without sessions: a form carries a token that signs (with the app's signing
key and a timestamp) the subject the form acts on, such as "manage:<subscriber
id>:<token version>". Only someone who could load the form gets a valid token,
and it expires. The one-click unsubscribe POST needs none: its signed link is
the credential (RFC 8058).

Admins: `[web] admin_token` (or RULEWATCH_ADMIN_TOKEN). The API takes it as
`Authorization: Bearer <token>`; the admin page takes the same header, or a
cookie set by the login form. The cookie holds a signed, expiring HMAC of the
token, never the token itself, and is HttpOnly and SameSite=Strict.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from fastapi import Request
from itsdangerous import BadSignature, URLSafeTimedSerializer

CSP = (
    "default-src 'self'; script-src 'none'; style-src 'self' 'unsafe-inline'; "
    "object-src 'none'; frame-ancestors 'none'"
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    # Feed, unsubscribe and subscription URLs carry secret tokens: never hand them to other sites.
    "Referrer-Policy": "no-referrer",
}

CSRF_FIELD = "csrf_token"
CSRF_MAX_AGE = 12 * 3600  # seconds a form stays usable

ADMIN_COOKIE = "rulewatch_admin"
ADMIN_SESSION_MAX_AGE = 8 * 3600
ADMIN_HELP = (
    "The admin pages are off: set an admin token with admin_token under [web] in the configuration, "
    "or the RULEWATCH_ADMIN_TOKEN environment variable, then restart."
)

# FastAPI's Swagger UI loads its script and styles from this CDN.
SWAGGER_CDN = "https://cdn.jsdelivr.net"


def docs_csp(body: bytes) -> str:
    """The policy of the API docs page: the CDN's files, and only the inline scripts it has now."""
    hashes = [
        "'sha256-" + base64.b64encode(hashlib.sha256(script).digest()).decode() + "'"
        for script in re.findall(rb"<script>(.*?)</script>", body, re.DOTALL)
    ]
    return (
        f"default-src 'self'; script-src {SWAGGER_CDN} {' '.join(hashes)}; "
        f"style-src 'self' {SWAGGER_CDN} 'unsafe-inline'; img-src 'self' data: https:; "
        "connect-src 'self'; object-src 'none'; frame-ancestors 'none'"
    )


# -- CSRF ---------------------------------------------------------------------------


def csrf_token(key: str, subject: str) -> str:
    return URLSafeTimedSerializer(key, salt="csrf").dumps(subject)


def csrf_valid(key: str, subject: str, token: str | None, max_age: int = CSRF_MAX_AGE) -> bool:
    if not token:
        return False
    try:
        signed = URLSafeTimedSerializer(key, salt="csrf").loads(token, max_age=max_age)
    except BadSignature:  # forged, mangled or expired
        return False
    return hmac.compare_digest(str(signed).encode(), subject.encode())


# -- admins -------------------------------------------------------------------------


def _fingerprint(key: str, admin_token: str) -> str:
    return hmac.new(key.encode(), b"admin:" + admin_token.encode(), hashlib.sha256).hexdigest()


def admin_cookie(key: str, admin_token: str) -> str:
    return URLSafeTimedSerializer(key, salt="admin-session").dumps(_fingerprint(key, admin_token))


def admin_cookie_valid(key: str, admin_token: str, value: str | None) -> bool:
    if not value or not admin_token:
        return False
    try:
        signed = URLSafeTimedSerializer(key, salt="admin-session").loads(value, max_age=ADMIN_SESSION_MAX_AGE)
    except BadSignature:
        return False
    return hmac.compare_digest(str(signed).encode(), _fingerprint(key, admin_token).encode())


def token_matches(given: str, admin_token: str) -> bool:
    return bool(admin_token) and hmac.compare_digest(given.encode(), admin_token.encode())


def bearer_valid(request: Request, admin_token: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and token_matches(given.strip(), admin_token)
