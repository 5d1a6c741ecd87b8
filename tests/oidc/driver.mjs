#!/usr/bin/env node
// Keyport test "browser": a headless login driver for tests/oidc/server.mjs.
//
// Keyport runs it as $BROWSER with ONE argument, the authorization URL
// (http://127.0.0.1:PORT/auth?...). It talks plain HTTP with its own cookie
// jar (cookies kept per host:port, honouring Path and expiry), follows
// redirects by hand, signs in, answers the consent page and finally GETs the
// loopback redirect URI (http://127.0.0.1:N/callback?code=...&state=...&iss=...)
// the way a browser would.
//
// Environment:
//   KEYPORT_TEST_USER        login to use (default: alice)
//   KEYPORT_TEST_DRIVER      mode (default: approve)
//       approve              grant everything requested
//       partial:SCOPES       grant only SCOPES (space-separated), e.g. "partial:openid email"
//       deny                 press "Deny" at consent; the access_denied redirect is delivered
//       forge-state-first    before the genuine redirect: GET it with a wrong `state`
//                            (step forged-state), then GET /favicon.ico on the same
//                            loopback host:port (step favicon), then the genuine one
//       ignore               do nothing, exit 0
//       device-approve       argument is a verification_uri_complete: open it,
//                            confirm the code, sign in, approve
//       device-deny          same, but deny at consent
//   KEYPORT_TEST_DRIVER_LOG  if set, append one JSON line per HTTP request:
//                            {"step":"...","method":"GET","url":"...","status":NNN}
//                            (status null plus "error" when the request itself failed)
//                            and {"step":"error","message":"..."} on failure.
//   KEYPORT_TEST_DRIVER_TIMEOUT_MS  per-request timeout (default 10000)
//
// Exit status: 0 on success, 1 on any unexpected failure (message on stderr),
// 2 on bad usage.

import { appendFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';

const MODE = process.env.KEYPORT_TEST_DRIVER || 'approve';
const USER = process.env.KEYPORT_TEST_USER || 'alice';
const LOG = process.env.KEYPORT_TEST_DRIVER_LOG || '';
const TIMEOUT_MS = Number(process.env.KEYPORT_TEST_DRIVER_TIMEOUT_MS) || 10000;
const PASSWORD = 'any-password';
const MAX_STEPS = 40;

class DriverError extends Error {}

function log(entry) {
  if (!LOG) return;
  try {
    appendFileSync(LOG, `${JSON.stringify(entry)}\n`);
  } catch (err) {
    process.stderr.write(`keyport test driver: cannot write log ${LOG}: ${err.message}\n`);
  }
}

// ---------------------------------------------------------------------------
// Cookie jar (per host:port, with Path matching and expiry)
// ---------------------------------------------------------------------------

class CookieJar {
  #stores = new Map(); // host:port -> Map(`${path}\n${name}` -> cookie)

  #store(url) {
    let store = this.#stores.get(url.host);
    if (!store) {
      store = new Map();
      this.#stores.set(url.host, store);
    }
    return store;
  }

  static defaultPath(url) {
    const p = url.pathname;
    if (!p.startsWith('/') || p.lastIndexOf('/') === 0) return '/';
    return p.slice(0, p.lastIndexOf('/'));
  }

  static pathMatches(cookiePath, requestPath) {
    if (cookiePath === requestPath) return true;
    if (!requestPath.startsWith(cookiePath)) return false;
    return cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/';
  }

  setFrom(url, setCookieHeaders) {
    const store = this.#store(url);
    for (const header of setCookieHeaders) {
      const [pair, ...attrs] = header.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      let path = CookieJar.defaultPath(url);
      let expires;
      for (const attr of attrs) {
        const i = attr.indexOf('=');
        const key = (i === -1 ? attr : attr.slice(0, i)).trim().toLowerCase();
        const val = i === -1 ? '' : attr.slice(i + 1).trim();
        if (key === 'path' && val.startsWith('/')) {
          path = val;
        } else if (key === 'max-age' && /^-?\d+$/.test(val)) {
          expires = Date.now() + Number(val) * 1000;
        } else if (key === 'expires' && expires === undefined) {
          const t = Date.parse(val);
          if (!Number.isNaN(t)) expires = t;
        }
      }
      const key = `${path}\n${name}`;
      if (expires !== undefined && expires <= Date.now()) {
        store.delete(key);
      } else {
        store.set(key, { name, value, path, expires });
      }
    }
  }

  headerFor(url) {
    const store = this.#stores.get(url.host);
    if (!store) return '';
    const now = Date.now();
    const matching = [];
    for (const [key, c] of store) {
      if (c.expires !== undefined && c.expires <= now) {
        store.delete(key);
      } else if (CookieJar.pathMatches(c.path, url.pathname)) {
        matching.push(c);
      }
    }
    matching.sort((a, b) => b.path.length - a.path.length);
    return matching.map((c) => `${c.name}=${c.value}`).join('; ');
  }
}

