// A real Better Auth server for betterauthz's tests and demo.
//
// It serves Better Auth's own handler at /api/auth/* (JWKS at /api/auth/jwks, sign-up, sign-in,
// /api/auth/token, get-session) from one in-memory database, and a small control API under
// /__test/ that the Go tests use to mint tokens with particular plugin options, rotate keys the
// way Better Auth does (lazily) and simulate an outage. Every token comes out of Better Auth's JWT
// plugin: the control API only chooses the options a deployment could have chosen.
//
// Environment: PORT (default 3000), HOST (default 127.0.0.1), BETTER_AUTH_URL (default
// http://HOST:PORT), BETTER_AUTH_SECRET, COOKIE_CACHE_MAX_AGE (seconds; when set, the HTTP API's
// sessions use the JWT cookie cache — session.cookieCache strategy "jwt" with
// jwt({ sessionCookieCache: true }) — for that long), TEST_PLUGINS (when "1", the HTTP API also
// has the organization, anonymous, API key and MCP/OAuth provider plugins of plugins.mjs, with
// their control API under /__test/plugins/ and an MCP server at /mcp that Better Auth's MCP
// helper protects), TEST_OAUTH_OPAQUE (when "1", with TEST_PLUGINS, the OAuth provider runs
// without the JWT plugin — disableJwtPlugin — and issues only opaque access tokens).
import http from "node:http";
import { randomUUID } from "node:crypto";
import { betterAuth } from "better-auth";
import { memoryAdapter } from "better-auth/adapters/memory";
import { jwt, createJwk } from "better-auth/plugins/jwt";
import { admin } from "better-auth/plugins/admin";
import { bearer } from "better-auth/plugins/bearer";
import { toNodeHandler } from "better-auth/node";
import { getAuthTables } from "better-auth/db";

// The plugins are loaded only when asked for: they take a while to load.
const withPlugins = process.env.TEST_PLUGINS === "1";
const pluginSet = withPlugins ? await import("./plugins.mjs") : null;

const host = process.env.HOST || "127.0.0.1";
const port = Number(process.env.PORT || 3000);
const baseURL = process.env.BETTER_AUTH_URL || `http://${host}:${port}`;
const secret = process.env.BETTER_AUTH_SECRET || "betterauthz-test-secret-0123456789abcdef";
const password = "correct horse battery staple";

const db = { user: [], session: [], account: [], verification: [], jwks: [] };

const keyPairConfigs = {
  EdDSA: { alg: "EdDSA", crv: "Ed25519" },
  ES256: { alg: "ES256" },
  ES512: { alg: "ES512" },
  RS256: { alg: "RS256", modulusLength: 2048 },
  PS256: { alg: "PS256", modulusLength: 2048 },
  // RFC 9864's fully-specified name of EdDSA over Ed25519. Better Auth passes keyPairConfig.alg
  // to jose as it is, so a deployment configured this way publishes JWKs and signs tokens with
  // alg "Ed25519".
  Ed25519: { alg: "Ed25519" },
};

// One Better Auth instance per distinct set of plugin options, all on the same database, as
// several deployments of one app would be.
const instances = new Map();
function instanceFor(profile) {
  const key = JSON.stringify(profile);
  let inst = instances.get(key);
  if (inst) return inst;
  const pluginOptions = {
    jwks: { keyPairConfig: keyPairConfigs[profile.alg] },
    jwt: {},
  };
  if (profile.expirationTime) pluginOptions.jwt.expirationTime = profile.expirationTime;
  if (profile.issuer) pluginOptions.jwt.issuer = profile.issuer;
  if (profile.audience) pluginOptions.jwt.audience = profile.audience;
  if (profile.claims) {
    const claims = profile.claims;
    pluginOptions.jwt.definePayload = ({ user }) => ({ ...user, ...claims });
  }
  if (profile.sessionClaims) {
    // A deployment that puts the organization plugin's session fields in its /token JWTs.
    pluginOptions.jwt.definePayload = ({ user, session }) => ({
      ...user, activeOrganizationId: session.activeOrganizationId, activeTeamId: session.activeTeamId,
    });
  }
  const options = {
    baseURL,
    secret,
    database: memoryAdapter(db),
    emailAndPassword: { enabled: true },
    plugins: [jwt(pluginOptions), admin(), bearer(), ...(profile.plugins ? pluginSet.plugins(baseURL, { opaqueAccessTokens: process.env.TEST_OAUTH_OPAQUE === "1" }) : [])],
    logger: { level: "error" },
    telemetry: { enabled: false },
  };
  if (profile.sessionCookieCache) {
    options.session = { cookieCache: { enabled: true, strategy: "jwt", maxAge: cookieCacheMaxAge || 300 } };
    pluginOptions.sessionCookieCache = true;
    if (profile.plugins) options.session.cookieCache.version = pluginSet.cookieCacheVersionOption;
  }
  // The memory adapter needs a table for each model before it is first read.
  for (const t of Object.values(getAuthTables(options))) db[t.modelName] ??= [];
  inst = { auth: betterAuth(options), pluginOptions };
  instances.set(key, inst);
  return inst;
}

