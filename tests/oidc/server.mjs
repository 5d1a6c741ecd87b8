// Keyport end-to-end test authorization server (OAuth 2.0 / OpenID Connect),
// built on the npm package `oidc-provider` (v9, pinned by package-lock.json).
//
// Usage:
//   node tests/oidc/server.mjs [--access-ttl SECS] [--refresh-ttl SECS]
//                              [--id-ttl SECS] [--device-ttl SECS]
//                              [--device-interval SECS]
//
// It listens on 127.0.0.1, on a port chosen by the OS (plain http), and prints
// exactly ONE line to stdout:
//   {"issuer":"http://127.0.0.1:PORT","port":PORT}
// Everything else (library notices, request log, errors) goes to stderr.
// It exits when its stdin reaches EOF (so it never outlives the test that
// spawned it with a piped stdin) and on SIGTERM / SIGINT.
//
// FOR TESTS ONLY: any password is accepted, signing keys are created at start
// and lost at exit, all state lives in memory.
//
// Clients (see CLIENTS below):
//   keyport-native        public native client (token_endpoint_auth_method none)
//   keyport-confidential  native client with secret CONFIDENTIAL_SECRET
//                         (client_secret_basic; oidc-provider also accepts
//                         client_secret_post for it)
//   keyport-service       client_credentials only, secret SERVICE_SECRET
//   keyport-introspector  may call the introspection endpoint (RFC 7662) on any
//                         client's tokens, secret INTROSPECTOR_SECRET
// Both authorization-code clients register the paths in REDIRECT_PATHS on
// 127.0.0.1, [::1] and localhost; because they are
// `application_type: 'native'` oidc-provider accepts those with ANY port
// (RFC 8252 §7.3), e.g. http://127.0.0.1:54321/callback.
//
// Users (USERS below): alice, bob. Any password.
//
// Interactions (our own routes, no express, no devInteractions):
//   GET  /interaction/:uid          HTML login form (field `login`) or consent
//                                   form (field `scope`), depending on prompt
//   POST /interaction/:uid/login    form field `login` (+ ignored `password`)
//   POST /interaction/:uid/confirm  optional form field `scope`: space-separated
//                                   subset of the requested scopes to grant
//                                   (absent/empty => grant all requested)
//   POST /interaction/:uid/abort    ends with error=access_denied
// Device flow (RFC 8628) uses oidc-provider's built-in pages at /device
// (user code form -> confirm form -> the interactions above).

import * as crypto from 'node:crypto';
import * as http from 'node:http';

// oidc-provider prints its notices with console.info (stdout). stdout is
// reserved for the single JSON line, so send every console method to stderr.
for (const m of ['log', 'info', 'debug']) {
  console[m] = (...args) => console.error(...args);
}

const { default: Provider, errors: oidcErrors } = await import('oidc-provider');

// ---------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------

export const NATIVE_CLIENT_ID = 'keyport-native';
export const CONFIDENTIAL_CLIENT_ID = 'keyport-confidential';
export const CONFIDENTIAL_SECRET = 'keyport-confidential-secret';
export const SERVICE_CLIENT_ID = 'keyport-service';
export const SERVICE_SECRET = 'keyport-service-secret';
export const INTROSPECTOR_CLIENT_ID = 'keyport-introspector';
export const INTROSPECTOR_SECRET = 'keyport-introspector-secret';

// Each provider Keyport adds gets its own redirect path, /callback/NAME (the
// mix-up defence): the paths of the provider names the tests use are registered,
// plus /callback (what older Keyport versions used), on each loopback host. Not
// /callback/rogue: tests/signin.rs's mix-up test needs a path this server refuses.
const REDIRECT_PATHS = ['/callback', ...['local', 'conf', 'plain', 'mixup'].map((name) => `/callback/${name}`)];
const LOOPBACK_REDIRECT_URIS = ['127.0.0.1', '[::1]', 'localhost'].flatMap((host) =>
  REDIRECT_PATHS.map((path) => `http://${host}${path}`));

