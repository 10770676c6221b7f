#!/usr/bin/env python3
"""The AIConexus client's usage patterns against a real agentgate process.

Written from docs/protocols/websocket.md and the reference note on the AIConexus
gateway: the same client library (websockets 12, which offers permessage-deflate, pings
every 20 s, checks the selected subprotocol and caps frames at 1 MiB), the same REGISTER
signing (canonical JSON with sorted keys, a naive timestamp, sent with a trailing Z),
and every frame agentgate sends validated with pydantic models of the client's message
shapes (extra keys forbidden, seven error codes), as the reference client validates
them before its callbacks see them.

Usage: ioap_client.py PATH_TO_AGENTGATE_BINARY
Exits non-zero on the first failed check.
"""

import asyncio
import base64
import datetime
import enum
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from typing import Any, Optional, Union

import base58
import websockets
from nacl.signing import SigningKey
from pydantic import BaseModel, ConfigDict, Field


# --- the client's message shapes (reference note, section 2) ---------------------------

class MessageType(str, enum.Enum):
    REGISTER = "REGISTER"
    UNREGISTER = "UNREGISTER"
    OFFER = "OFFER"
    ANSWER = "ANSWER"
    ICE_CANDIDATE = "ICE_CANDIDATE"
    INTENT = "INTENT"
    EXEC_REQUEST = "EXEC_REQUEST"
    EXEC_RESPONSE = "EXEC_RESPONSE"
    ERROR = "ERROR"
    PING = "PING"
    PONG = "PONG"


class ErrorCode(str, enum.Enum):
    INVALID_SIGNATURE = "INVALID_SIGNATURE"
    UNKNOWN_AGENT = "UNKNOWN_AGENT"
    CONNECTION_REFUSED = "CONNECTION_REFUSED"
    TIMEOUT = "TIMEOUT"
    MALFORMED_MESSAGE = "MALFORMED_MESSAGE"
    UNSUPPORTED_VERSION = "UNSUPPORTED_VERSION"
    INTERNAL_ERROR = "INTERNAL_ERROR"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegisterPayload(Strict):
    public_key: str


class UnregisterPayload(Strict):
    reason: Optional[str] = None


class OfferPayload(Strict):
    sdp: str


class ICECandidatePayload(Strict):
    candidate: str
    sdp_mid: Optional[str] = None
    sdp_mline_index: Optional[int] = None


class ErrorPayload(Strict):
    code: ErrorCode
    message: str
    details: Optional[dict] = None


class PingPayload(Strict):
    sequence: Optional[int] = None


Payload = Union[
    RegisterPayload, UnregisterPayload, OfferPayload, ICECandidatePayload, ErrorPayload,
    PingPayload,
]


