#!/usr/bin/python3
"""Keyport test "browser" for tests/authlib/server.py: a headless login driver.

Keyport runs it as $BROWSER with ONE argument, the authorization URL
(http://127.0.0.1:PORT/authorize?...). It speaks plain HTTP with a cookie jar of its own
(per host:port), follows redirects by hand, signs in, answers the consent page and finally
GETs the loopback redirect URI (http://127.0.0.1:N/callback...?code=...&state=...) the way a
browser would. The same environment interface as tests/oidc/driver.mjs, so the Rust tests
drive both servers alike:

  KEYPORT_TEST_USER        login (default alice)
  KEYPORT_TEST_DRIVER      mode (default approve):
      approve              grant everything requested
      partial:SCOPES       grant only SCOPES (space-separated)
      deny                 deny at consent; the access_denied redirect is delivered
      forge-state-first    first GET the redirect URI with a wrong `state` (step forged-state),
                           then GET /favicon.ico on the same loopback host:port (step favicon),
                           then the genuine redirect
      ignore               do nothing, exit 0
      device-approve       argument is a verification_uri_complete: open it, sign in, approve
      device-deny          same, but deny
  KEYPORT_TEST_DRIVER_LOG  file to append one JSON line per HTTP request to
                           {"step":"...","method":"GET","url":"...","status":NNN}
                           (status null plus "error" when the request itself failed), and
                           {"step":"error","message":"..."} on failure
  KEYPORT_TEST_DRIVER_TIMEOUT_MS  per-request timeout (default 10000)

Exit status: 0 on success, 1 on failure (message on stderr), 2 on bad usage.
"""

import html.parser
import http.client
import json
import os
import secrets
import sys
import urllib.parse

MODE = os.environ.get("KEYPORT_TEST_DRIVER") or "approve"
USER = os.environ.get("KEYPORT_TEST_USER") or "alice"
LOG = os.environ.get("KEYPORT_TEST_DRIVER_LOG") or ""
try:
    TIMEOUT = int(os.environ.get("KEYPORT_TEST_DRIVER_TIMEOUT_MS") or 10000) / 1000
except ValueError:
    TIMEOUT = 10.0
PASSWORD = "any-password"
MAX_STEPS = 30
KNOWN_MODES = {"approve", "deny", "forge-state-first", "ignore", "device-approve", "device-deny"}


class DriverError(Exception):
    pass


def log(entry):
    if not LOG:
        return
    try:
        with open(LOG, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")
    except OSError as err:
        sys.stderr.write(f"keyport test driver: cannot write log {LOG}: {err}\n")


# Cookies: host:port -> {name: value}. Enough for the server's one session cookie; a cookie
# with Max-Age=0 or an Expires in 1970 is deleted.
JAR = {}


def remember_cookies(netloc, headers):
    store = JAR.setdefault(netloc, {})
    for header in headers:
        pair, *attrs = header.split(";")
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            continue
        gone = any(
            a.strip().lower() in ("max-age=0", "max-age=-1") or a.strip().lower().startswith("expires=thu, 01 jan 1970")
            for a in attrs
        )
        if gone:
            store.pop(name.strip(), None)
        else:
            store[name.strip()] = value.strip()


class Response:
    def __init__(self, url, status, headers, text):
        self.url = url
        self.status = status
        self.headers = headers
        self.text = text

    def location(self):
        loc = self.headers.get("Location")
        if not loc:
            raise DriverError(f"HTTP {self.status} without Location at {self.url}")
        return urllib.parse.urljoin(self.url, loc)


def request(step, method, url, form=None, tolerate=False):
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http":
        raise DriverError(f"{step}: only http is supported: {url}")
    headers = {"User-Agent": "keyport-test-driver-py/1 (headless)", "Accept": "text/html,*/*;q=0.8"}
    cookies = JAR.get(parts.netloc)
    if cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    body = None
    if form is not None:
        body = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    try:
        conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=TIMEOUT)
        conn.request(method, target, body=body, headers=headers)
        res = conn.getresponse()
        text = res.read().decode("utf-8", "replace")
        conn.close()
    except (OSError, http.client.HTTPException) as err:
        log({"step": step, "method": method, "url": url, "status": None, "error": str(err)})
        if tolerate:
            return None
        raise DriverError(f"{step}: {method} {url} failed: {err}") from err
    remember_cookies(parts.netloc, res.headers.get_all("Set-Cookie") or [])
    log({"step": step, "method": method, "url": url, "status": res.status})
    return Response(url, res.status, res.headers, text)


def is_redirect(status):
    return status in (301, 302, 303, 307, 308)


