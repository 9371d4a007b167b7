// The local chat page: sends each message to POST api/turn (a Lex V2 event through the
// orchestrator's handler) and shows the Lex response's messages. Plain JS, no build step.
// Text is only ever set with textContent: nothing the server or the customer sends becomes HTML.
"use strict";

(function () {
  const API = "api/turn";
  const OFFLINE = "Sorry, I can't reach the assistant right now. Please try again.";
  const TIMEOUT_MS = 30000;
  const MAX_HISTORY = 200;
  const SESSION_KEY = "chat.sessionId";
  const HISTORY_KEY = "chat.history";
  const DETAILS_KEY = "chat.showDetails";
  const SESSION_PATTERN = /^[0-9A-Za-z._:-]{2,100}$/;

  const app = document.querySelector(".app");
  const log = document.getElementById("log");
  const form = document.getElementById("composer");
  const input = document.getElementById("message");
  const sendButton = document.getElementById("send");
  const toggle = document.getElementById("details-toggle");
  const status = document.getElementById("status");

  // ---- storage (sessionStorage: this tab only; a reload keeps the conversation) -------------
  const memory = {};
  function load(key) {
    try { return window.sessionStorage.getItem(key); } catch (e) { return memory[key] || null; }
  }
  function save(key, value) {
    try { window.sessionStorage.setItem(key, value); } catch (e) { memory[key] = value; }
  }

  function newSessionId() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      return "web-" + window.crypto.randomUUID();
    }
    const bytes = window.crypto.getRandomValues(new Uint8Array(16));
    return "web-" + Array.from(bytes, function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }

  function sessionId() {
    let id = load(SESSION_KEY);
    if (!id || !SESSION_PATTERN.test(id)) {
      id = newSessionId();
      save(SESSION_KEY, id);
    }
    return id;
  }

  let history = [];
  try {
    const stored = JSON.parse(load(HISTORY_KEY) || "[]");
    if (Array.isArray(stored)) history = stored;
  } catch (e) { history = []; }

  function remember(entry) {
    history.push(entry);
    if (history.length > MAX_HISTORY) history = history.slice(-MAX_HISTORY);
    save(HISTORY_KEY, JSON.stringify(history));
  }

  // ---- rendering ----------------------------------------------------------------------------
  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function speaker(name) {
    return element("span", "sr-only", name + ": ");
  }

  function scrollDown() {
    log.scrollTop = log.scrollHeight;
  }

  function clearHint() {
    const hint = log.querySelector(".hint");
    if (hint) hint.remove();
  }

  function addUser(text) {
    clearHint();
    const bubble = element("p", "msg user");
    bubble.appendChild(speaker("You"));
    bubble.appendChild(document.createTextNode(text));
    log.appendChild(bubble);
    scrollDown();
    return bubble;
  }

  function addError(text) {
    const note = element("p", "msg error", text);
    log.appendChild(note);
    scrollDown();
  }

  function plainText(message) {
    const content = typeof message.content === "string" ? message.content : "";
    if (message.contentType === "SSML") {  // a caller's reply: show its words
      return new DOMParser().parseFromString(content, "text/html").body.textContent || "";
    }
    return content;
  }

  function removeQuickReplies() {
    log.querySelectorAll(".card").forEach(function (card) { card.remove(); });
  }

  function addCard(card, previousText, live) {
    const box = element("div", "card");
    const title = typeof card.title === "string" ? card.title : "";
    if (title && title !== previousText && !previousText.startsWith(title.replace(/\u2026$/, ""))) {
      box.appendChild(element("p", "title", title));
    }
    const group = element("div", "quick-replies");
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", title || "Quick replies");
    (Array.isArray(card.buttons) ? card.buttons : []).forEach(function (button) {
      if (!button || typeof button.value !== "string" || !button.value) return;
      const choice = element("button", "quick-reply", typeof button.text === "string" && button.text ? button.text : button.value);
      choice.type = "button";
      choice.dataset.value = button.value;
      choice.disabled = !live;
      choice.addEventListener("click", function () { send(button.value, { fromButton: true }); });
      group.appendChild(choice);
    });
    if (!group.childElementCount) return;
    box.appendChild(group);
    log.appendChild(box);
  }

  function describeRecord(record) {
    const box = element("div", "record");
    box.setAttribute("aria-label", "Turn details");
    if (!record || typeof record !== "object" || !Object.keys(record).length) {
      box.textContent = "No turn record for this reply.";
      return box;
    }
    const list = element("dl");
    function row(name, value) {
      list.appendChild(element("dt", "", name));
      list.appendChild(element("dd", "", value));
    }
    const tools = Array.isArray(record.tools) && record.tools.length ? record.tools.join(", ") : "none";
    row("Tools", tools);
    row("Arguments", record.arguments && Object.keys(record.arguments).length ? JSON.stringify(record.arguments) : "none");
    row("Action", String(record.action || ""));
    row("Reason", String(record.reason || ""));
    row("Latency", typeof record.latency_ms === "number" ? record.latency_ms.toFixed(1) + " ms" : "?");
    if (record.error) row("Error", String(record.error));
    box.appendChild(list);
    if (Array.isArray(record.steps) && record.steps.length) {
      const steps = element("ol");
      record.steps.forEach(function (step) {
        const detail = step && step.detail && step.detail.tool ? " " + step.detail.tool : "";
        const ms = step && typeof step.ms === "number" ? step.ms.toFixed(1) : "?";
        steps.appendChild(element("li", "", (step && step.name) + detail + " (round " + (step && step.round) + "): " + ms + " ms"));
      });
      box.appendChild(element("p", "", "Steps:"));
      box.appendChild(steps);
    }
    return box;
  }

  function addBot(messages, record, live) {
    clearHint();
    removeQuickReplies();
    let previousText = "";
    (Array.isArray(messages) ? messages : []).forEach(function (message) {
      if (!message || typeof message !== "object") return;
      if (message.contentType === "ImageResponseCard" && message.imageResponseCard) {
        addCard(message.imageResponseCard, previousText, live);
        return;
      }
      const text = plainText(message);
      if (!text) return;
      const bubble = element("p", "msg bot");
      bubble.appendChild(speaker("Assistant"));
      bubble.appendChild(document.createTextNode(text));
      log.appendChild(bubble);
      previousText = text;
    });
    log.appendChild(describeRecord(record));
    scrollDown();
  }

  function replay() {
    let lastBot = -1;
    history.forEach(function (entry, index) { if (entry.kind === "bot") lastBot = index; });
    history.forEach(function (entry, index) {
      if (entry.kind === "user") {
        const bubble = addUser(String(entry.text || ""));
        if (entry.failed) bubble.classList.add("failed");
      } else if (entry.kind === "bot") {
        // Only the latest reply's buttons still answer its question (a failed send since keeps them).
        addBot(entry.messages, entry.record, index === lastBot);
      } else if (entry.kind === "error") {
        addError(OFFLINE);
      }
    });
  }

  // ---- sending ------------------------------------------------------------------------------
  let busy = false;

  function setBusy(on) {
    busy = on;
    sendButton.disabled = on;
    log.setAttribute("aria-busy", on ? "true" : "false");
    status.textContent = on ? "The assistant is answering\u2026" : "";
    log.querySelectorAll(".quick-reply").forEach(function (button) { button.disabled = on; });
  }

  async function send(text, options) {
    const fromButton = Boolean(options && options.fromButton);
    if (busy) return;
    text = text.trim();
    if (!text) {
      input.focus();
      return;
    }
    setBusy(true);
    const bubble = addUser(text);
    const entry = { kind: "user", text: text };
    const controller = new AbortController();
    const timer = window.setTimeout(function () { controller.abort(); }, TIMEOUT_MS);
    let answer = null;
    try {
      const response = await fetch(API, {
        method: "POST",
        headers: { "Content-Type": "application/json", "Accept": "application/json" },
        body: JSON.stringify({ sessionId: sessionId(), text: text }),
        signal: controller.signal,
        cache: "no-store",
      });
      if (response.ok) {
        answer = await response.json();
      }
    } catch (e) {
      answer = null;
    } finally {
      window.clearTimeout(timer);
    }
    setBusy(false);
    if (!answer || !Array.isArray(answer.messages)) {
      bubble.classList.add("failed");
      entry.failed = true;
      remember(entry);
      addError(OFFLINE);
      remember({ kind: "error" });
      input.focus();  // what was typed stays in the box, to send again
      return;
    }
    remember(entry);
    if (!fromButton && input.value.trim() === text) input.value = "";
    addBot(answer.messages, answer.record, true);
    remember({ kind: "bot", messages: answer.messages, record: answer.record });
    input.focus();
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    send(input.value, { fromButton: false });
  });

  // ---- turn details -------------------------------------------------------------------------
  function showDetails(on) {
    toggle.setAttribute("aria-pressed", on ? "true" : "false");
    app.classList.toggle("show-details", on);
    save(DETAILS_KEY, on ? "1" : "0");
  }

  toggle.addEventListener("click", function () {
    showDetails(toggle.getAttribute("aria-pressed") !== "true");
  });

  sessionId();
  showDetails(load(DETAILS_KEY) === "1");
  replay();
  input.focus();
})();