const USER_GRANTS = [
  'authorization_code',
  'refresh_token',
  'urn:ietf:params:oauth:grant-type:device_code',
];

const CLIENTS = [
  {
    client_id: NATIVE_CLIENT_ID,
    client_name: 'Keyport (public native)',
    application_type: 'native',
    token_endpoint_auth_method: 'none',
    redirect_uris: LOOPBACK_REDIRECT_URIS,
    grant_types: USER_GRANTS,
    response_types: ['code'],
  },
  {
    client_id: CONFIDENTIAL_CLIENT_ID,
    client_secret: CONFIDENTIAL_SECRET,
    client_name: 'Keyport (confidential native)',
    application_type: 'native',
    token_endpoint_auth_method: 'client_secret_basic',
    redirect_uris: LOOPBACK_REDIRECT_URIS,
    grant_types: USER_GRANTS,
    response_types: ['code'],
  },
  {
    client_id: SERVICE_CLIENT_ID,
    client_secret: SERVICE_SECRET,
    client_name: 'Keyport service account',
    token_endpoint_auth_method: 'client_secret_basic',
    redirect_uris: [],
    grant_types: ['client_credentials'],
    response_types: [],
  },
  {
    client_id: INTROSPECTOR_CLIENT_ID,
    client_secret: INTROSPECTOR_SECRET,
    client_name: 'Test introspector',
    token_endpoint_auth_method: 'client_secret_basic',
    redirect_uris: [],
    grant_types: [],
    response_types: [],
  },
];

const USERS = {
  alice: { sub: 'alice', name: 'Alice Example', email: 'alice@example.test', email_verified: true },
  bob: { sub: 'bob', name: 'Bob Example', email: 'bob@example.test', email_verified: true },
};

const SCOPES = ['openid', 'profile', 'email', 'offline_access'];

// ---------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------