class Forms(html.parser.HTMLParser):
    """Forms by id, with their method, action and input values; and element ids with text."""

    def __init__(self, base):
        super().__init__(convert_charrefs=True)
        self.base = base
        self.forms = {}
        self.ids = {}
        self._form = None
        self._id = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._form = {
                "method": (a.get("method") or "get").upper(),
                "action": urllib.parse.urljoin(self.base, a.get("action") or self.base),
                "fields": {},
            }
            self.forms[a.get("id") or f"form{len(self.forms)}"] = self._form
        elif tag == "input" and self._form is not None and a.get("name"):
            self._form["fields"][a["name"]] = a.get("value") or ""
        if a.get("id"):
            self._id = a["id"]
            self.ids[self._id] = ""

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        self._id = None

    def handle_data(self, data):
        if self._id:
            self.ids[self._id] += data


def parse(res):
    forms = Forms(res.url)
    forms.feed(res.text)
    return forms


def summary(res, page):
    error = page.ids.get("error") or page.ids.get("device-error") or ""
    description = page.ids.get("error_description") or ""
    if error or description:
        return ": ".join(x for x in (error, description) if x)
    return " ".join(res.text.split())[:300]


def deliver(location):
    if MODE == "forge-state-first":
        forged = urllib.parse.urlsplit(location)
        query = [(k, v) for k, v in urllib.parse.parse_qsl(forged.query, keep_blank_values=True) if k != "state"]
        query.append(("state", "forged-" + secrets.token_hex(8)))
        request("forged-state", "GET", forged._replace(query=urllib.parse.urlencode(query)).geturl(), tolerate=True)
        request("favicon", "GET", urllib.parse.urljoin(location, "/favicon.ico"), tolerate=True)
    res = request("redirect", "GET", location)
    hops = 0
    while is_redirect(res.status) and hops < 5:
        res = request("redirect-follow", "GET", res.location())
        hops += 1


def submit(step, form, extra=None):
    fields = dict(form["fields"])
    fields.update(extra or {})
    if form["method"] == "GET":
        parts = urllib.parse.urlsplit(form["action"])
        url = parts._replace(query=urllib.parse.urlencode(fields)).geturl()
        return request(step, "GET", url)
    return request(step, "POST", form["action"], form=fields)


def run(start):
    device_mode = MODE.startswith("device-")
    origin = urllib.parse.urlsplit(start).netloc
    res = request("device-open" if device_mode else "authorize", "GET", start)
    consented = False
    for _ in range(MAX_STEPS):
        if is_redirect(res.status):
            target = res.location()
            if urllib.parse.urlsplit(target).netloc != origin:
                if device_mode:
                    raise DriverError(f"device flow: unexpected redirect off the server to {target}")
                deliver(target)
                return
            res = request("follow", "GET", target)
            continue
        page = parse(res)
        forms = page.forms
        if "device-success" in page.ids:
            if MODE == "device-approve":
                return
            raise DriverError(f"device flow: expected a denial, got the success page at {res.url}")
        if "device-denied" in page.ids:
            if MODE == "device-deny":
                return
            raise DriverError(f"device flow: the device was denied at {res.url}")
        if res.status != 200:
            raise DriverError(f"unexpected HTTP {res.status} at {res.url}: {summary(res, page)}")
        if "login-form" in forms:
            res = submit("login", forms["login-form"], {"login": USER, "password": PASSWORD})
            continue
        if "consent-form" in forms:
            if consented:
                raise DriverError("consent page shown twice")
            consented = True
            if MODE == "deny":
                res = submit("abort", forms["deny-form"])
            elif MODE.startswith("partial:"):
                scope = " ".join(MODE[len("partial:") :].split())
                res = submit("consent", forms["consent-form"], {"grant_scope": scope})
            else:
                res = submit("consent", forms["consent-form"])
            continue
        if "device-approve-form" in forms and device_mode:
            if consented:
                raise DriverError("device confirmation shown twice")
            consented = True
            which = "device-approve-form" if MODE == "device-approve" else "device-deny-form"
            res = submit("device-confirm", forms[which])
            continue
        if "device-code-form" in forms and device_mode:
            raise DriverError(
                "device flow: the page asks for the user code (open verification_uri_complete, not verification_uri)"
            )
        raise DriverError(f"unexpected page at {res.url}: {summary(res, page)}")
    raise DriverError(f"gave up after {MAX_STEPS} steps")


def main():
    if MODE not in KNOWN_MODES and not MODE.startswith("partial:"):
        sys.stderr.write(f"keyport test driver: unknown KEYPORT_TEST_DRIVER={MODE}\n")
        log({"step": "error", "message": f"unknown KEYPORT_TEST_DRIVER={MODE}"})
        return 2
    if MODE == "ignore":
        return 0
    args = sys.argv[1:]
    if len(args) != 1:
        sys.stderr.write("usage: driver.py URL (the authorization URL or a verification_uri_complete)\n")
        log({"step": "error", "message": f"expected exactly one argument, got {len(args)}"})
        return 2
    try:
        run(args[0])
        return 0
    except DriverError as err:
        message = str(err)
    except Exception as err:  # noqa: BLE001 - reported, not hidden
        message = f"internal error: {err!r}"
    sys.stderr.write(f"keyport test driver ({MODE}, user {USER}): {message}\n")
    log({"step": "error", "message": message})
    return 1


if __name__ == "__main__":
    sys.exit(main())
