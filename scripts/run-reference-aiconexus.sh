#!/usr/bin/env bash
# Starts the AIConexus reference gateway (IoAP v1, `ioap.v1`) from a checkout of its
# repository, so that `agentgate bench ws --dialect ioap` can measure it on this machine
# beside agentgate. Nothing of the reference is kept in this repository: pass the path of
# a checkout (the measured commit is 1356470).
#
# Usage: ./scripts/run-reference-aiconexus.sh CHECKOUT [PORT=8000] [VENV=CHECKOUT/.venv-bench]
#
# The first run creates a Python virtual environment and installs the server stack at
# the versions its poetry.lock pins (FastAPI 0.104.1, Starlette 0.27.0, uvicorn 0.24.0
# with its "standard" extras, pydantic 2.12.5, websockets 12.0). The gateway then runs
# in the foreground exactly as the checkout's gateway_listen.py runs it (create_app with
# agent_timeout=300 and cleanup_interval=60, uvicorn at log level info under
# asyncio.run, logging at INFO), except that it listens on 127.0.0.1:PORT.
#
# Then, for instance:
#   agentgate bench ws --url ws://127.0.0.1:PORT/ws --dialect ioap --agents 100 --duration 10
set -euo pipefail

CHECKOUT="${1:?usage: $0 CHECKOUT [PORT] [VENV]}"
PORT="${2:-8000}"
CHECKOUT="$(cd "$CHECKOUT" && pwd)"
VENV="${3:-$CHECKOUT/.venv-bench}"
[ -f "$CHECKOUT/src/gateway/server.py" ] || {
    echo "$CHECKOUT has no src/gateway/server.py: not an AIConexus checkout" >&2
    exit 2
}

if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet \
        'fastapi==0.104.1' 'starlette==0.27.0' 'uvicorn[standard]==0.24.0.post1' \
        'pydantic==2.12.5' 'pydantic-core==2.41.5' 'websockets==12.0' \
        'uvloop==0.22.1' 'httptools==0.7.1' 'h11==0.16.0' 'anyio==3.7.1' \
        'cryptography==41.0.7' 'base58==2.1.1'
fi

cd "$CHECKOUT"
export PYTHONPATH="$CHECKOUT/src:$CHECKOUT${PYTHONPATH:+:$PYTHONPATH}"
exec "$VENV/bin/python" - "$PORT" <<'EOF'
import asyncio
import logging
import sys

import uvicorn

from src.gateway.server import create_app

logging.basicConfig(
    level=logging.INFO,
    format="%(asctime)s - %(name)s - %(levelname)s - %(message)s",
)


async def main(port: int) -> None:
    app = create_app(agent_timeout=300, cleanup_interval=60)
    config = uvicorn.Config(app=app, host="127.0.0.1", port=port, log_level="info")
    await uvicorn.Server(config).serve()


asyncio.run(main(int(sys.argv[1])))
EOF
