"""A fake OAuth2 provider on 127.0.0.1 speaking GitHub's and Google's endpoints: authorize
(redirects straight back with a code, as if the person had agreed), token (checks the client's
id, secret, code and redirect URI) and user info. Tests say who signs in next."""

import base64
import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlparse

CLIENTS = {"test-github-client": "test-github-secret", "test-google-client": "test-google-secret"}


class FakeProvider:
    def __init__(self, port: int):
        self.port = port
        self.identity: dict = {}  # who signs in next: see github_user / google_user
        self.codes: dict[str, dict] = {}
        self.tokens: dict[str, dict] = {}
        self.requests: list[tuple[str, str]] = []
        self._server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def github_user(
        self, *, uid=4242, login="octo", name="Octo Cat", email="octo@example.com", verified=True
    ):
        self.identity = {
            "kind": "github",
            "profile": {
                "id": uid,
                "login": login,
                "name": name,
                "email": email,
                "html_url": f"https://github.com/{login}",
            },
            "emails": [
                {"email": email, "primary": True, "verified": verified, "visibility": "public"}
            ],
        }

    def google_user(
        self,
        *,
        uid="108000000000000000001",
        email="gina@example.com",
        verified=True,
        given="Gina",
        family="Gold",
    ):
        self.identity = {
            "kind": "google",
            "profile": {
                "id": uid,
                "email": email,
                "verified_email": verified,
                "name": f"{given} {family}",
                "given_name": given,
                "family_name": family,
            },
        }

    def start(self) -> "FakeProvider":
        handler = type("Handler", (_Handler,), {"provider": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self._server:
            self._server.shutdown()
            self._server.server_close()


class _Handler(BaseHTTPRequestHandler):
    """The provider's endpoints; ``provider`` is the FakeProvider whose state they use."""

    provider: "FakeProvider"

    def log_message(self, *args):
        pass

    def _json(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _bearer(self):
        auth = self.headers.get("Authorization", "")
        token = auth.split(" ", 1)[1] if " " in auth else ""
        return self.provider.tokens.get(token)

    def do_GET(self):  # noqa: N802 - http.server's name
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.provider.requests.append(("GET", url.path))
        if url.path in ("/login/oauth/authorize", "/google/authorize"):
            if query.get("client_id") not in CLIENTS:
                return self._json(400, {"error": "unknown client"})
            code = secrets.token_urlsafe(12)
            self.provider.codes[code] = {
                "identity": self.provider.identity,
                "redirect_uri": query["redirect_uri"],
                "client_id": query["client_id"],
            }
            back = f"{query['redirect_uri']}?" + urlencode(
                {"code": code, "state": query.get("state", "")}
            )
            self.send_response(302)
            self.send_header("Location", back)
            self.end_headers()
            return None
        identity = self._bearer()
        if identity is None:
            return self._json(401, {"message": "Bad credentials"})
        if url.path == "/api/v3/user":
            return self._json(200, identity["profile"])
        if url.path == "/api/v3/user/emails":
            return self._json(200, identity["emails"])
        if url.path == "/google/userinfo":
            return self._json(200, identity["profile"])
        return self._json(404, {"message": "Not Found"})

    def do_POST(self):  # noqa: N802
        url = urlparse(self.path)
        self.provider.requests.append(("POST", url.path))
        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        if url.path not in ("/login/oauth/access_token", "/google/token"):
            return self._json(404, {"message": "Not Found"})
        client_id, secret = form.get("client_id"), form.get("client_secret")
        if not client_id and "Authorization" in self.headers:
            raw = base64.b64decode(self.headers["Authorization"].split(" ", 1)[1])
            client_id, secret = raw.decode().split(":", 1)
        grant = self.provider.codes.pop(form.get("code", ""), None)
        if (
            CLIENTS.get(client_id) != secret
            or grant is None
            or grant["redirect_uri"] != form.get("redirect_uri")
        ):
            return self._json(400, {"error": "bad_verification_code"})
        token = secrets.token_urlsafe(16)
        self.provider.tokens[token] = grant["identity"]
        return self._json(
            200,
            {
                "access_token": token,
                "token_type": "bearer",
                "scope": "user:email",
                "expires_in": 3600,
            },
        )
