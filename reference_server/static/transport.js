// How a chat message travels to the server and back. The UI (chat.js) only sees
// callbacks: onToken(text) for answer text as it arrives, then onFinal(reply) or
// onError(message). SSE is used when the server streams; otherwise plain JSON.
"use strict";

const ChatTransport = (() => {
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

  async function send({ token, message, conversationId, onToken, onFinal, onError, signal }) {
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

  return { send };
})();
