"""The seed's Task API with no auth code of its own.

The FastAPI skill this project started from verified Better Auth JWTs in the backend and
scoped a SQLModel ``Task`` table by the token's ``sub``. Here betterauthz does the verifying, in
front of the app, and the app reads who is asking from one header, ``x-user-id``, which the
proxy sets from the verified token and overwrites whatever a client sent. There is no JWT, JWKS
or cookie code below, and no secret.

That is only safe while every request reaches the app through the proxy: anyone who can open a
connection to it directly can send any ``x-user-id``. See examples/tasks/kubernetes.yaml and
docs/tutorial-tasks.md. A request without ``x-user-id`` is refused with 401 all the
same, so a misrouted request fails closed instead of landing on an empty user.

Environment:
  TASKS_DB           SQLite file (default: tasks.db in a new temporary directory)
  TASKS_REQUEST_LOG  when set, one JSON line per request is appended to this file: method,
                     path, status, the x-user-id it came with (null when none), and whether an
                     Authorization or Cookie header reached the app (never their values). The
                     example's test reads it to show that the app never sees an
                     unauthenticated request.

Run: python3 -m uvicorn app:app --app-dir examples/tasks --host 127.0.0.1 --port 8001
"""

import json
import os
import tempfile
import threading
from typing import List, Optional

from fastapi import Depends, FastAPI, Header, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from sqlmodel import Field, Session, SQLModel, create_engine, select


class TaskBase(SQLModel):
    title: str
    done: bool = False


class Task(TaskBase, table=True):
    id: Optional[int] = Field(default=None, primary_key=True)
    user_id: str = Field(index=True)
    # The organization of a team task (None: the user's own).
    org_id: Optional[str] = Field(default=None, index=True)


class TaskRead(TaskBase):
    id: int
    user_id: str


class TeamTaskRead(TaskRead):
    org_id: str


class TaskUpdate(SQLModel):
    title: Optional[str] = None
    done: Optional[bool] = None


db_path = os.environ.get("TASKS_DB") or os.path.join(tempfile.mkdtemp(prefix="tasks-"), "tasks.db")
engine = create_engine(f"sqlite:///{db_path}", connect_args={"check_same_thread": False})
SQLModel.metadata.create_all(engine)

app = FastAPI(title="Tasks", docs_url=None, redoc_url=None, openapi_url=None)

request_log = os.environ.get("TASKS_REQUEST_LOG")
request_log_lock = threading.Lock()


@app.middleware("http")
async def require_user(request: Request, call_next):
    # Every path, routed or not: a request without x-user-id did not come through the proxy
    # (or the proxy is misconfigured) and gets nothing, not even a 404.
    if request.headers.get("x-user-id"):
        response = await call_next(request)
    else:
        response = JSONResponse(
            {"detail": "no x-user-id: this app is only reachable through the proxy that asks betterauthz"},
            status_code=401,
        )
    if request_log:
        entry = {
            "method": request.method,
            "path": request.url.path,
            "status": response.status_code,
            "x_user_id": request.headers.get("x-user-id"),
            "authorization": "authorization" in request.headers,
            "cookie": "cookie" in request.headers,
            "api_key": "x-api-key" in request.headers,
        }
        with request_log_lock, open(request_log, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")
    return response


def session():
    with Session(engine) as s:
        yield s


def user_id(x_user_id: str = Header()) -> str:
    """The user betterauthz verified: the token's sub, as the proxy's x-user-id (require_user
    has refused every request without one)."""
    return x_user_id


def organization(x_organization_id: str = Header()) -> str:
    """The caller's active organization, as betterauthz read it (the team routes only: there
    betterauthz has checked the caller's role in it)."""
    return x_organization_id


def owned(s: Session, task_id: int, uid: str) -> Task:
    task = s.get(Task, task_id)
    # Someone else's task is "not found", as a missing one: its existence is not theirs to know.
    if task is None or task.user_id != uid or task.org_id is not None:
        raise HTTPException(status_code=404, detail="task not found")
    return task


@app.get("/api/tasks", response_model=List[TaskRead])
def list_tasks(uid: str = Depends(user_id), s: Session = Depends(session)):
    return s.exec(select(Task).where(Task.user_id == uid, Task.org_id == None).order_by(Task.id)).all()  # noqa: E711


@app.post("/api/tasks", response_model=TaskRead, status_code=201)
def create_task(body: TaskBase, uid: str = Depends(user_id), s: Session = Depends(session)):
    task = Task(title=body.title, done=body.done, user_id=uid)
    s.add(task)
    s.commit()
    s.refresh(task)
    return task


@app.get("/api/tasks/{task_id}", response_model=TaskRead)
def read_task(task_id: int, uid: str = Depends(user_id), s: Session = Depends(session)):
    return owned(s, task_id, uid)


@app.patch("/api/tasks/{task_id}", response_model=TaskRead)
def update_task(task_id: int, body: TaskUpdate, uid: str = Depends(user_id), s: Session = Depends(session)):
    task = owned(s, task_id, uid)
    for key, value in body.dict(exclude_unset=True, exclude_none=True).items():
        setattr(task, key, value)
    s.add(task)
    s.commit()
    s.refresh(task)
    return task


@app.delete("/api/tasks/{task_id}", status_code=204)
def delete_task(task_id: int, uid: str = Depends(user_id), s: Session = Depends(session)):
    s.delete(owned(s, task_id, uid))
    s.commit()
    return Response(status_code=204)


# The team's board: betterauthz lets only members of the active organization read it, and only
# its owner and admins add to it (examples/tasks/betterauthz.yaml). The app only scopes by the
# organization it is told.
@app.get("/api/team/tasks", response_model=List[TeamTaskRead])
def list_team_tasks(org: str = Depends(organization), s: Session = Depends(session)):
    return s.exec(select(Task).where(Task.org_id == org).order_by(Task.id)).all()


@app.post("/api/team/tasks", response_model=TeamTaskRead, status_code=201)
def create_team_task(body: TaskBase, uid: str = Depends(user_id), org: str = Depends(organization), s: Session = Depends(session)):
    task = Task(title=body.title, done=body.done, user_id=uid, org_id=org)
    s.add(task)
    s.commit()
    s.refresh(task)
    return task
