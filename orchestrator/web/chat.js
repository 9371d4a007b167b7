// The chat page. Plain JS, no build step, no library. Text is only ever set with textContent:
// nothing a server or the customer sends becomes HTML.
//
// Two modes, chosen by config.json beside the page:
//  * "local" (the default; `python -m orchestrator serve`): each message goes to POST api/turn (a
//    Lex V2 event through the orchestrator's handler), which answers with the Lex response's
//    messages and the turn's record.
//  * "lex" (deployed on S3 + CloudFront): the customer signs in with the Cognito hosted UI
//    (authorization code + PKCE), the identity pool turns the ID token into AWS credentials, and
//    each message is a SigV4-signed Lex V2 RecognizeText call (sigv4.js), with the ID token in the
//    request attribute idToken for the fulfillment Lambda to verify. Tokens live in
//    sessionStorage only (this tab); AWS credentials in memory only.
//
// Embedded in a shop's page (<iframe src=...>, the stack's WebPageEmbedSnippet), the hosted UI cannot
// load in the frame (Cognito sends X-Frame-Options: DENY), and the frame's sessionStorage may be
// partitioned from any top-level window's. So in a frame "Sign in" opens a popup on this same page
// with #signin-popup: that top-level page makes the PKCE verifier and state in its own sessionStorage,
// goes through the hosted UI, swaps the code for tokens, hands the ID token to the frame with
// postMessage (to this origin only) and closes. The frame takes the message only from the popup it
// opened, from this origin, with the expected type. Sign out likewise goes through a popup
// (#signout-popup) so the hosted UI's session cookie is cleared too.
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
  const CONFIG_URL = "config.json";
  const AUTH_KEY = "chat.auth";   // {idToken, email, exp}: the signed-in customer (lex mode)
  const PKCE_KEY = "chat.pkce";   // {state, verifier, popup}: a sign-in under way
  const POPUP_KEY = "chat.popup"; // "signout": this popup is signing out for the frame that opened it
  const SIGNED_IN_MESSAGE = "lex-chat-signed-in";
  const POPUP_NAME = "signin";
  const POPUP_FEATURES = "popup,width=480,height=640";
  const POPUP_BLOCKED = "Your browser blocked the sign-in window. Please allow pop-ups for this page, or ";
  const SIGNED_OUT = "Signed out";
  const SIGN_IN_FIRST = "Please sign in to chat.";
  const SIGN_IN_FAILED = "Sign-in failed. Please try again.";
  const EXPIRED = "Your sign-in has expired. Please sign in to chat.";
  const EARLY_S = 300;  // renew AWS credentials this long before they expire

  const app = document.querySelector(".app");
  const log = document.getElementById("log");
  const form = document.getElementById("composer");
  const input = document.getElementById("message");
  const sendButton = document.getElementById("send");
  const toggle = document.getElementById("details-toggle");
  const status = document.getElementById("status");
  const account = document.getElementById("account");
  const who = document.getElementById("who");
  const signInButton = document.getElementById("sign-in");
  const signOutButton = document.getElementById("sign-out");
  const firstHint = log.querySelector(".hint");
  const pageUrl = window.location.origin + window.location.pathname;

  // In a frame (a shop's iframe)? A cross-origin top may throw on access: then surely framed.
  const framed = (function () {
    try { return window.top !== window.self; } catch (e) { return true; }
  })();

  // ---- storage (sessionStorage: this tab only; a reload keeps the conversation) -------------
  const memory = {};
  function load(key) {
    try { return window.sessionStorage.getItem(key); } catch (e) { return memory[key] || null; }
  }
  function save(key, value) {
    try { window.sessionStorage.setItem(key, value); } catch (e) { memory[key] = value; }
  }
  function forget(key) {
    delete memory[key];
    try { window.sessionStorage.removeItem(key); } catch (e) { /* memory only */ }
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
    if (record !== undefined) log.appendChild(describeRecord(record));  // none from Lex itself
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

  // ---- configuration -----------------------------------------------------------------------
  // config.json beside the page; none (404) or unreadable means the local server's API.
  function str(value) { return typeof value === "string" ? value.trim() : ""; }
  function trimSlash(url) { return url.replace(/\/+$/, ""); }

  function lexConfig(raw) {
    const region = str(raw.region);
    const config = {
      mode: "lex",
      region: region,
      botId: str(raw.botId),
      botAliasId: str(raw.botAliasId),
      localeId: str(raw.localeId) || "en_US",
      identityPoolId: str(raw.identityPoolId),
      userPoolId: str(raw.userPoolId),
      userPoolClientId: str(raw.userPoolClientId),
      authDomain: trimSlash(str(raw.authDomain)),
      redirectUri: str(raw.redirectUri) || window.location.origin + window.location.pathname,
      cognitoIdentityEndpoint: str(raw.cognitoIdentityEndpoint) || "https://cognito-identity." + region + ".amazonaws.com/",
      lexEndpoint: trimSlash(str(raw.lexEndpoint) || "https://runtime-v2-lex." + region + ".amazonaws.com"),
    };
    config.logoutUri = str(raw.logoutUri) || config.redirectUri;
    config.complete = ["region", "botId", "botAliasId", "identityPoolId", "userPoolId", "userPoolClientId", "authDomain"]
      .every(function (name) { return Boolean(config[name]); });
    return config;
  }

  async function loadConfig() {
    try {
      const response = await fetch(CONFIG_URL, { headers: { "Accept": "application/json" }, cache: "no-store" });
      if (response.ok) {
        const raw = await response.json();
        if (raw && typeof raw === "object" && raw.mode === "lex") return lexConfig(raw);
      }
    } catch (e) { /* no config: local */ }
    return { mode: "local" };
  }

  // ---- sign-in (lex mode): Cognito hosted UI, authorization code + PKCE (S256) ----------------
  function base64url(buffer) {
    let binary = "";
    new Uint8Array(buffer).forEach(function (b) { binary += String.fromCharCode(b); });
    return window.btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function randomText(size) {
    return base64url(window.crypto.getRandomValues(new Uint8Array(size)));
  }

  // The ID token's claims, for display and expiry only: the fulfillment Lambda verifies the token.
  function claims(token) {
    try {
      const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      const binary = window.atob(part + "===".slice((part.length + 3) % 4));
      const data = JSON.parse(new TextDecoder().decode(Uint8Array.from(binary, function (c) { return c.charCodeAt(0); })));
      return data && typeof data === "object" ? data : {};
    } catch (e) {
      return {};
    }
  }

  function currentAuth() {
    try {
      const auth = JSON.parse(load(AUTH_KEY) || "null");
      if (auth && typeof auth.idToken === "string" && auth.idToken) return auth;
    } catch (e) { /* unreadable: signed out */ }
    return null;
  }

  function expired(auth) {
    return typeof auth.exp === "number" && auth.exp * 1000 <= Date.now() + 60000;
  }

  // Sign in. Called straight from a click: in a frame, window.open must run before any await, or
  // the browser takes it for an unrequested pop-up and blocks it.
  function signIn() {
    if (framed) {
      signInWithPopup();
      return;
    }
    startSignIn(false);
  }

  async function startSignIn(inPopup) {
    const verifier = randomText(48);  // 64 characters, as RFC 7636 allows (43 to 128)
    const state = randomText(24);
    const challenge = base64url(await window.crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
    save(PKCE_KEY, JSON.stringify({ state: state, verifier: verifier, popup: Boolean(inPopup) }));
    const query = new URLSearchParams({
      response_type: "code",
      client_id: config.userPoolClientId,
      redirect_uri: config.redirectUri,
      scope: "openid email",
      state: state,
      code_challenge: challenge,
      code_challenge_method: "S256",
    });
    window.location.assign(config.authDomain + "/oauth2/authorize?" + query.toString());
  }

  // ---- sign-in from a frame: a popup on this page does the hosted UI, then posts the ID token ----
  let popup = null;  // the window this frame opened: the only one whose message it takes

  function openPopup(hash) {
    let opened = null;
    try { opened = window.open(pageUrl + hash, POPUP_NAME, POPUP_FEATURES); } catch (e) { opened = null; }
    popup = opened || null;
    return popup;
  }

  function signInWithPopup() {
    if (openPopup("#signin-popup")) {
      who.textContent = "Signing in in the pop-up window\u2026";
      return;
    }
    // Blocked: offer the page itself in a tab of its own, where the same-window sign-in works.
    log.querySelectorAll(".msg.notice").forEach(function (old) { old.remove(); });
    const note = element("div", "msg notice");
    const text = element("p", "", POPUP_BLOCKED);
    const link = element("a", "", "open the chat in a new tab");
    link.href = pageUrl;
    link.target = "_blank";
    link.rel = "noopener";
    text.appendChild(link);
    text.appendChild(document.createTextNode("."));
    note.appendChild(text);
    log.appendChild(note);
    scrollDown();
  }

  function onMessage(event) {
    if (!popup || event.source !== popup || event.origin !== window.location.origin) return;
    const data = event.data;
    if (!data || typeof data !== "object" || data.type !== SIGNED_IN_MESSAGE) return;
    if (typeof data.idToken !== "string" || !data.idToken) return;
    const claimed = claims(data.idToken);
    save(AUTH_KEY, JSON.stringify({
      idToken: data.idToken,
      email: typeof data.email === "string" ? data.email : (typeof claimed.email === "string" ? claimed.email : ""),
      exp: typeof data.expiresAt === "number" ? data.expiresAt : (typeof claimed.exp === "number" ? claimed.exp : null),
    }));
    aws = null;
    try { popup.close(); } catch (e) { /* it closes itself */ }
    popup = null;
    log.querySelectorAll(".msg.notice").forEach(function (old) { old.remove(); });
    showAccount();
    input.focus();
  }

  // In the popup, back from the hosted UI with the tokens: to the frame that opened it, then close.
  // The target origin is this page's own, so no other site's window can read the token.
  function handToOpener(auth) {
    let opener = null;
    try { opener = window.opener; } catch (e) { opener = null; }
    if (!opener || opener.closed) return false;
    try {
      opener.postMessage({ type: SIGNED_IN_MESSAGE, idToken: auth.idToken, email: auth.email, expiresAt: auth.exp },
        window.location.origin);
    } catch (e) {
      return false;
    }
    window.close();
    return true;
  }

  function hasOpener() {
    try { return Boolean(window.opener) && !window.opener.closed; } catch (e) { return false; }
  }

  function clearConversation() {
    forget(HISTORY_KEY);
    forget(SESSION_KEY);
    history = [];
  }

  function clearLog() {
    log.replaceChildren();
    if (firstHint) log.appendChild(firstHint);
  }

  function signOut() {
    forget(AUTH_KEY);
    forget(PKCE_KEY);
    clearConversation();  // the next person at this browser starts afresh
    aws = null;
    if (framed) {
      // The hosted UI's /logout cannot load in a frame either: a popup on this page goes there
      // (#signout-popup) and closes once back, so Cognito's session cookie is cleared too and the next
      // Sign in asks for the password again. If the pop-up is blocked, this frame is signed out all the
      // same, but the hosted UI's cookie stays until it expires.
      clearLog();
      openPopup("#signout-popup");
      showAccount(SIGNED_OUT);
      return;
    }
    goToLogout();
  }

  function goToLogout() {
    const query = new URLSearchParams({ client_id: config.userPoolClientId, logout_uri: config.logoutUri });
    window.location.assign(config.authDomain + "/logout?" + query.toString());
  }

  // Back from the hosted UI with ?code=...&state=... (or ?error=...): swap the code for tokens.
  async function completeSignIn() {
    const params = new URLSearchParams(window.location.search);
    const code = params.get("code");
    const error = params.get("error");
    if (!code && !error) return;
    const returned = params.get("state");
    ["code", "state", "error", "error_description"].forEach(function (name) { params.delete(name); });
    const rest = params.toString();
    window.history.replaceState(null, "", window.location.pathname + (rest ? "?" + rest : "") + window.location.hash);
    let pending = null;
    try { pending = JSON.parse(load(PKCE_KEY) || "null"); } catch (e) { pending = null; }
    forget(PKCE_KEY);
    if (error || !pending || typeof pending.state !== "string" || pending.state !== returned) {
      showAccount(SIGN_IN_FAILED);
      return;
    }
    try {
      const response = await fetch(config.authDomain + "/oauth2/token", {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({
          grant_type: "authorization_code",
          client_id: config.userPoolClientId,
          code: code,
          redirect_uri: config.redirectUri,
          code_verifier: pending.verifier,
        }).toString(),
        cache: "no-store",
        credentials: "omit",
      });
      const tokens = response.ok ? await response.json() : null;
      if (!tokens || typeof tokens.id_token !== "string" || !tokens.id_token) throw new Error("no ID token");
      const claimed = claims(tokens.id_token);
      const auth = {
        idToken: tokens.id_token,
        email: typeof claimed.email === "string" ? claimed.email : "",
        exp: typeof claimed.exp === "number" ? claimed.exp : null,
      };
      if (pending.popup && handToOpener(auth)) return;  // a frame's sign-in: this popup is done
      save(AUTH_KEY, JSON.stringify(auth));
      aws = null;
      showAccount();
    } catch (e) {
      showAccount(SIGN_IN_FAILED);
    }
  }

  // The header's sign-in state: a labelled status, announced when it changes.
  function showAccount(note) {
    const auth = currentAuth();
    account.hidden = false;
    signInButton.hidden = Boolean(auth);
    signOutButton.hidden = !auth;
    if (note) who.textContent = note;
    else if (auth) who.textContent = "Signed in as " + (auth.email || "a customer");
    else who.textContent = "Not signed in";
  }

  function askToSignIn(message) {
    log.querySelectorAll(".msg.notice").forEach(function (old) { old.remove(); });
    const note = element("div", "msg notice");
    note.appendChild(element("p", "", message));
    const button = element("button", "", "Sign in");
    button.type = "button";
    button.addEventListener("click", signIn);
    note.appendChild(button);
    log.appendChild(note);
    scrollDown();
  }

  // ---- AWS credentials (lex mode): Cognito identity pool, enhanced (simplified) flow -----------
  let aws = null;  // {idToken, identityId, credentials}: memory only

  async function cognitoIdentity(target, payload) {
    const response = await fetch(config.cognitoIdentityEndpoint, {
      method: "POST",
      headers: {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "AWSCognitoIdentityService." + target,
      },
      body: JSON.stringify(payload),
      cache: "no-store",
      credentials: "omit",
    });
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    if (!response.ok) {
      const kind = data && typeof data.__type === "string" ? data.__type.split("#").pop() : "HTTP " + response.status;
      const failure = new Error(target + " failed: " + kind);
      failure.notAuthorized = kind === "NotAuthorizedException";
      throw failure;
    }
    return data || {};
  }

  async function awsCredentials(idToken) {
    const now = Date.now() / 1000;
    if (aws && aws.idToken === idToken && aws.credentials && aws.credentials.expiration - EARLY_S > now) {
      return aws.credentials;
    }
    const logins = {};
    logins["cognito-idp." + config.region + ".amazonaws.com/" + config.userPoolId] = idToken;
    let identityId = aws && aws.idToken === idToken ? aws.identityId : null;
    if (!identityId) {
      const found = await cognitoIdentity("GetId", { IdentityPoolId: config.identityPoolId, Logins: logins });
      identityId = found.IdentityId;
      if (typeof identityId !== "string" || !identityId) throw new Error("GetId: no IdentityId");
    }
    const issued = await cognitoIdentity("GetCredentialsForIdentity", { IdentityId: identityId, Logins: logins });
    const c = issued.Credentials || {};
    if (!c.AccessKeyId || !c.SecretKey || !c.SessionToken) throw new Error("GetCredentialsForIdentity: no credentials");
    const expiration = typeof c.Expiration === "number" ? c.Expiration : Date.parse(c.Expiration) / 1000;
    aws = {
      idToken: idToken,
      identityId: identityId,
      credentials: {
        accessKeyId: c.AccessKeyId,
        secretAccessKey: c.SecretKey,
        sessionToken: c.SessionToken,
        expiration: isFinite(expiration) ? expiration : now + 900,
      },
    };
    return aws.credentials;
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

  async function localTurn(text, signal) {
    const response = await fetch(API, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify({ sessionId: sessionId(), text: text }),
      signal: signal,
      cache: "no-store",
    });
    return response.ok ? response.json() : null;
  }

  // Lex V2 RecognizeText, signed with the identity pool's credentials.
  async function lexTurn(text, signal) {
    const auth = currentAuth();
    let credentials;
    try {
      credentials = await awsCredentials(auth.idToken);
    } catch (e) {
      if (e && e.notAuthorized) {  // the pool no longer takes this token (expired, revoked)
        forget(AUTH_KEY);
        aws = null;
        return { signIn: EXPIRED };
      }
      throw e;
    }
    const url = config.lexEndpoint + "/bots/" + encodeURIComponent(config.botId) +
      "/botAliases/" + encodeURIComponent(config.botAliasId) +
      "/botLocales/" + encodeURIComponent(config.localeId) +
      "/sessions/" + encodeURIComponent(sessionId()) + "/text";
    const payload = { text: text };
    if (auth && auth.idToken) payload.requestAttributes = { idToken: auth.idToken };
    const body = JSON.stringify(payload);
    const headers = await window.SigV4.sign(
      { method: "POST", url: url, headers: { "content-type": "application/json" }, body: body },
      credentials, config.region, "lex", new Date());
    delete headers.host;  // the browser sends its own
    const response = await fetch(url, {
      method: "POST", headers: headers, body: body, signal: signal, cache: "no-store", credentials: "omit",
    });
    if (response.status === 403) aws = null;  // new credentials next time (expired, clock skew)
    if (!response.ok) return null;
    const answer = await response.json();
    if (!answer || typeof answer !== "object") return null;
    return { messages: Array.isArray(answer.messages) ? answer.messages : [] };
  }

  async function send(text, options) {
    const fromButton = Boolean(options && options.fromButton);
    if (busy) return;
    text = text.trim();
    if (!text) {
      input.focus();
      return;
    }
    await ready;
    if (busy) return;
    if (config.mode === "lex") {
      const auth = currentAuth();
      if (!auth || expired(auth)) {  // the identity pool serves signed-in customers only: nothing is sent
        if (auth) forget(AUTH_KEY);
        showAccount();
        askToSignIn(auth ? EXPIRED : SIGN_IN_FIRST);
        input.focus();
        return;
      }
    }
    setBusy(true);
    const bubble = addUser(text);
    const entry = { kind: "user", text: text };
    const controller = new AbortController();
    const timer = window.setTimeout(function () { controller.abort(); }, TIMEOUT_MS);
    let answer = null;
    try {
      answer = config.mode === "lex" && config.complete ? await lexTurn(text, controller.signal)
        : config.mode === "lex" ? null : await localTurn(text, controller.signal);
    } catch (e) {
      answer = null;
    } finally {
      window.clearTimeout(timer);
    }
    setBusy(false);
    if (answer && answer.signIn) {
      bubble.classList.add("failed");
      entry.failed = true;
      remember(entry);
      showAccount();
      askToSignIn(answer.signIn);
      input.focus();
      return;
    }
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

  // ---- start --------------------------------------------------------------------------------
  let config = { mode: "local" };
  const ready = loadConfig().then(async function (loaded) {
    config = loaded;
    if (config.mode !== "lex") return;
    toggle.hidden = true;  // Lex's answers carry no turn record
    app.classList.add("lex");
    signInButton.addEventListener("click", signIn);
    signOutButton.addEventListener("click", signOut);
    if (framed) window.addEventListener("message", onMessage);
    showAccount();
    // A popup opened by this page in a frame: start the hosted UI's sign-in or sign-out here, top-level.
    const hash = window.location.hash;
    if (!framed && (hash === "#signin-popup" || hash === "#signout-popup")) {
      window.history.replaceState(null, "", window.location.pathname + window.location.search);
      if (hash === "#signin-popup") {
        who.textContent = "Signing in\u2026";
        await startSignIn(true);
      } else {
        forget(AUTH_KEY);
        forget(PKCE_KEY);
        save(POPUP_KEY, "signout");
        goToLogout();
      }
      return;
    }
    if (load(POPUP_KEY) === "signout") {  // back from /logout in a sign-out popup
      forget(POPUP_KEY);
      if (hasOpener()) {
        window.close();
        return;
      }
    }
    await completeSignIn();
  });

  sessionId();
  showDetails(load(DETAILS_KEY) === "1");
  replay();
  input.focus();
})();