const cookieCacheMaxAge = Number(process.env.COOKIE_CACHE_MAX_AGE || 0);
const primaryProfile = { alg: "EdDSA" };
if (cookieCacheMaxAge) primaryProfile.sessionCookieCache = true;
if (withPlugins) primaryProfile.plugins = true;
const primary = instanceFor(primaryProfile);
const primaryHandler = toNodeHandler(primary.auth);
const pluginControl = pluginSet ? pluginSet.createPluginControl({ auth: primary.auth, baseURL }) : null;

let jwksMode = "normal"; // normal | down | garbage | slow
let jwksFetches = 0;
let sessionMode = "normal"; // normal | down (get-session answers 503) | slow (after 5s)
let getSessions = 0;

function liveKeys(alg) {
  const now = Date.now();
  return db.jwks.filter((k) => k.alg === alg && (!k.expiresAt || new Date(k.expiresAt).getTime() > now));
}

async function readJSON(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const text = Buffer.concat(chunks).toString() || "{}";
  return JSON.parse(text);
}

function send(res, status, body) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

function cookieHeader(headers) {
  return headers
    .getSetCookie()
    .map((c) => c.split(";")[0])
    .join("; ");
}

// mint signs a user in with the instance for the requested options and returns what a client
// would hold: the JWT from GET /api/auth/token, the opaque session token, and (when asked) the
// session-cache cookie JWT.
async function mint(body) {
  const alg = body.alg || "EdDSA";
  if (!keyPairConfigs[alg]) throw new Error(`unknown alg ${alg}`);
  const profile = { alg };
  for (const k of ["expirationTime", "issuer", "audience", "claims", "sessionCookieCache"]) {
    if (body[k] !== undefined) profile[k] = body[k];
  }
  const { auth, pluginOptions } = instanceFor(profile);
  const ctx = await auth.$context;
  // Better Auth signs with the newest live key of the configured algorithm, falling back to any
  // live key; make sure one of this algorithm exists, as a deployment configured for it would.
  if (liveKeys(alg).length === 0) await createJwk({ context: ctx }, pluginOptions);

  const email = (body.email || `user-${randomUUID()}@example.com`).toLowerCase();
  const name = body.name ?? "Test User";
  let result;
  if (!db.user.find((u) => u.email === email)) {
    result = await auth.api.signUpEmail({ body: { email, password, name }, returnHeaders: true });
  } else {
    result = await auth.api.signInEmail({ body: { email, password }, returnHeaders: true });
  }
  const user = db.user.find((u) => u.email === email);
  for (const [k, v] of Object.entries(body.user || {})) user[k] = v;
  const cookie = cookieHeader(result.headers);
  const tokenRes = await auth.handler(
    new Request(`${baseURL}/api/auth/token`, { headers: { cookie } }),
  );
  if (tokenRes.status !== 200) throw new Error(`GET /api/auth/token: ${tokenRes.status} ${await tokenRes.text()}`);
  const { token } = await tokenRes.json();
  const out = { token, sessionToken: result.response.token, userId: user.id, email };
  if (profile.sessionCookieCache) {
    // Better Auth sets the session-cache cookie at sign-in (and refreshes it on get-session).
    const c = result.headers.getSetCookie().find((x) => x.startsWith("better-auth.session_data="));
    if (c) out.sessionCacheToken = decodeURIComponent(c.split(";")[0].split("=").slice(1).join("="));
  }
  return out;
}

