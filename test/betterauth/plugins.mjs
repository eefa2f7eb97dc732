// The opt-in plugin set of the test server (TEST_PLUGINS=1): Better Auth's organization (with
// teams), anonymous, API key (@better-auth/api-key, enableSessionForAPIKeys) and MCP
// (@better-auth/mcp: the OAuth 2.1 provider of @better-auth/oauth-provider, configured for an
// MCP resource, which also serves its RFC 9728 metadata) plugins, a resource server that
// Better Auth's MCP helper protects, and the control API under /__test/plugins/ that the Go
// tests use to mint each credential.
//
// Everything is minted through Better Auth's own HTTP handler (auth.handler, with the cookies
// a browser would send) or, for what Better Auth only allows on the server (adding a member,
// an API key with a quota, an OAuth client with client_credentials scopes), its server API.
import { createHash, generateKeyPairSync, randomBytes, randomUUID, sign } from "node:crypto";
import { organization } from "better-auth/plugins/organization";
import { anonymous } from "better-auth/plugins/anonymous";
import { apiKey } from "@better-auth/api-key";
import { mcp, createMcpProtectedRequestHandler } from "@better-auth/mcp";

// OAuth scopes beyond OpenID Connect's: what a client may ask of the resource servers.
const apiScopes = ["read:tasks", "write:tasks"];

// The resources (RFC 8707 audiences) tokens can be issued for: an API and the MCP server.
export function resources(baseURL) {
  const origin = new URL(baseURL).origin;
  return { api: `${origin}/api`, mcp: `${origin}/mcp` };
}

// session.cookieCache.version: Better Auth compares it with the version in a session-cache
// cookie and ignores the cookie when they differ (signing everyone out of the cache at once).
let cookieCacheVersion = "1";
export const cookieCacheVersionOption = () => cookieCacheVersion;

// The plugins added to the JWT, admin and bearer plugins of server.mjs. opaqueAccessTokens runs
// the OAuth provider without the JWT plugin (disableJwtPlugin): every access token is opaque,
// its resources stored with it (introspection answers them as aud).
export function plugins(baseURL, { opaqueAccessTokens = false } = {}) {
  const r = resources(baseURL);
  return [
    organization({ teams: { enabled: true } }),
    anonymous(),
    apiKey([
      // User-owned keys: x-api-key turns into the owner's session on any endpoint.
      { configId: "user", enableSessionForAPIKeys: true },
      // Organization-owned keys, with session for API keys asked for too (on another header, or
      // the user configuration would take every x-api-key first).
      { configId: "org", references: "organization", enableSessionForAPIKeys: true, apiKeyHeaders: "x-org-api-key" },
    ]),
    mcp({
      resource: r.mcp,
      resources: [r.api],
      scopes: ["openid", "profile", "email", "offline_access", ...apiScopes],
      loginPage: "/login",
      consentPage: "/consent",
      // Who may register and manage OAuth clients (and give them client_credentials scopes,
      // which Better Auth allows only when this is set): admins.
      clientPrivileges: ({ user }) => String(user.role || "").split(",").includes("admin"),
      ...(opaqueAccessTokens ? { disableJwtPlugin: true } : {}),
    }),
  ];
}

// A cookie jar holding what Better Auth sets, as a browser would.
class Jar {
  constructor(header = "") {
    this.cookies = new Map();
    for (const part of header.split(";")) {
      const i = part.indexOf("=");
      if (i > 0) this.cookies.set(part.slice(0, i).trim(), part.slice(i + 1).trim());
    }
  }
  take(headers) {
    for (const c of headers.getSetCookie()) {
      const [pair, ...attrs] = c.split(";");
      const i = pair.indexOf("=");
      const name = pair.slice(0, i).trim();
      const value = pair.slice(i + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a));
      if (expired || value === "") this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
  get(name) {
    const v = this.cookies.get(name);
    return v === undefined ? "" : decodeURIComponent(v);
  }
  header() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  }
}

