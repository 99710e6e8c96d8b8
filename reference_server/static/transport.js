// How a chat message travels to the server and back. The UI (chat.js) only sees
// callbacks: onToken(text) for answer text as it arrives, then onFinal(reply) or
// onError(message).
//
// When the server has its realtime transports on (docs/REALTIME.md), an answer is a
// stream of numbered events and this file picks the best way to receive it:
// WebSocket -> SSE -> long polling. A connection that drops mid-answer is re-opened
// after 1, 2, 4, 8 ... seconds (at most 30, plus jitter) and the answer resumes after
// the last event shown, so a reconnect neither loses nor repeats text. Without the
// realtime transports, the baseline POST /api/chat (SSE or plain JSON) is used.
"use strict";

const ChatTransport = (() => {
  const BACKOFF_CAP_S = 30;
  const JITTER = 0.3;
  const CONNECT_TIMEOUT_MS = 5000;
  const WS_RETRY_AFTER_MS = 60000;
  const POLL_WAIT_S = 25;

  let realtime = "unknown";      // "unknown" | "on" | "off" (no realtime routes: baseline API)
  let wsBrokenUntil = 0;         // after WebSocket fails to open, use HTTP for a while
  let socket = null;             // the shared WebSocket, reused by every send
  let socketToken = null;
  let opening = null;            // Promise<WebSocket|null> while a connect is in flight
  const byClientId = new Map();  // client_msg_id -> stream session (until "started")
  const byStreamId = new Map();  // stream_id -> stream session

  // 1, 2, 4, 8 ... 30 s, plus up to 30 % random jitter so clients do not reconnect in step.
  function backoffMs(attempt) {
    const base = Math.min(BACKOFF_CAP_S, 2 ** attempt);
    return (base + Math.random() * base * JITTER) * 1000;
  }

  const sleep = (ms, signal) => new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    if (signal) signal.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
  });

  function newClientId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
  }

  function errorMessage(body, status) {
    if (body && body.error && body.error.message) return body.error.message;
    return `the server answered HTTP ${status}`;
  }

  // Parse an SSE byte stream into {event, data} frames.
  async function* readEvents(response) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n/g, "\n");
      let boundary;
      while ((boundary = buffer.indexOf("\n\n")) >= 0) {
        const frame = buffer.slice(0, boundary);
        buffer = buffer.slice(boundary + 2);
        let event = "message";
        const data = [];
        for (const line of frame.split("\n")) {
          if (line.startsWith("event:")) event = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
        }
        if (data.length) yield { event, data: JSON.parse(data.join("\n")) };
      }
    }
  }

  // --- the baseline API (no realtime transports on the server) -------------------------

  async function sendBaseline({ token, message, conversationId, onToken, onFinal, onError, signal }) {
    const body = { message };
    if (conversationId) body.conversation_id = conversationId;
    let response;
    try {
      response = await fetch("/api/chat", {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          "Accept": "text/event-stream, application/json",
          "Authorization": `Bearer ${token}`,
        },
        body: JSON.stringify(body),
        signal,
      });
    } catch (err) {
      onError(signal && signal.aborted ? "stopped" : "cannot reach the server");
      return;
    }
    const type = response.headers.get("content-type") || "";
    if (!response.ok || !type.startsWith("text/event-stream")) {
      const payload = await response.json().catch(() => null);
      if (!response.ok) onError(errorMessage(payload, response.status));
      else { onToken(payload.reply); onFinal(payload); }
      return;
    }
    try {
      for await (const { event, data } of readEvents(response)) {
        if (event === "token") onToken(data.text);
        else if (event === "final") onFinal(data);
        else if (event === "error") onError(errorMessage(data, 502));
      }
    } catch (err) {
      onError(signal && signal.aborted ? "stopped" : "the connection was interrupted");
    }
  }

  // --- one answer: its events, in order, exactly once ---------------------------------

  class StreamSession {
    constructor(options) {
      this.options = options;             // chat.js's send() options: message, callbacks, signal
      this.clientMsgId = newClientId();
      this.streamId = null;
      this.lastSeq = 0;
      this.finished = false;
      this.wake = null;                       // resolves the wait for "something changed"
      this.done = new Promise((resolve) => { this.resolveDone = resolve; });
    }

    // A stream event (token / final / error with a seq), from any transport.
    accept(frame) {
      if (this.finished || typeof frame.seq !== "number" || frame.seq <= this.lastSeq) return;
      this.lastSeq = frame.seq;
      if (frame.type === "token") this.options.onToken(frame.text);
      else if (frame.type === "final") this.finish(() => this.options.onFinal(frame));
      else if (frame.type === "error") this.finish(() => this.options.onError(frame.message));
    }

    fail(message) { this.finish(() => this.options.onError(message)); }

    finish(report) {
      if (this.finished) return;
      this.finished = true;
      byClientId.delete(this.clientMsgId);
      if (this.streamId) byStreamId.delete(this.streamId);
      report();
      this.resolveDone();
      this.poke();
    }

    bind(streamId) {
      this.streamId = streamId;
      byStreamId.set(streamId, this);
      this.poke();
    }

    poke() { if (this.wake) { const wake = this.wake; this.wake = null; wake(); } }

    // Resolves when the session finishes, its socket drops, or ``ms`` pass.
    waitForChange(ms) {
      return new Promise((resolve) => {
        const timer = setTimeout(resolve, ms);
        this.wake = () => { clearTimeout(timer); resolve(); };
      });
    }
  }

  // --- WebSocket ----------------------------------------------------------------------

  function onSocketFrame(event) {
    let frame;
    try { frame = JSON.parse(event.data); } catch (err) { return; }
    if (frame.type === "ping") { socket && socket.send('{"type":"pong"}'); return; }
    if (frame.type === "started") {
      const session = byClientId.get(frame.client_msg_id);
      if (session && !session.streamId) session.bind(frame.stream_id);
      return;
    }
    const session = frame.stream_id ? byStreamId.get(frame.stream_id) : byClientId.get(frame.client_msg_id);
    if (!session) return;
    if (frame.type === "error" && typeof frame.seq !== "number") {
      if (frame.code === "not_found" && session.streamId) session.lostStream = true;
      else session.fail(frame.message);
      session.poke();
      return;
    }
    session.accept(frame);
  }

  function onSocketClosed(closed) {
    if (socket === closed) socket = null;
    for (const session of new Set([...byClientId.values(), ...byStreamId.values()])) session.poke();
  }

  // The shared WebSocket for ``token`` (opened on first use); null when it cannot open.
  function connectSocket(token) {
    if (socket && socket.readyState === WebSocket.OPEN && socketToken === token) return Promise.resolve(socket);
    if (opening) return opening;
    if (socket) { socket.close(1000, "token changed"); socket = null; }
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    opening = new Promise((resolve) => {
      let settled = false;
      const settle = (value) => { if (!settled) { settled = true; opening = null; resolve(value); } };
      let ws;
      try {
        ws = new WebSocket(`${scheme}://${location.host}/ws?token=${encodeURIComponent(token)}`);
      } catch (err) {
        // The browser or a policy refused to open it at all: use HTTP for a while.
        wsBrokenUntil = Date.now() + WS_RETRY_AFTER_MS;
        settle(null);
        return;
      }
      const timer = setTimeout(() => { ws.close(); settle(null); }, CONNECT_TIMEOUT_MS);
      ws.addEventListener("open", () => {
        clearTimeout(timer);
        socket = ws; socketToken = token; realtime = "on";
        settle(ws);
      });
      ws.addEventListener("message", (event) => { if (socket === ws) onSocketFrame(event); });
      ws.addEventListener("close", (event) => {
        clearTimeout(timer);
        if (!settled || event.code === 1013) {
          // Never opened (proxy without upgrades, server without /ws) or the instance is
          // full: use HTTP for a while instead of hammering the WebSocket.
          wsBrokenUntil = Date.now() + WS_RETRY_AFTER_MS;
          settle(null);
        } else if (event.code === 1008 && event.reason === "unauthorized") {
          for (const session of byClientId.values()) session.fail("the bearer token was refused");
        }
        onSocketClosed(ws);
      });
    });
    return opening;
  }

  // Ask (or resume) over the WebSocket; returns false as soon as the socket is gone.
  async function followOverSocket(session, ws) {
    if (!session.streamId) {
      const frame = { type: "message", message: session.options.message, client_msg_id: session.clientMsgId };
      if (session.options.conversationId) frame.conversation_id = session.options.conversationId;
      ws.send(JSON.stringify(frame));
    } else {
      ws.send(JSON.stringify({ type: "resume", stream_id: session.streamId, after_seq: session.lastSeq }));
    }
    while (!session.finished && socket === ws && ws.readyState === WebSocket.OPEN && !session.lostStream) {
      await session.waitForChange(CONNECT_TIMEOUT_MS);
    }
    return session.finished;
  }

  // --- HTTP: start, then SSE or long polling --------------------------------------------

  async function startOverHttp(session, token) {
    const body = { message: session.options.message, client_msg_id: session.clientMsgId };
    if (session.options.conversationId) body.conversation_id = session.options.conversationId;
    const response = await fetch("/api/realtime/messages", {
      method: "POST",
      headers: { "Content-Type": "application/json", "Authorization": `Bearer ${token}` },
      body: JSON.stringify(body),
      signal: session.options.signal,
    });
    if (response.status === 404 && realtime !== "on") { realtime = "off"; return false; }
    const payload = await response.json().catch(() => null);
    if (!response.ok) { session.fail(errorMessage(payload, response.status)); return true; }
    realtime = "on";
    session.bind(payload.stream_id);
    return true;
  }

  // Follow with SSE; true if the stream finished, false if SSE did not get through.
  async function followOverSse(session, token) {
    const url = `/api/realtime/streams/${encodeURIComponent(session.streamId)}/events?after_seq=${session.lastSeq}`;
    const response = await fetch(url, {
      headers: { "Accept": "text/event-stream", "Authorization": `Bearer ${token}` },
      signal: session.options.signal,
    });
    if (!response.ok) return false;
    for await (const { data } of readEvents(response)) {
      session.accept(data);
      if (session.finished) return true;
    }
    return session.finished;
  }

  // Follow with long polling until the stream finishes.
  async function followOverPolling(session, token) {
    while (!session.finished) {
      const url = `/api/realtime/streams/${encodeURIComponent(session.streamId)}/poll` +
        `?after_seq=${session.lastSeq}&wait_s=${POLL_WAIT_S}`;
      const response = await fetch(url, {
        headers: { "Authorization": `Bearer ${token}` },
        signal: session.options.signal,
      });
      const payload = await response.json().catch(() => null);
      if (response.status === 404) { session.fail(errorMessage(payload, 404)); return; }
      if (!response.ok) throw new Error(errorMessage(payload, response.status));
      for (const event of payload.events) session.accept(event);
      if (payload.done && !session.finished) session.fail("the answer ended without its last part");
    }
  }

  // --- one send, with reconnects ----------------------------------------------------------

  async function deliver(session, token) {
    const signal = session.options.signal;
    let sseFailed = false;
    for (let attempt = 0; !session.finished; attempt += 1) {
      if (signal && signal.aborted) { session.fail("stopped"); break; }
      if (attempt > 0) await sleep(backoffMs(attempt - 1), signal);
      if (signal && signal.aborted) { session.fail("stopped"); break; }
      session.lostStream = false;
      try {
        const ws = Date.now() >= wsBrokenUntil ? await connectSocket(token) : null;
        if (ws) {
          if (await followOverSocket(session, ws)) break;
          if (session.lostStream) { session.fail("the answer is no longer available; please ask again"); break; }
          continue;
        }
        if (!session.streamId) {
          if (!(await startOverHttp(session, token))) return false;
          if (session.finished) break;
        }
        if (!sseFailed) {
          if (await followOverSse(session, token)) break;
          sseFailed = true;
          continue;
        }
        await followOverPolling(session, token);
      } catch (err) {
        if (signal && signal.aborted) { session.fail("stopped"); break; }
      }
    }
    return true;
  }

  async function send(options) {
    const { token, signal } = options;
    if (realtime === "off") return sendBaseline(options);
    const session = new StreamSession(options);
    byClientId.set(session.clientMsgId, session);
    if (signal) {
      signal.addEventListener("abort", () => {
        if (session.streamId && socket && socket.readyState === WebSocket.OPEN) {
          socket.send(JSON.stringify({ type: "cancel", stream_id: session.streamId }));
        } else if (session.streamId) {
          fetch(`/api/realtime/streams/${encodeURIComponent(session.streamId)}/cancel`, {
            method: "POST", headers: { "Authorization": `Bearer ${token}` },
          }).catch(() => {});
        }
        session.fail("stopped");
      }, { once: true });
    }
    let handled;
    try {
      handled = await deliver(session, token);
    } catch (err) {
      session.fail("cannot reach the server");
      handled = true;
    }
    if (!handled) {
      byClientId.delete(session.clientMsgId);
      return sendBaseline(options);
    }
    await session.done;
  }

  return { send, backoffMs };
})();