async function control(req, res, path) {
  const body = req.method === "POST" ? await readJSON(req) : {};
  switch (path) {
    case "/__test/health":
      return send(res, 200, { ok: true, baseURL, plugins: withPlugins });
    case "/__test/token":
      return send(res, 200, await mint(body));
    case "/__test/tokens": {
      // Many distinct tokens, signed by Better Auth's JWT plugin (its server-side signJWT, with
      // the same keys as /api/auth/token), for benchmarks that need thousands of users.
      const alg = body.alg || "EdDSA";
      const { auth, pluginOptions } = instanceFor({ alg });
      const ctx = await auth.$context;
      if (liveKeys(alg).length === 0) await createJwk({ context: ctx }, pluginOptions);
      const tokens = [];
      const now = Math.floor(Date.now() / 1000);
      for (let i = 0; i < (body.count || 1); i++) {
        const id = `bench-${randomUUID()}`;
        // users: the payload /api/auth/token signs for a signed-up user (the default
        // definePayload: the whole user row, the admin plugin's fields included, then sub), as
        // measured from mint; else a short one.
        const created = new Date().toISOString();
        const payload = body.users
          ? { iat: now, name: `Bench User ${i}`, email: `${id}@example.com`, emailVerified: false, createdAt: created,
              updatedAt: created, role: "user", banned: false, id, sub: id }
          : { sub: id, id, email: `${id}@example.com`, name: `Bench User ${i}`, emailVerified: true, iat: now };
        const { token } = await auth.api.signJWT({ body: { payload } });
        tokens.push(token);
      }
      return send(res, 200, { tokens });
    }
    case "/__test/rotate": {
      // Better Auth rotates lazily: when the signing key's expiresAt passes, the next token is
      // signed by a new key, and the old one stays in the JWKS for the grace period.
      const now = new Date(Date.now() - 1);
      let n = 0;
      for (const k of liveKeys(body.alg || "EdDSA")) { k.expiresAt = now; n++; }
      return send(res, 200, { rotated: n });
    }
    case "/__test/retire": {
      // A key whose grace period has ended leaves the JWKS.
      const past = new Date(Date.now() - 400 * 24 * 3600 * 1000);
      let n = 0;
      for (const k of db.jwks) {
        if ((body.kid && k.id === body.kid) || (body.alg && k.alg === body.alg) || body.all) {
          k.expiresAt = past; n++;
        }
      }
      return send(res, 200, { retired: n });
    }
    case "/__test/ban": {
      // What the admin plugin's banUser does: the user is marked banned and their sessions end.
      const user = db.user.find((u) => u.email === (body.email || "").toLowerCase());
      if (!user) return send(res, 404, { error: "no such user" });
      user.banned = true;
      user.banReason = body.reason || "test";
      const before = db.session.length;
      db.session = db.session.filter((s) => s.userId !== user.id);
      return send(res, 200, { revoked: before - db.session.length });
    }
    case "/__test/session-mode":
      sessionMode = body.mode || "normal";
      return send(res, 200, { mode: sessionMode });
    case "/__test/jwks-mode":
      jwksMode = body.mode || "normal";
      return send(res, 200, { mode: jwksMode });
    case "/__test/stats":
      return send(res, 200, { jwksFetches, getSessions, keys: db.jwks.length });
    case "/__test/reset-stats":
      jwksFetches = 0;
      getSessions = 0;
      return send(res, 200, {});
    default: {
      const name = path.slice("/__test/plugins/".length);
      if (pluginControl && path.startsWith("/__test/plugins/")) {
        if (name === "session-token") {
          // GET /token of an instance like the primary one whose JWTs carry the session's
          // organization fields (jwt.definePayload), for the session of a cookie.
          const { auth } = instanceFor({ ...primaryProfile, sessionClaims: true });
          const r = await auth.handler(new Request(`${baseURL}/api/auth/token`, { headers: { cookie: body.cookie } }));
          return send(res, r.status, await r.json());
        }
        const out = await pluginControl.control(name, body);
        if (out) return send(res, 200, out);
      }
      return send(res, 404, { error: "no such control endpoint" });
    }
  }
}

const server = http.createServer(async (req, res) => {
  const path = new URL(req.url, baseURL).pathname;
  try {
    if (path.startsWith("/__test/")) return await control(req, res, path);
    if (pluginControl && (path === "/mcp" || path.startsWith("/mcp/"))) {
      const r = await pluginControl.mcpResource(req, new URL(req.url, baseURL));
      res.writeHead(r.status, Object.fromEntries(r.headers));
      return res.end(await r.text());
    }
    if (path === "/api/auth/jwks") {
      jwksFetches++;
      if (jwksMode === "down") return send(res, 503, { error: "down for the test" });
      if (jwksMode === "garbage") { res.writeHead(200, { "content-type": "application/json" }); return res.end("<html>not a key set"); }
      if (jwksMode === "slow") await new Promise((r) => setTimeout(r, 5000));
    }
    if (path === "/api/auth/get-session") {
      getSessions++;
      if (sessionMode === "down") return send(res, 503, { error: "down for the test" });
      if (sessionMode === "slow") await new Promise((r) => setTimeout(r, 5000));
    }
    return primaryHandler(req, res);
  } catch (err) {
    console.error(err);
    send(res, 500, { error: String(err && err.message || err), ...(err && err.body ? { body: err.body } : {}) });
  }
});

server.listen(port, host, () => {
  console.log(JSON.stringify({ msg: "better-auth test server listening", baseURL, port: server.address().port }));
});
for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => server.close(() => process.exit(0)));
