// The Task example's frontend, as a script: it signs in with Better Auth's own client and calls
// the Task API the way the seed's frontend did — authClient.token() (GET /api/auth/token with
// the session cookie, answering {token}), then Authorization: Bearer <jwt> on /api/tasks. It
// never prints the token or the cookie.
//
//   node examples/tasks/client.mjs [--url http://127.0.0.1:8000] EMAIL PASSWORD COMMAND
//
// COMMAND: list | add TITLE | done ID | delete ID. The user is signed up on first use, signed in
// after. Prints one JSON line: {"user": {"id", "email"}, "status": HTTP status, "body": ...}.
//
// The team board (/api/team/tasks) is called with the session cookie, as a browser page would:
// team-create NAME (a new organization, made active) | team-invite EMAIL (prints the
// invitation) | team-join INVITATION (accept it, make it active) | team-list | team-add TITLE.
//
// API keys: key-create prints a new key of the user (Better Auth shows it once); then
//   node examples/tasks/client.mjs [--url URL] --api-key KEY list|add TITLE|team-list
// calls with x-api-key and no sign-in.
//
// better-auth comes from test/betterauth/node_modules (the server `make example` runs), so the
// client and the server are the same pinned version.
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

const require = createRequire(new URL("../../test/betterauth/package.json", import.meta.url));
const load = (name) => import(pathToFileURL(require.resolve(name)).href);
const { createAuthClient } = await load("better-auth/client");
const { jwtClient, organizationClient } = await load("better-auth/client/plugins");
const { apiKeyClient } = await load("@better-auth/api-key/client");

function usage(msg) {
  console.error(`${msg}\nusage: node examples/tasks/client.mjs [--url URL] EMAIL PASSWORD list|add TITLE|done ID|delete ID`);
  process.exit(2);
}

const args = process.argv.slice(2);
let url = process.env.TASKS_URL || "http://127.0.0.1:8000";
if (args[0] === "--url") {
  url = args[1];
  args.splice(0, 2);
}
let apiKey = "";
if (args[0] === "--api-key") {
  apiKey = args[1];
  args.splice(0, 2);
}
const [email, password, command, arg] = apiKey ? ["", "", ...args] : args;
if ((!apiKey && (!email || !password)) || !command) usage("missing arguments");

// A browser keeps Better Auth's session cookie; a script keeps it here. Every call of the auth
// client goes through this fetch, which sends the cookies back and says where it comes from as
// a page on this origin would (Node's fetch sends Sec-Fetch-Mode, so Better Auth's CSRF check
// wants an Origin on sign-up and sign-in).
const jar = new Map();
async function cookieFetch(input, init = {}) {
  const headers = new Headers(init.headers);
  headers.set("origin", new URL(url).origin);
  if (jar.size) headers.set("cookie", [...jar].map(([k, v]) => `${k}=${v}`).join("; "));
  const res = await fetch(input, { ...init, headers });
  for (const c of res.headers.getSetCookie()) {
    const [pair] = c.split(";");
    const i = pair.indexOf("=");
    jar.set(pair.slice(0, i).trim(), pair.slice(i + 1));
  }
  return res;
}

const authClient = createAuthClient({
  baseURL: url,
  plugins: [jwtClient(), organizationClient(), apiKeyClient()],
  fetchOptions: { customFetchImpl: cookieFetch },
});

async function signIn() {
  const up = await authClient.signUp.email({ email, password, name: email.split("@")[0] });
  if (!up.error) return up.data.user;
  if (up.error.code !== "USER_ALREADY_EXISTS" && up.error.status !== 422) throw new Error(`sign-up: ${up.error.status} ${up.error.message}`);
  const inn = await authClient.signIn.email({ email, password });
  if (inn.error) throw new Error(`sign-in: ${inn.error.status} ${inn.error.message}`);
  return inn.data.user;
}

// A new session has no active organization: make the user's first one active, as an app does
// after sign-in.
async function activate() {
  const { data: orgs } = await authClient.organization.list();
  if (orgs?.length) await authClient.organization.setActive({ organizationId: orgs[0].id });
}

async function api(method, path, body) {
  let headers;
  if (apiKey) {
    headers = { "x-api-key": apiKey };
  } else if (path.startsWith("/api/team/")) {
    await activate();
    // As a page of this origin: the session cookie, and where the request comes from.
    headers = { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join("; "), origin: new URL(url).origin };
  } else {
    // What the seed's frontend did before every API call: a fresh JWT from the session.
    const { data, error } = await authClient.token();
    if (error) throw new Error(`GET /api/auth/token: ${error.status} ${error.message}`);
    headers = { authorization: `Bearer ${data.token}` };
  }
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(new URL(path, url), { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let parsed = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {}
  return { status: res.status, body: parsed };
}

// auth runs one call of Better Auth's client and answers as api does.
async function auth(call) {
  const { data, error } = await call;
  return error ? { status: error.status, body: error } : { status: 200, body: data };
}

const commands = {
  list: () => api("GET", "/api/tasks"),
  "team-list": () => api("GET", "/api/team/tasks"),
  "team-add": () => (arg ? api("POST", "/api/team/tasks", { title: arg }) : usage("team-add needs a TITLE")),
  "team-create": async () => {
    if (!arg) usage("team-create needs a NAME");
    const created = await auth(authClient.organization.create({ name: arg, slug: `${arg}-${Date.now()}` }));
    if (created.status !== 200) return created;
    return auth(authClient.organization.setActive({ organizationId: created.body.id }));
  },
  "team-invite": async () => {
    if (!arg) usage("team-invite needs an EMAIL");
    await activate();
    return auth(authClient.organization.inviteMember({ email: arg, role: "member" }));
  },
  "team-join": async () => {
    if (!arg) usage("team-join needs an INVITATION id");
    const joined = await auth(authClient.organization.acceptInvitation({ invitationId: arg }));
    if (joined.status !== 200) return joined;
    return auth(authClient.organization.setActive({ organizationId: joined.body.invitation.organizationId }));
  },
  "key-create": async () => {
    const r = await auth(authClient.apiKey.create({ name: "script", configId: "user" }));
    return r.status === 200 ? { status: 200, body: { id: r.body.id, key: r.body.key } } : r;
  },
  add: () => (arg ? api("POST", "/api/tasks", { title: arg }) : usage("add needs a TITLE")),
  done: () => (arg ? api("PATCH", `/api/tasks/${encodeURIComponent(arg)}`, { done: true }) : usage("done needs an ID")),
  delete: () => (arg ? api("DELETE", `/api/tasks/${encodeURIComponent(arg)}`) : usage("delete needs an ID")),
};
if (!commands[command]) usage(`unknown command ${command}`);

try {
  const user = apiKey ? { id: null, email: null } : await signIn();
  const out = await commands[command]();
  console.log(JSON.stringify({ user: { id: user.id, email: user.email }, ...out }));
  process.exit(out.status < 400 ? 0 : 1);
} catch (err) {
  console.error(`client: ${err.message}`);
  process.exit(1);
}
