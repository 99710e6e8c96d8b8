"""``transport.fingerprint``: server, HTTP version, keep-alive, and what breaks streaming on the way."""

from __future__ import annotations

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidHandshake, InvalidStatus

from chatopt.audit.checks.base import Check
from chatopt.audit.findings import Finding
from chatopt.targets import websocket_url

#: Where chat backends usually offer a WebSocket.
WEBSOCKET_PATH = "/ws"


class TransportCheck(Check):
    id = "transport.fingerprint"
    spec_ref = "transport"
    summary = "Server and framework headers, HTTP version, keep-alive, compression/buffering on streams."

    async def run(self) -> list[Finding]:
        probes = [probe for probe in await self.session.conversation() if probe.ok]
        try:
            page = await self.session.request("GET", self.session.origin + "/", timeout_s=5)
            http_version, page_headers = page.http_version, {k.lower(): v for k, v in page.headers.items()}
        except httpx.HTTPError:
            http_version, page_headers = None, {}
        headers = probes[0].exchange.headers if probes else page_headers
        mode = probes[0].exchange.mode if probes else None
        evidence = {
            "http_version": http_version,
            "server": headers.get("server") or page_headers.get("server"),
            "powered_by": headers.get("x-powered-by"),
            "response_mode": mode,
            "content_type": headers.get("content-type"),
            "content_encoding": headers.get("content-encoding"),
            "connection": headers.get("connection"),
            "x_accel_buffering": headers.get("x-accel-buffering"),
            "cache_control": headers.get("cache-control"),
            "websocket_offered": True if mode == "websocket" else await self._websocket_offered(),
        }
        self.session.transport = evidence
        findings: list[Finding] = []
        if mode in ("sse", "ndjson") and (headers.get("content-encoding") or "").lower() in (
            "gzip",
            "br",
            "deflate",
        ):
            findings.append(
                self.finding(
                    "problem",
                    self.t("Compressed stream", "Stream comprimido"),
                    severity="medium",
                    evidence=evidence,
                    cause=self.t(
                        f"the {mode} stream is sent with content-encoding {headers['content-encoding']}: "
                        "compressors and proxies buffer it, so tokens arrive in bursts",
                        f"o stream {mode} vai com content-encoding {headers['content-encoding']}: "
                        "compressores e proxies o bufferizam e os tokens chegam em rajadas",
                    ),
                    fix=self.t(
                        "exclude text/event-stream from compression; send X-Accel-Buffering: no",
                        "exclua text/event-stream da compressão; envie X-Accel-Buffering: no",
                    ),
                    switch="streaming",
                    confidence="high",
                    spec_ref="P1",
                )
            )
        if (headers.get("connection") or "").lower() == "close":
            findings.append(
                self.finding(
                    "problem",
                    self.t("No keep-alive", "Sem keep-alive"),
                    severity="low",
                    evidence=evidence,
                    cause=self.t(
                        "every response closes the connection, so each message pays a new TCP/TLS handshake",
                        "cada resposta fecha a conexão; cada mensagem paga um novo handshake TCP/TLS",
                    ),
                    fix=self.t(
                        "keep connections alive (HTTP/1.1 keep-alive or HTTP/2)",
                        "mantenha as conexões abertas (keep-alive HTTP/1.1 ou HTTP/2)",
                    ),
                    confidence="high",
                )
            )
        if not findings:
            findings.append(
                self.finding("ok", self.t("Transport", "Transporte"), evidence=evidence, confidence="high")
            )
        return findings

    async def _websocket_offered(self) -> bool:
        """Does ``/ws`` complete a WebSocket handshake (or ask for credentials with a 401)?

        A 403 does not count: Starlette, for one, refuses a WebSocket to a path it has no route for with 403.
        """
        self.session.spend()
        skip = ("content-type", "accept", "content-length")
        headers = {k: v for k, v in self.session.target.headers.items() if k.lower() not in skip}
        try:
            async with connect(
                websocket_url(self.session.origin) + WEBSOCKET_PATH,
                additional_headers=headers,
                open_timeout=3,
                close_timeout=1,
            ):
                return True
        except InvalidStatus as exc:
            return exc.response.status_code == 401
        except (OSError, InvalidHandshake, TimeoutError):
            return False