class Message(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    id: str
    correlation_id: Optional[str] = None
    timestamp: datetime.datetime = Field(default_factory=datetime.datetime.utcnow)
    from_did: str = Field(alias="from")
    to_did: str = Field(alias="to")
    type: MessageType
    payload: Payload
    version: str = "1.0"
    signature: str


# --- the client's identity and REGISTER (reference note, section 4) ---------------------

class Agent:
    def __init__(self, legacy: bool):
        self.key = SigningKey.generate()
        raw = bytes(self.key.verify_key)
        self.raw_b58 = base58.b58encode(raw).decode()
        if legacy:
            self.did = "did:key:z6Mk" + self.raw_b58
        else:
            self.did = "did:key:z" + base58.b58encode(b"\xed\x01" + raw).decode()

    def register(self, public_key: str) -> str:
        now = datetime.datetime.utcnow().isoformat()
        unsigned = {
            "correlation_id": None, "from": self.did, "id": str(uuid.uuid4()),
            "payload": {"public_key": public_key}, "timestamp": now, "to": self.did,
            "type": "REGISTER", "version": "1.0",
        }
        canonical = json.dumps(unsigned, sort_keys=True, separators=(",", ":"))
        signature = base64.b64encode(self.key.sign(canonical.encode()).signature).decode()
        wire = dict(unsigned, timestamp=now + "Z", signature=signature)
        return json.dumps(wire)

    def frame(self, kind: str, to: str, payload: dict, frame_id: str) -> str:
        return json.dumps({
            "id": frame_id, "correlation_id": None,
            "timestamp": datetime.datetime.utcnow().isoformat() + "Z",
            "from": self.did, "to": to, "type": kind, "payload": payload,
            "version": "1.0", "signature": "",
        })


# --- the gateway process ----------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gateway:
    def __init__(self, binary: str, tmp: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(
            os.environ,
            AGENTGATE_LISTEN=f"127.0.0.1:{self.port}",
            AGENTGATE_DATA_DIR=os.path.join(tmp, "data"),
            AGENTGATE_DOMAIN="ioap.test",
            AGENTGATE_LOGGING__LEVEL="warn",
            # Server pings during the idle pattern, answered by the client library.
            AGENTGATE_WEBSOCKET__PING_INTERVAL="1s",
            AGENTGATE_WEBSOCKET__IOAP__PUBLIC_AGENTS="true",
        )
        self.proc = subprocess.Popen([binary, "serve"], env=env)
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise SystemExit("agentgate did not start")
            time.sleep(0.1)

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=5) as r:
            return json.loads(r.read())

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


# --- the client, as the reference GatewayClient connects and receives -------------------

class Client:
    def __init__(self, gateway: Gateway, agent: Agent):
        self.ws_url = f"ws://127.0.0.1:{gateway.port}/ws"
        self.agent = agent
        self.received: list = []
        self.errors: list = []

    async def connect(self):
        self.ws = await asyncio.wait_for(
            websockets.connect(self.ws_url, subprotocols=["ioap.v1"]), timeout=10)
        check(self.ws.subprotocol in ("ioap.v1", None),
              f"selected subprotocol {self.ws.subprotocol!r}")
        self.reader = asyncio.ensure_future(self.read())

    async def read(self):
        try:
            async for text in self.ws:
                try:
                    raw = json.loads(text)
                    Message(**raw)
                    self.received.append(raw)
                except Exception as e:  # the reference client's on_error
                    self.errors.append((text, e))
        except websockets.ConnectionClosed:
            pass

    async def send(self, text: str):
        await self.ws.send(text)

    async def disconnect(self):
        started = time.monotonic()
        await self.ws.close(1000)
        await self.reader
        return time.monotonic() - started


failures = 0


def check(ok: bool, what: str):
    global failures
    print(("ok    " if ok else "FAIL  ") + what, flush=True)
    if not ok:
        failures += 1


async def two_idle_agents(gw: Gateway):
    a, b = Client(gw, Agent(legacy=True)), Client(gw, Agent(legacy=True))
    await asyncio.gather(a.connect(), b.connect())
    await a.send(a.agent.register(a.agent.raw_b58))
    await b.send(b.agent.register(b.agent.raw_b58))
    await asyncio.sleep(3.5)  # idle through three server pings
    online = {x["did"] for x in gw.get("/agents")["agents"]}
    check({a.agent.did, b.agent.did} <= online, "both idle agents stay registered")
    check(not a.errors and not b.errors and not a.received and not b.received,
          "nothing is sent to an idle registered agent")
    took = max(await asyncio.gather(a.disconnect(), b.disconnect()))
    check(took < 2, f"the gateway answers the client's close promptly ({took:.2f} s)")


async def signalling_exchange(gw: Gateway):
    c1, c2 = Client(gw, Agent(legacy=True)), Client(gw, Agent(legacy=False))
    await c1.connect()
    await c2.connect()
    await c1.send(c1.agent.register(c1.agent.did))
    await c2.send(c2.agent.register(c2.agent.did))
    await asyncio.sleep(0.5)
    await c1.send(json.dumps({
        "id": "msg-1", "type": "OFFER", "from": c1.agent.did, "to": c2.agent.did,
        "payload": {"sdp": "v=0\r\no=- 0 0 IN IP4 127.0.0.1"}, "correlation_id": "test-1",
        "signature": "", "timestamp": datetime.datetime.utcnow().isoformat() + "Z"}))
    await asyncio.sleep(1)
    check(any(m["id"] == "msg-1" and m["type"] == "OFFER" for m in c2.received),
          "client 2 received the OFFER and it validates")
    await c2.send(c2.agent.frame("ANSWER", c1.agent.did, {"sdp": "v=0"}, "msg-2"))
    await asyncio.sleep(1)
    check(any(m["id"] == "msg-2" for m in c1.received),
          "client 1 received the ANSWER and it validates")
    check(not c1.errors and not c2.errors, "no frame failed the client's validation")
    check(all(m["type"] != "ERROR" for m in c1.received + c2.received),
          "neither sender got an ERROR")
    await c1.disconnect()
    await c2.disconnect()


async def errors_and_pong_validate(gw: Gateway):
    c = Client(gw, Agent(legacy=True))
    await c.connect()
    await c.send(c.agent.register(c.agent.raw_b58))
    await c.send(c.agent.frame("OFFER", "did:key:z6MkNobodyHere", {"sdp": "x"}, "lost-1"))
    await c.send(c.agent.frame("PING", "did:key:gateway", {"sequence": 3}, "ping-1"))
    await asyncio.sleep(1)
    check(not c.errors, f"every frame validates ({c.errors[:1]})")
    errors = [m for m in c.received if m["type"] == "ERROR"]
    check(len(errors) == 1 and errors[0]["payload"]["code"] == "UNKNOWN_AGENT"
          and errors[0]["correlation_id"] == "lost-1",
          "an unknown target is answered with ERROR UNKNOWN_AGENT")
    pongs = [m for m in c.received if m["type"] == "PONG"]
    check(len(pongs) == 1 and pongs[0]["correlation_id"] == "ping-1"
          and pongs[0]["id"] != "ping-1" and pongs[0]["payload"] == {"sequence": 3},
          "a PING is answered with a PONG")
    await c.disconnect()


async def first_frame_not_register(gw: Gateway):
    c = Client(gw, Agent(legacy=True))
    await c.connect()
    await c.send(c.agent.frame("OFFER", c.agent.did, {"sdp": "x"}, "early"))
    try:
        await asyncio.wait_for(c.reader, timeout=5)
    except asyncio.TimeoutError:
        check(False, "the gateway closes after a first frame that is not REGISTER")
        return
    check(c.ws.close_code == 1008, f"closed with 1008 (got {c.ws.close_code})")
    check(not c.errors and len(c.received) == 1 and c.received[0]["type"] == "ERROR"
          and c.received[0]["payload"]["code"] == "MALFORMED_MESSAGE",
          "the ERROR before the close validates")


async def main(binary: str):
    with tempfile.TemporaryDirectory() as tmp:
        gw = Gateway(binary, tmp)
        try:
            for pattern in (two_idle_agents, signalling_exchange, errors_and_pong_validate,
                            first_frame_not_register):
                print(f"-- {pattern.__name__}", flush=True)
                await asyncio.wait_for(pattern(gw), timeout=30)
        finally:
            gw.stop()
    if failures:
        raise SystemExit(f"{failures} check(s) failed")
    print("all ioap client checks passed")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    asyncio.run(main(sys.argv[1]))
