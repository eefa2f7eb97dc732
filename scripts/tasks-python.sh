#!/usr/bin/env bash
# Prints the Python that can run examples/tasks/app.py (it imports fastapi, sqlmodel and
# uvicorn), or exits 1. $TASKS_PYTHON wins; else the first of `python3` on PATH and
# /usr/bin/python3 that has them — Debian's python3-fastapi, python3-uvicorn and
# python3-sqlmodel install for /usr/bin/python3, which a pyenv or venv python3 on PATH hides.
set -euo pipefail
for py in ${TASKS_PYTHON:-} python3 /usr/bin/python3; do
	if command -v "$py" >/dev/null && "$py" -c 'import fastapi, sqlmodel, uvicorn' 2>/dev/null; then
		command -v "$py"
		exit 0
	fi
	[ -n "${TASKS_PYTHON:-}" ] && { echo "tasks-python: TASKS_PYTHON=$TASKS_PYTHON cannot import fastapi, sqlmodel and uvicorn" >&2; exit 1; }
done
echo "tasks-python: no python3 with fastapi, sqlmodel and uvicorn (./scripts/system-deps.sh example installs Debian's python3-fastapi, python3-uvicorn, python3-sqlmodel)" >&2
exit 1