function parseArgs(argv) {
  const opts = {
    accessTtl: 3600,
    refreshTtl: 86400,
    idTtl: 3600,
    deviceTtl: 600,
    deviceInterval: undefined,
  };
  const names = {
    '--access-ttl': 'accessTtl',
    '--refresh-ttl': 'refreshTtl',
    '--id-ttl': 'idTtl',
    '--device-ttl': 'deviceTtl',
    '--device-interval': 'deviceInterval',
  };
  for (let i = 0; i < argv.length; i += 1) {
    let arg = argv[i];
    let value;
    const eq = arg.indexOf('=');
    if (eq !== -1) {
      value = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    const key = names[arg];
    if (!key) {
      throw new Error(`unknown argument: ${argv[i]}`);
    }
    if (value === undefined) {
      i += 1;
      value = argv[i];
    }
    const n = Number(value);
    if (value === undefined || !Number.isInteger(n) || n < 1) {
      throw new Error(`${arg} needs a positive integer number of seconds, got ${value}`);
    }
    opts[key] = n;
  }
  return opts;
}

let opts;
try {
  opts = parseArgs(process.argv.slice(2));
} catch (err) {
  console.error(`server.mjs: ${err.message}`);
  process.exit(2);
}

// ---------------------------------------------------------------------------
// Small HTML / form helpers
// ---------------------------------------------------------------------------

function esc(s) {
  return String(s)
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

function page(title, body) {
  return `<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><title>${esc(title)}</title></head>
<body>
<h1>${esc(title)}</h1>
${body}
</body>
</html>
`;
}

function send(res, status, html) {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.end(html);
}

async function readForm(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 64 * 1024) {
      throw new Error('request body too large');
    }
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

// ---------------------------------------------------------------------------
// Provider configuration
// ---------------------------------------------------------------------------

const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingJwk = { ...privateKey.export({ format: 'jwk' }), kid: 'keyport-test', use: 'sig', alg: 'RS256' };

function buildConfiguration() {
  const grantTtl = Math.max(opts.refreshTtl, opts.accessTtl, opts.idTtl, 14 * 24 * 3600);
  return {
    clients: CLIENTS,
    jwks: { keys: [signingJwk] },
    cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },

    // Only the authorization code flow (no implicit / hybrid).
    responseTypes: ['code'],

    scopes: SCOPES,
    claims: {
      openid: ['sub'],
      profile: ['name'],
      email: ['email', 'email_verified'],
    },
    // Put the claims of granted scopes (name, email, ...) into the ID token too,
    // not only into userinfo (oidc-provider's default, conformIdTokenClaims: true,
    // keeps them out of ID tokens issued together with an access token).
    conformIdTokenClaims: false,

    async findAccount(ctx, sub) {
      const user = USERS[sub];
      if (!user) return undefined;
      return {
        accountId: sub,
        async claims() {
          return { ...user };
        },
      };
    },

    pkce: {
      // PKCE for every client on the authorization endpoint. oidc-provider v9
      // only implements S256 (plain is rejected).
      required: () => true,
    },

    features: {
      devInteractions: { enabled: false },
      revocation: { enabled: true },
      introspection: {
        enabled: true,
        // keyport-introspector may introspect every client's tokens; any other
        // (authenticated) client only its own tokens.
        async allowedPolicy(ctx, client, token) {
          if (client.clientId === INTROSPECTOR_CLIENT_ID) return true;
          return token.clientId === client.clientId;
        },
      },
      deviceFlow: {
        enabled: true,
        // Plain pages with stable ids, so a script can drive them:
        // id="device-message" data-error="<ErrorName or empty>" and
        // id="device-success". `form` is oidc-provider's own form markup.
        async userCodeInputSource(ctx, form, out, err) {
          let msg = 'Enter the code displayed on your device';
          if (err) msg = err.message || err.name;
          ctx.type = 'html';
          ctx.body = page('Device sign-in', `<p id="device-message" data-error="${esc(err ? (err.name || 'Error') : '')}">${esc(msg)}</p>
${form}
<button type="submit" form="op.deviceInputForm">Continue</button>`);
        },
        async userCodeConfirmSource(ctx, form, client, deviceInfo, userCode) {
          ctx.type = 'html';
          ctx.body = page('Confirm device', `<p>Client <strong>${esc(client.clientId)}</strong> shows the code <code id="user-code">${esc(userCode)}</code>.</p>
${form}
<button type="submit" form="op.deviceConfirmForm">Continue</button>
<button type="submit" form="op.deviceConfirmForm" name="abort" value="yes">Abort</button>`);
        },
        async successSource(ctx) {
          ctx.type = 'html';
          ctx.body = page('Device sign-in complete', '<p id="device-success">Sign-in successful, you can close this page.</p>');
        },
      },
      clientCredentials: { enabled: true },
      // rpInitiatedLogout, userinfo, dPoP, PAR, resourceIndicators keep their
      // defaults (enabled, nothing required).
    },

    // Issue a refresh token whenever the client may use the refresh_token grant
    // and offline_access is in the granted scope. (oidc-provider itself drops a
    // requested offline_access from authorization requests unless
    // prompt=consent is also requested.)
    async issueRefreshToken(ctx, client, code) {
      return client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access');
    },
    // Always rotate: every refresh returns a new refresh token and the used
    // one is consumed (for public AND confidential clients).
    rotateRefreshToken: () => true,

    ttl: {
      AccessToken: () => opts.accessTtl,
      ClientCredentials: () => opts.accessTtl,
      IdToken: () => opts.idTtl,
      RefreshToken: () => opts.refreshTtl,
      DeviceCode: () => opts.deviceTtl,
      AuthorizationCode: () => 60,
      Interaction: () => 3600,
      Session: () => grantTtl,
      Grant: () => grantTtl,
    },

    interactions: {
      url: (ctx, interaction) => `/interaction/${interaction.uid}`,
    },

    async renderError(ctx, out, error) {
      ctx.type = 'html';
      ctx.body = page('Error', `<p id="error">${esc(out.error)}</p>
<p id="error_description">${esc(out.error_description || '')}</p>`);
    },
  };
}

// ---------------------------------------------------------------------------
// Interaction routes
// ---------------------------------------------------------------------------

let provider;

function requestedScopes(details) {
  const fromParams = String(details.params.scope || '').split(' ').filter(Boolean);
  return [...new Set(fromParams)];
}

function loginPage(uid, details, message) {
  const client = details.params.client_id;
  return page('Sign in', `${message ? `<p id="message">${esc(message)}</p>` : ''}
<p>Client <strong>${esc(client)}</strong> asks you to sign in.</p>
<form id="login" method="post" action="/interaction/${esc(uid)}/login">
  <label>Login <input type="text" name="login" autofocus></label>
  <label>Password <input type="password" name="password"></label>
  <button type="submit">Sign in</button>
</form>
<form id="abort" method="post" action="/interaction/${esc(uid)}/abort">
  <button type="submit">Cancel</button>
</form>`);
}

function consentPage(uid, details) {
  const scopes = requestedScopes(details);
  const items = scopes.map((s) => `  <li data-scope="${esc(s)}">${esc(s)}</li>`).join('\n');
  return page('Authorize', `<p>Client <strong>${esc(details.params.client_id)}</strong> (user <strong>${esc(details.session?.accountId)}</strong>) requests:</p>
<ul id="scopes">
${items}
</ul>
<form id="confirm" method="post" action="/interaction/${esc(uid)}/confirm">
  <label>Scopes to grant <input type="text" name="scope" value="${esc(scopes.join(' '))}"></label>
  <button type="submit">Allow</button>
</form>
<form id="abort" method="post" action="/interaction/${esc(uid)}/abort">
  <button type="submit">Deny</button>
</form>`);
}

async function finishConsent(req, res, details, form) {
  const { prompt: { details: promptDetails = {} }, params, session } = details;
  if (!session?.accountId) {
    throw new Error('consent without a signed-in user');
  }

  const requested = requestedScopes(details);
  const asked = form.getAll('scope').join(' ').split(/\s+/).filter(Boolean);
  const granted = asked.length === 0
    ? requested
    : requested.filter((s) => asked.includes(s));
  const rejected = requested.filter((s) => !granted.includes(s));

  let { grantId } = details;
  let grant;
  if (grantId) {
    grant = await provider.Grant.find(grantId);
  }
  if (!grant) {
    grant = new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    grantId = undefined;
  }

  if (granted.length) grant.addOIDCScope(granted.join(' '));
  if (rejected.length) grant.rejectOIDCScope(rejected.join(' '));
  if (promptDetails.missingOIDCClaims?.length) {
    grant.addOIDCClaims(promptDetails.missingOIDCClaims);
  }
  if (promptDetails.missingResourceScopes) {
    for (const [indicator, scopes] of Object.entries(promptDetails.missingResourceScopes)) {
      const ok = scopes.filter((s) => granted.includes(s));
      if (ok.length) grant.addResourceScope(indicator, ok.join(' '));
    }
  }
  const savedId = await grant.save();
  console.error(`[interaction] consent ${details.uid}: account=${session.accountId} granted="${granted.join(' ')}" rejected="${rejected.join(' ')}"`);
  await provider.interactionFinished(req, res, { consent: { grantId: grantId || savedId } }, {
    mergeWithLastSubmission: true,
  });
}

async function handleInteraction(req, res, uid, action) {
  let details;
  try {
    details = await provider.interactionDetails(req, res);
  } catch (err) {
    if (err instanceof oidcErrors.SessionNotFound || err?.name === 'SessionNotFound') {
      send(res, 400, page('Error', '<p id="error">interaction session not found or expired</p>'));
      return;
    }
    throw err;
  }
  if (details.uid !== uid) {
    send(res, 400, page('Error', '<p id="error">interaction id does not match the interaction cookie</p>'));
    return;
  }
  const prompt = details.prompt.name;

  if (req.method === 'GET' && !action) {
    if (prompt === 'login') {
      send(res, 200, loginPage(uid, details));
    } else if (prompt === 'consent') {
      send(res, 200, consentPage(uid, details));
    } else {
      send(res, 500, page('Error', `<p id="error">unsupported prompt ${esc(prompt)}</p>`));
    }
    return;
  }

  if (req.method !== 'POST' || !action) {
    send(res, 405, page('Error', '<p id="error">method not allowed</p>'));
    return;
  }

  const form = await readForm(req);
  switch (action) {
    case 'login': {
      if (prompt !== 'login') {
        send(res, 400, page('Error', `<p id="error">expected prompt login, have ${esc(prompt)}</p>`));
        return;
      }
      const login = (form.get('login') || '').trim();
      if (!USERS[login]) {
        send(res, 401, loginPage(uid, details, `unknown user "${login}"`));
        return;
      }
      console.error(`[interaction] login ${uid}: ${login}`);
      await provider.interactionFinished(req, res, { login: { accountId: login } }, {
        mergeWithLastSubmission: false,
      });
      return;
    }
    case 'confirm': {
      if (prompt !== 'consent') {
        send(res, 400, page('Error', `<p id="error">expected prompt consent, have ${esc(prompt)}</p>`));
        return;
      }
      await finishConsent(req, res, details, form);
      return;
    }
    case 'abort': {
      console.error(`[interaction] abort ${uid}`);
      await provider.interactionFinished(req, res, {
        error: 'access_denied',
        error_description: 'The user denied the request',
      }, { mergeWithLastSubmission: false });
      return;
    }
    default:
      send(res, 404, page('Error', '<p id="error">not found</p>'));
  }
}

// ---------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------

const INTERACTION_RE = /^\/interaction\/([A-Za-z0-9_-]+)(?:\/(login|confirm|abort))?\/?$/;

// ---------------------------------------------------------------------------
// Test faults on the token endpoint (test-only; see README "Faults")
// ---------------------------------------------------------------------------

// What the next POST /token requests get, in order; empty = the real answer.
const tokenFaults = [];
// Real answers held back by a `hold` fault, released by POST /test/release.
const held = [];
const stats = { token_requests: 0, refresh_requests: 0, faults_served: 0 };

function sendJson(res, status, value) {
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json');
  res.setHeader('Cache-Control', 'no-store');
  res.end(JSON.stringify(value));
}

async function handleTest(req, res, path) {
  if (req.method === 'POST' && path === '/test/faults') {
    const body = [];
    for await (const chunk of req) body.push(chunk);
    const { token = [] } = JSON.parse(Buffer.concat(body).toString('utf8') || '{}');
    tokenFaults.push(...token);
    sendJson(res, 200, { queued: tokenFaults.length });
    return;
  }
  if (req.method === 'POST' && path === '/test/release') {
    const count = held.length;
    for (const release of held.splice(0)) release();
    sendJson(res, 200, { released: count });
    return;
  }
  if (req.method === 'GET' && path === '/test/stats') {
    sendJson(res, 200, { ...stats, held: held.length, queued: tokenFaults.length });
    return;
  }
  sendJson(res, 404, { error: 'not_found' });
}

// Applies the next fault to a POST /token. Returns true when the request was answered here.
async function tokenFault(req, res) {
  const fault = tokenFaults.shift();
  if (!fault) return false;
  stats.faults_served += 1;
  if (fault.rewrite) {
    // The real provider answers; its answer's text is rewritten on the way (a number no
    // JavaScript value can hold, say), with the length fixed to match.
    const end = res.end.bind(res);
    res.end = (body, ...rest) => {
      const text = Buffer.isBuffer(body) ? body.toString('utf8') : String(body ?? '');
      const rewritten = text.replace(new RegExp(fault.rewrite.pattern), fault.rewrite.with);
      if (!res.headersSent) res.setHeader('Content-Length', Buffer.byteLength(rewritten));
      return end(rewritten, ...rest);
    };
    return false;
  }
  if (fault.hold || fault.drop) {
    // The real provider answers (and rotates); the answer is held until released, or the
    // connection is dropped instead of answering (a response lost on the way).
    const end = res.end.bind(res);
    res.end = (...args) => {
      if (fault.drop) {
        res.socket?.destroy();
        return res;
      }
      held.push(() => end(...args));
      return res;
    };
    return false;
  }
  // A canned answer: the body is read (so grant_type counts) and the provider never sees it.
  const body = [];
  for await (const chunk of req) body.push(chunk);
  if (new URLSearchParams(Buffer.concat(body).toString('utf8')).get('grant_type') === 'refresh_token') {
    stats.refresh_requests += 1;
  }
  setTimeout(() => {
    if (res.destroyed) return;
    res.statusCode = fault.status ?? 500;
    for (const [name, value] of Object.entries(fault.headers ?? {})) res.setHeader(name, value);
    if (!res.hasHeader('Content-Type')) res.setHeader('Content-Type', 'application/json');
    res.end(fault.body ?? '{"error":"server_error"}');
  }, fault.delay_ms ?? 0);
  return true;
}

let providerCallback;
const server = http.createServer((req, res) => {
  const started = Date.now();
  res.on('finish', () => {
    console.error(`[http] ${req.method} ${req.url.replace(/([?&](?:code|refresh_token|access_token|token)=)[^&]*/g, '$1***')} -> ${res.statusCode} (${Date.now() - started}ms)`);
  });
  if (!providerCallback) {
    res.statusCode = 503;
    res.end();
    return;
  }
  const path = req.url.split('?')[0];
  if (path.startsWith('/test/')) {
    handleTest(req, res, path).catch((err) => sendJson(res, 500, { error: String(err) }));
    return;
  }
  if (req.method === 'POST' && path === '/token') {
    stats.token_requests += 1;
    tokenFault(req, res)
      .then((answered) => {
        if (!answered) providerCallback(req, res);
      })
      .catch((err) => sendJson(res, 500, { error: String(err) }));
    return;
  }
  const m = INTERACTION_RE.exec(path);
  if (m) {
    handleInteraction(req, res, m[1], m[2]).catch((err) => {
      console.error('[interaction] error:', err);
      if (!res.headersSent) {
        send(res, 500, page('Error', `<p id="error">${esc(err.message)}</p>`));
      } else {
        res.end();
      }
    });
    return;
  }
  providerCallback(req, res);
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;

  provider = new Provider(issuer, buildConfiguration());
  provider.on('server_error', (ctx, err) => console.error('[provider] server_error:', err));
  const describe = (err) => {
    const detail = err.error_detail || err.cause?.message;
    return `${err.error || err.name}: ${err.error_description || err.message}${detail ? ` (${detail})` : ''}`;
  };
  // Refresh requests the real provider answered (canned faults count themselves).
  const countRefresh = (ctx) => {
    if (ctx.oidc?.params?.grant_type === 'refresh_token') stats.refresh_requests += 1;
  };
  provider.on('grant.success', countRefresh);
  provider.on('grant.error', countRefresh);
  for (const event of ['grant.error', 'authorization.error', 'introspection.error', 'revocation.error', 'userinfo.error', 'device_authorization.error']) {
    provider.on(event, (ctx, err) => console.error(`[provider] ${event}: ${describe(err)}`));
  }
  if (opts.deviceInterval !== undefined) {
    // oidc-provider's device authorization response has no `interval`
    // (clients then use RFC 8628's default of 5 s); add it when asked to.
    provider.on('device_authorization.success', (ctx, body) => {
      body.interval = opts.deviceInterval;
    });
  }
  providerCallback = provider.callback();

  process.stdout.write(`${JSON.stringify({ issuer, port })}\n`);
  console.error(`[server] listening on ${issuer} (access ${opts.accessTtl}s, refresh ${opts.refreshTtl}s, id ${opts.idTtl}s, device ${opts.deviceTtl}s)`);
});

let stopping = false;
function shutdown(why) {
  if (stopping) return;
  stopping = true;
  console.error(`[server] stopping: ${why}`);
  server.close();
  server.closeAllConnections?.();
  setTimeout(() => process.exit(0), 200).unref();
}

process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
process.stdin.on('end', () => shutdown('stdin EOF'));
process.stdin.on('error', () => shutdown('stdin error'));
process.stdin.resume();