export function createPluginControl({ auth, baseURL }) {
  const authURL = `${baseURL}/api/auth`;
  const r = resources(baseURL);

  // call sends one request to Better Auth's handler. body: an object sent as JSON, or a
  // URLSearchParams sent as a form.
  async function call(method, path, { jar, body, headers = {} } = {}) {
    const h = new Headers(headers);
    if (jar) h.set("cookie", jar.header());
    if (method !== "GET") h.set("origin", new URL(baseURL).origin);
    let payload;
    if (body instanceof URLSearchParams) {
      h.set("content-type", "application/x-www-form-urlencoded");
      payload = body.toString();
    } else if (body !== undefined) {
      h.set("content-type", "application/json");
      payload = JSON.stringify(body);
    }
    const res = await auth.handler(new Request(authURL + path, { method, headers: h, body: payload, redirect: "manual" }));
    if (jar) jar.take(res.headers);
    const text = await res.text();
    let json = text;
    try { json = JSON.parse(text); } catch {}
    return { status: res.status, headers: res.headers, body: json };
  }

  async function must(method, path, opts) {
    const res = await call(method, path, opts);
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
    return res;
  }

  // held is what a signed-in client holds: its cookies (the session token, and the session-cache
  // JWT when the cookie cache is on), the session token, and the JWT of GET /token. It asks
  // get-session past the cookie cache first, which sets a fresh session-cache cookie, as a client
  // does after a change to its session or user.
  async function held(jar) {
    const { body } = await must("GET", "/get-session?disableCookieCache=true", { jar });
    const { body: t } = await must("GET", "/token", { jar });
    return {
      userId: body.user.id,
      email: body.user.email,
      sessionId: body.session.id,
      cookie: jar.header(),
      sessionToken: jar.get("better-auth.session_token").split(".")[0],
      sessionCacheToken: jar.get("better-auth.session_data"),
      token: t.token,
    };
  }

  const password = "correct horse battery staple";

  const handlers = {
    // A user signed up (or in again) through the HTTP API; role (a string or a list, stored
    // comma-joined as the admin plugin's setRole stores it) is set before the session starts.
    async user(b) {
      const jar = new Jar();
      if (b.anonymous) {
        await must("POST", "/sign-in/anonymous", { jar, body: {} });
        return held(jar);
      }
      const email = (b.email || `user-${randomUUID()}@example.com`).toLowerCase();
      const ctx = await auth.$context;
      let user = (await ctx.internalAdapter.findUserByEmail(email))?.user;
      if (!user) {
        await must("POST", "/sign-up/email", { jar: new Jar(), body: { email, password, name: b.name || "Test User" } });
        user = (await ctx.internalAdapter.findUserByEmail(email)).user;
      }
      if (b.role) await ctx.internalAdapter.updateUser(user.id, { role: [].concat(b.role).join(",") });
      await must("POST", "/sign-in/email", { jar, body: { email, password } });
      return held(jar);
    },

    // An organization created by owner (who becomes its "owner" member), with a team, and
    // members added to both with roles (a list is stored comma-joined).
    async organization(b) {
      const jar = new Jar(b.cookie);
      const slug = `org-${randomUUID()}`;
      const { body: org } = await must("POST", "/organization/create", { jar, body: { name: b.name || slug, slug } });
      const { body: team } = await must("POST", "/organization/create-team", { jar, body: { name: "core", organizationId: org.id } });
      for (const m of b.members || []) {
        await auth.api.addMember({ body: { userId: m.userId, role: m.roles, organizationId: org.id, teamId: team.id } });
      }
      return { id: org.id, slug: org.slug, teamId: team.id };
    },

    // The session's active organization (and team), then what the client holds.
    async "set-active"(b) {
      const jar = new Jar(b.cookie);
      await must("POST", "/organization/set-active", { jar, body: { organizationId: b.organizationId ?? null } });
      if (b.teamId) await must("POST", "/organization/set-active-team", { jar, body: { teamId: b.teamId } });
      return held(jar);
    },

    // An admin impersonating a user: the session the admin's browser then holds.
    async impersonate(b) {
      const jar = new Jar(b.cookie);
      await must("POST", "/admin/impersonate-user", { jar, body: { userId: b.userId } });
      return held(jar);
    },

    // The admin plugin's banUser, called by an admin: the user is banned, their sessions end.
    async ban(b) {
      const body = { userId: b.userId, banReason: "test" };
      if (b.banExpiresIn) body.banExpiresIn = b.banExpiresIn;
      await must("POST", "/admin/ban-user", { jar: new Jar(b.cookie), body });
      return {};
    },

    // An API key owned by the user of cookie, or by organizationId (the user must be allowed to
    // create its keys). Quota (remaining) and rate limit are server-only options.
    async "api-key"(b) {
      const ctx = await auth.$context;
      const s = await ctx.internalAdapter.findSession(new Jar(b.cookie).get("better-auth.session_token").split(".")[0]);
      if (!s) throw new Error("api-key: no session for that cookie");
      const body = { configId: b.organizationId ? "org" : "user", userId: s.user.id, name: b.name || "test" };
      if (b.organizationId) body.organizationId = b.organizationId;
      for (const k of ["remaining", "rateLimitMax", "rateLimitTimeWindow", "expiresIn"]) if (b[k] !== undefined) body[k] = b[k];
      const key = await auth.api.createApiKey({ body });
      return { id: key.id, key: key.key, referenceId: key.referenceId };
    },

    // A confidential OAuth client (client_secret_basic) registered by an admin: the
    // authorization_code (PKCE), client_credentials and refresh_token grants, the API scopes for
    // client_credentials, linked to resources (default: both), DPoP-bound tokens on request.
    async "oauth-client"(b) {
      const owner = await handlers.user({ role: "admin" });
      const body = {
        client_name: b.name || "test client",
        redirect_uris: ["https://client.example/callback"],
        grant_types: ["authorization_code", "client_credentials", "refresh_token"],
        response_types: ["code"],
        token_endpoint_auth_method: "client_secret_basic",
        client_credentials_scopes: b.clientCredentialsScopes || apiScopes,
        resources: b.resources || [r.api, r.mcp],
        require_pkce: true,
      };
      if (b.dpopBoundAccessTokens) body.dpop_bound_access_tokens = true;
      const client = await auth.api.adminCreateOAuthClient({ headers: new Headers({ cookie: owner.cookie }), body });
      return { clientId: client.client_id, clientSecret: client.client_secret, redirectUri: body.redirect_uris[0] };
    },

    // An access token from POST /oauth2/token: client_credentials, or authorization_code for the
    // user of cookie (authorize, consent, then the code exchange with PKCE). resource and scope
    // are sent when given; dpop binds the token to a new P-256 key (returned as a private JWK).
    async "oauth-token"(b) {
      const basic = "Basic " + Buffer.from(`${encodeURIComponent(b.clientId)}:${encodeURIComponent(b.clientSecret)}`).toString("base64");
      const form = new URLSearchParams({ grant_type: b.grant || "client_credentials" });
      const resourcesAsked = [].concat(b.resource ?? []);
      if (form.get("grant_type") === "authorization_code") {
        const verifier = randomBytes(32).toString("base64url");
        const q = new URLSearchParams({
          response_type: "code",
          client_id: b.clientId,
          redirect_uri: b.redirectUri,
          scope: b.scope || "openid read:tasks",
          state: randomUUID(),
          code_challenge: createHash("sha256").update(verifier).digest("base64url"),
          code_challenge_method: "S256",
        });
        for (const res of resourcesAsked) q.append("resource", res);
        const jar = new Jar(b.cookie);
        const authorize = await call("GET", `/oauth2/authorize?${q}`, { jar });
        let next = new URL(authorize.headers.get("location") || "", baseURL);
        if (next.pathname === "/consent") {
          // The consent page posts the user's answer with the signed query it was given. (A
          // client the user already consented to for these scopes is sent the code at once.)
          const consent = await must("POST", "/oauth2/consent", { jar, body: { accept: true, oauth_query: next.search.slice(1) } });
          next = new URL(consent.body.url || consent.headers.get("location"));
        }
        const code = next.searchParams.get("code");
        if (!code) throw new Error(`authorize: no code: ${authorize.status} ${next} ${JSON.stringify(authorize.body)}`);
        form.set("code", code);
        form.set("redirect_uri", b.redirectUri);
        form.set("code_verifier", verifier);
      } else if (b.scope) {
        form.set("scope", b.scope);
      }
      for (const res of resourcesAsked) form.append("resource", res);
      const headers = { authorization: basic };
      let dpopKey;
      if (b.dpop) {
        dpopKey = newDPoPKey();
        headers.dpop = dpopProof(dpopKey, "POST", `${authURL}/oauth2/token`);
      }
      const res = await call("POST", "/oauth2/token", { body: form, headers });
      if (res.status !== 200) return { status: res.status, error: res.body };
      return { status: 200, ...res.body, ...(dpopKey ? { dpopKey: dpopKey.jwk } : {}) };
    },

    // The version session-cache cookies must carry (session.cookieCache.version).
    async "cookie-cache-version"(b) {
      cookieCacheVersion = String(b.version ?? "1");
      return { version: cookieCacheVersion };
    },
  };

  // The MCP server: a resource server that Better Auth's MCP helper protects, for the MCP
  // resource, requiring the scopes of the query's "scope" (space-separated). It answers the
  // verified claims.
  async function mcpResource(req, url) {
    const requiredScopes = url.searchParams.get("scope")?.split(" ").filter(Boolean);
    const handler = createMcpProtectedRequestHandler(
      {
        audience: r.mcp,
        issuer: authURL,
        jwksUrl: `${authURL}/jwks`,
        ...(requiredScopes?.length ? { requiredScopes } : {}),
      },
      async (_request, claims) => Response.json({ claims }),
    );
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers.set(k, v);
    return handler(new Request(new URL(req.url, baseURL), { method: req.method, headers }));
  }

  return {
    async control(name, body) {
      const h = handlers[name];
      if (!h) return null;
      return h(body);
    },
    mcpResource,
  };
}

// A DPoP key (RFC 9449): a P-256 key pair; jwk is the private JWK.
function newDPoPKey() {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return { privateKey, jwk: privateKey.export({ format: "jwk" }) };
}

// A DPoP proof JWT for a request.
function dpopProof(key, method, url) {
  const { kty, crv, x, y } = key.jwk;
  const enc = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const input = `${enc({ typ: "dpop+jwt", alg: "ES256", jwk: { kty, crv, x, y } })}.${enc({
    jti: randomUUID(), htm: method, htu: url, iat: Math.floor(Date.now() / 1000),
  })}`;
  const sig = sign("sha256", Buffer.from(input), { key: key.privateKey, dsaEncoding: "ieee-p1363" });
  return `${input}.${sig.toString("base64url")}`;
}
