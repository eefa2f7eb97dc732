"""A tiny MCP-style tool server behind betterauthz, with no OAuth code of its own.

Better Auth's OAuth provider issues the access tokens; betterauthz, in front of this app,
checks each one: signature, issuer, that it is for this resource (aud), and the scopes the
route asks for. A client without a good token never reaches the app: it gets betterauthz's
401 or 403, with a WWW-Authenticate challenge it can follow.

The app reads who is asking from headers the proxy sets from the verified token, and
overwrites whatever a client sent:

  x-user-id       the token's sub (for a machine token: the client id)
  x-subject-kind  "user", or "client" for a client_credentials token (no user)
  x-client-id     the OAuth client the token was issued to
  x-scope         the granted scopes, space-separated

That is only safe while every request reaches the app through the proxy.

Run: python3 -m uvicorn server:app --app-dir examples/mcp --host 127.0.0.1 --port 8002
"""

from typing import Optional

from fastapi import FastAPI, Header, HTTPException, Request

app = FastAPI(title="tasks MCP tools")

TASKS = {}


def caller(x_user_id: Optional[str], x_subject_kind: Optional[str]) -> str:
    # betterauthz strips these on every request it did not authenticate: a request without
    # them did not come through the proxy, and is refused.
    if not x_user_id or x_subject_kind not in ("user", "client"):
        raise HTTPException(status_code=401, detail="no identity from the proxy")
    return x_user_id


@app.post("/mcp")
async def mcp(
    request: Request,
    x_user_id: Optional[str] = Header(default=None),
    x_subject_kind: Optional[str] = Header(default=None),
    x_scope: Optional[str] = Header(default=None),
):
    """One JSON-RPC endpoint, as MCP's streamable HTTP transport uses."""
    who = caller(x_user_id, x_subject_kind)
    msg = await request.json()
    method, rpc_id = msg.get("method"), msg.get("id")
    if method == "tools/list":
        tools = [{"name": "list_tasks"}]
        # betterauthz already required read:tasks on this route; finer rules are the app's.
        if "write:tasks" in (x_scope or "").split():
            tools.append({"name": "add_task"})
        return {"jsonrpc": "2.0", "id": rpc_id, "result": {"tools": tools}}
    if method == "tools/call":
        name = msg.get("params", {}).get("name")
        if name == "list_tasks":
            return {"jsonrpc": "2.0", "id": rpc_id, "result": {"tasks": TASKS.get(who, [])}}
        if name == "add_task" and "write:tasks" in (x_scope or "").split():
            title = msg.get("params", {}).get("arguments", {}).get("title", "")
            TASKS.setdefault(who, []).append(title)
            return {"jsonrpc": "2.0", "id": rpc_id, "result": {"ok": True}}
    return {"jsonrpc": "2.0", "id": rpc_id, "error": {"code": -32601, "message": "unknown method"}}