const jar = new CookieJar();

// ---------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------

async function request(step, method, url, { form, tolerate = false } = {}) {
  const u = new URL(url);
  const headers = {
    'user-agent': 'keyport-test-driver/1 (headless)',
    accept: 'text/html,application/xhtml+xml,*/*;q=0.8',
  };
  const cookie = jar.headerFor(u);
  if (cookie) headers.cookie = cookie;
  let body;
  if (form) {
    body = new URLSearchParams(form).toString();
    headers['content-type'] = 'application/x-www-form-urlencoded';
  }

  let res;
  let text;
  try {
    res = await fetch(u, {
      method, headers, body, redirect: 'manual', signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    text = await res.text();
  } catch (err) {
    const reason = err.cause?.message || err.cause?.code || err.message;
    log({ step, method, url: u.href, status: null, error: String(reason) });
    if (tolerate) return { status: null, error: String(reason), url: u };
    throw new DriverError(`${step}: ${method} ${u.href} failed: ${reason}`);
  }
  jar.setFrom(u, res.headers.getSetCookie());
  log({ step, method, url: u.href, status: res.status });
  return { status: res.status, headers: res.headers, text, url: u };
}

const isRedirect = (status) => [301, 302, 303, 307, 308].includes(status);

// ---------------------------------------------------------------------------
// Minimal HTML form parsing
// ---------------------------------------------------------------------------

function decodeEntities(s) {
  return s
    .replace(/&#(\d+);/g, (_, d) => String.fromCodePoint(Number(d)))
    .replace(/&#x([0-9a-f]+);/gi, (_, h) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

function parseAttrs(s) {
  const attrs = {};
  const re = /([a-zA-Z_:][\w:.-]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?/g;
  let m;
  while ((m = re.exec(s)) !== null) {
    attrs[m[1].toLowerCase()] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return attrs;
}

function parseForms(html, baseUrl) {
  const forms = [];
  const formRe = /<form\b([^>]*)>([\s\S]*?)<\/form>/gi;
  let m;
  while ((m = formRe.exec(html)) !== null) {
    const attrs = parseAttrs(m[1]);
    const inputs = [];
    const inputRe = /<input\b([^>]*)>/gi;
    let im;
    while ((im = inputRe.exec(m[2])) !== null) {
      const a = parseAttrs(im[1]);
      if (a.name) inputs.push({ name: a.name, value: a.value ?? '', type: (a.type || 'text').toLowerCase() });
    }
    forms.push({
      id: attrs.id || '',
      method: (attrs.method || 'get').toUpperCase(),
      action: new URL(attrs.action || baseUrl.href, baseUrl),
      inputs,
    });
  }
  return forms;
}

function hiddenFields(form) {
  const out = {};
  for (const i of form.inputs) {
    if (i.type === 'hidden') out[i.name] = i.value;
  }
  return out;
}

function pageSummary(res) {
  const text = res.text || '';
  const pick = (id) => {
    const m = new RegExp(`id="${id}"[^>]*>([\\s\\S]*?)<`, 'i').exec(text);
    return m ? decodeEntities(m[1]).trim() : '';
  };
  const error = pick('error');
  const desc = pick('error_description') || pick('message') || pick('device-message');
  if (error || desc) return [error, desc].filter(Boolean).join(': ');
  return text.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 300);
}

// ---------------------------------------------------------------------------
// Flow
// ---------------------------------------------------------------------------

async function deliverRedirect(location) {
  if (MODE === 'forge-state-first') {
    const forged = new URL(location);
    forged.searchParams.set('state', `forged-${randomBytes(8).toString('hex')}`);
    await request('forged-state', 'GET', forged.href, { tolerate: true });
    await request('favicon', 'GET', new URL('/favicon.ico', location).href, { tolerate: true });
  }
  let res = await request('redirect', 'GET', location.href);
  // A browser would follow whatever the loopback listener answers with.
  for (let hops = 0; isRedirect(res.status) && hops < 5; hops += 1) {
    const next = new URL(res.headers.get('location'), res.url);
    res = await request('redirect-follow', 'GET', next.href);
  }
}

function consentAction(forms) {
  const confirm = forms.find((f) => /\/interaction\/[^/]+\/confirm$/.test(f.action.pathname));
  const abort = forms.find((f) => /\/interaction\/[^/]+\/abort$/.test(f.action.pathname));
  return { confirm, abort };
}

async function run(startUrl) {
  const deviceMode = MODE.startsWith('device-');
  const start = new URL(startUrl);
  let authOrigin = start.origin;

  let res = await request(deviceMode ? 'device-open' : 'authorize', 'GET', start.href);
  let consented = false;

  for (let i = 0; i < MAX_STEPS; i += 1) {
    if (isRedirect(res.status)) {
      const loc = res.headers.get('location');
      if (!loc) throw new DriverError(`HTTP ${res.status} without Location at ${res.url.href}`);
      const next = new URL(loc, res.url);
      // Off the server that answered, a redirect with `code` or `error` is the authorization
      // response; without, it is a hop to another server (tests/mixup.rs's attacker sends
      // the browser on to the honest server), followed like any redirect.
      const answer = next.searchParams.has('code') || next.searchParams.has('error');
      if (next.origin !== res.url.origin && !answer && !deviceMode) {
        authOrigin = next.origin;
        res = await request('hop', 'GET', next.href);
        continue;
      }
      if (next.origin !== authOrigin) {
        if (deviceMode) {
          throw new DriverError(`device flow: unexpected redirect off the authorization server to ${next.href}`);
        }
        await deliverRedirect(next);
        return;
      }
      res = await request('follow', 'GET', next.href);
      continue;
    }

    if (res.status !== 200) {
      throw new DriverError(`unexpected HTTP ${res.status} at ${res.url.href}: ${pageSummary(res)}`);
    }

    const forms = parseForms(res.text, res.url);
    const loginForm = forms.find((f) => /\/interaction\/[^/]+\/login$/.test(f.action.pathname));
    const { confirm, abort } = consentAction(forms);

    if (loginForm) {
      res = await request('login', 'POST', loginForm.action.href, {
        form: { login: USER, password: PASSWORD },
      });
      continue;
    }

    if (confirm) {
      if (consented) throw new DriverError('consent page shown twice');
      consented = true;
      if (MODE === 'deny' || MODE === 'device-deny') {
        if (!abort) throw new DriverError('consent page has no deny form');
        res = await request('abort', 'POST', abort.action.href, { form: {} });
      } else if (MODE.startsWith('partial:')) {
        const scope = MODE.slice('partial:'.length).trim().split(/\s+/).filter(Boolean).join(' ');
        res = await request('consent', 'POST', confirm.action.href, { form: { scope } });
      } else {
        res = await request('consent', 'POST', confirm.action.href, { form: {} });
      }
      continue;
    }

    // Device flow pages (oidc-provider's /device, rendered by server.mjs).
    if (/id="device-success"/.test(res.text)) {
      if (MODE === 'device-approve') return;
      throw new DriverError(`device flow: expected a denial, got the success page at ${res.url.href}`);
    }
    const errMatch = /id="device-message"[^>]*data-error="([^"]*)"/.exec(res.text);
    if (errMatch && errMatch[1]) {
      if (MODE === 'device-deny' && errMatch[1] === 'AbortedError' && consented) return;
      throw new DriverError(`device flow: ${errMatch[1]}: ${pageSummary(res)}`);
    }
    const deviceConfirm = forms.find((f) => f.id === 'op.deviceConfirmForm');
    if (deviceConfirm) {
      res = await request('device-confirm', 'POST', deviceConfirm.action.href, {
        form: { ...hiddenFields(deviceConfirm) },
      });
      continue;
    }
    const deviceCode = forms.find((f) => f.method === 'POST'
      && f.inputs.some((x) => x.name === 'user_code') && f.inputs.some((x) => x.name === 'xsrf'));
    if (deviceCode && deviceMode) {
      const fields = {};
      for (const x of deviceCode.inputs) fields[x.name] = x.value;
      if (!fields.user_code) {
        throw new DriverError('device flow: the user code page has no code (open verification_uri_complete, not verification_uri)');
      }
      res = await request('device-code', 'POST', deviceCode.action.href, { form: fields });
      continue;
    }

    throw new DriverError(`unexpected page at ${res.url.href}: ${pageSummary(res)}`);
  }
  throw new DriverError(`gave up after ${MAX_STEPS} steps`);
}

async function main() {
  const args = process.argv.slice(2);
  const known = ['approve', 'deny', 'forge-state-first', 'ignore', 'device-approve', 'device-deny'];
  if (!known.includes(MODE) && !MODE.startsWith('partial:')) {
    process.stderr.write(`keyport test driver: unknown KEYPORT_TEST_DRIVER=${MODE}\n`);
    log({ step: 'error', message: `unknown KEYPORT_TEST_DRIVER=${MODE}` });
    process.exit(2);
  }
  if (MODE === 'ignore') {
    process.exit(0);
  }
  if (args.length !== 1) {
    process.stderr.write('usage: driver.mjs URL (the authorization URL or a verification_uri_complete)\n');
    log({ step: 'error', message: `expected exactly one argument, got ${args.length}` });
    process.exit(2);
  }
  try {
    await run(args[0]);
    process.exit(0);
  } catch (err) {
    const message = err instanceof DriverError ? err.message : `internal error: ${err?.stack || err}`;
    process.stderr.write(`keyport test driver (${MODE}, user ${USER}): ${message}\n`);
    log({ step: 'error', message });
    process.exit(1);
  }
}

await main();
