// The chat page UI: conversations, history with "show older", and the composer.
// Model output is always inserted as text (textContent), never as HTML.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const tokenInput = $("token"), list = $("conversations"), messages = $("messages");
  const statusLine = $("status"), form = $("composer"), input = $("input"), sendButton = $("send");
  const olderButton = $("older"), moreButton = $("more-conversations");
  const state = { conversationId: null, olderCursor: null, conversationsCursor: null, busy: false };

  tokenInput.value = localStorage.getItem("chatopt-token") || "";
  tokenInput.addEventListener("change", () => {
    localStorage.setItem("chatopt-token", tokenInput.value.trim());
    refreshConversations();
  });

  function setStatus(text, isError = false) {
    statusLine.textContent = text;
    statusLine.classList.toggle("error", isError);
  }

  function bubble(role, text, complete = true) {
    const item = document.createElement("li");
    item.className = `message ${role}` + (complete ? "" : " incomplete");
    const body = document.createElement("span");
    body.textContent = text;
    item.append(body);
    return item;
  }

  function scrollToEnd() { messages.scrollTop = messages.scrollHeight; }

  async function api(path) {
    const response = await fetch(path, { headers: { Authorization: `Bearer ${tokenInput.value.trim()}` } });
    const body = await response.json().catch(() => null);
    if (!response.ok) throw new Error(body && body.error ? body.error.message : `HTTP ${response.status}`);
    return body;
  }

  async function refreshConversations(append = false) {
    if (!tokenInput.value.trim()) { setStatus("Paste a bearer token to start (chatopt token --user you)."); return; }
    try {
      const cursor = append && state.conversationsCursor ? `&cursor=${encodeURIComponent(state.conversationsCursor)}` : "";
      const page = await api(`/api/conversations?limit=20${cursor}`);
      if (!append) list.replaceChildren();
      for (const conversation of page.items) {
        const item = document.createElement("li");
        item.textContent = conversation.title || "Untitled";
        item.dataset.id = conversation.id;
        item.classList.toggle("active", conversation.id === state.conversationId);
        item.addEventListener("click", () => openConversation(conversation.id));
        list.append(item);
      }
      state.conversationsCursor = page.next_cursor;
      moreButton.hidden = !page.next_cursor;
      setStatus("");
    } catch (err) { setStatus(err.message, true); }
  }

  async function loadMessages(before) {
    const query = before ? `&before=${encodeURIComponent(before)}` : "";
    const page = await api(`/api/conversations/${encodeURIComponent(state.conversationId)}/messages?limit=50${query}`);
    const items = page.items.map((m) => bubble(m.role, m.content, m.complete));
    if (before) messages.prepend(...items); else messages.replaceChildren(...items);
    state.olderCursor = page.next_cursor;
    olderButton.hidden = !page.next_cursor;
  }

  async function openConversation(id) {
    state.conversationId = id;
    for (const item of list.children) item.classList.toggle("active", item.dataset.id === id);
    try { await loadMessages(null); scrollToEnd(); } catch (err) { setStatus(err.message, true); }
  }

  olderButton.addEventListener("click", () => loadMessages(state.olderCursor).catch((err) => setStatus(err.message, true)));
  moreButton.addEventListener("click", () => refreshConversations(true));
  $("new-chat").addEventListener("click", () => {
    state.conversationId = null; state.olderCursor = null;
    messages.replaceChildren(); olderButton.hidden = true;
    for (const item of list.children) item.classList.remove("active");
    input.focus();
  });

  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); form.requestSubmit(); }
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text || state.busy) return;
    if (!tokenInput.value.trim()) { setStatus("Paste a bearer token first.", true); return; }
    state.busy = true; sendButton.disabled = true; input.value = "";
    messages.append(bubble("user", text));
    const answer = bubble("assistant", "");
    const answerText = answer.firstChild;
    messages.append(answer);
    scrollToEnd();
    setStatus("Thinking…");
    const wasNew = !state.conversationId;
    await ChatTransport.send({
      token: tokenInput.value.trim(),
      message: text,
      conversationId: state.conversationId,
      onToken: (piece) => { answerText.textContent += piece; setStatus(""); scrollToEnd(); },
      onFinal: (reply) => {
        answerText.textContent = reply.reply;
        const meta = document.createElement("span");
        meta.className = "meta";
        meta.textContent = `${reply.model} · ${reply.usage.total_tokens} tokens`;
        answer.append(meta);
        state.conversationId = reply.conversation_id;
        setStatus("");
        if (wasNew) refreshConversations();
      },
      onError: (message) => { answer.classList.add("incomplete"); setStatus(message, true); },
    });
    state.busy = false; sendButton.disabled = false; input.focus();
  });

  refreshConversations();
})();
