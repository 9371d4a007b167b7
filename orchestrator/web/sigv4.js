// AWS Signature Version 4 for the browser, with Web Crypto only (crypto.subtle: SHA-256, HMAC).
// Used by chat.js to sign Lex V2 RecognizeText calls in the deployed ("lex") mode; on its own so it
// can be tested alone against AWS's test suite and botocore (tests/test_web_lex.py).
//
//   SigV4.sign({method, url, headers, body}, {accessKeyId, secretAccessKey, sessionToken},
//              region, service, date)  -> Promise of the headers to send (lower-case names):
//   the request's own headers plus host, x-amz-date, x-amz-security-token (with a session token)
//   and authorization. A browser sets Host itself: leave "host" out when passing them to fetch.
//
// Canonical URI as botocore and the AWS SDKs do it for every service but S3: dot segments and
// empty segments removed, then each segment URI-encoded (RFC 3986 unreserved characters kept), so
// a segment already percent-encoded in the URL is encoded again ("%3A" -> "%253A"), as AWS expects.
"use strict";

(function (global) {
  const ALGORITHM = "AWS4-HMAC-SHA256";
  // Never signed (botocore's list): hop-by-hop headers and those a browser or proxy may change.
  const UNSIGNED = ["authorization", "baggage", "connection", "expect", "keep-alive", "proxy-authenticate",
    "proxy-authorization", "te", "traceparent", "tracestate", "trailer", "transfer-encoding", "upgrade",
    "user-agent", "x-amzn-trace-id"];
  const encoder = new TextEncoder();

  function bytes(data) {
    if (data === undefined || data === null) return new Uint8Array(0);
    if (typeof data === "string") return encoder.encode(data);
    if (data instanceof ArrayBuffer) return new Uint8Array(data);
    if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    throw new TypeError("SigV4: the body must be a string, an ArrayBuffer or a typed array");
  }

  function hex(buffer) {
    return Array.from(new Uint8Array(buffer), function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }

  async function sha256Hex(data) {
    return hex(await global.crypto.subtle.digest("SHA-256", bytes(data)));
  }

  async function hmac(key, data) {
    const cryptoKey = await global.crypto.subtle.importKey(
      "raw", bytes(key), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    return global.crypto.subtle.sign("HMAC", cryptoKey, bytes(data));
  }

  // RFC 3986 percent-encoding: everything but A-Z a-z 0-9 - _ . ~
  function uriEncode(text) {
    return encodeURIComponent(text).replace(/[!'()*]/g, function (c) {
      return "%" + c.charCodeAt(0).toString(16).toUpperCase();
    });
  }

  function canonicalUri(pathname) {
    const kept = [];
    String(pathname || "").split("/").forEach(function (segment) {
      if (!segment || segment === ".") return;
      if (segment === "..") { kept.pop(); return; }
      kept.push(segment);
    });
    if (!kept.length) return "/";
    const trailing = pathname.endsWith("/") ? "/" : "";
    return "/" + kept.map(uriEncode).join("/") + trailing;
  }

  function decode(text) {
    try { return decodeURIComponent(text); } catch (e) { return text; }
  }

  function canonicalQuery(search) {
    const query = String(search || "").replace(/^\?/, "");
    if (!query) return "";
    const pairs = query.split("&").filter(Boolean).map(function (pair) {
      const at = pair.indexOf("=");
      const name = at < 0 ? pair : pair.slice(0, at);
      const value = at < 0 ? "" : pair.slice(at + 1);
      return [uriEncode(decode(name)), uriEncode(decode(value))];
    });
    pairs.sort(function (a, b) {
      if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
      return a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0;
    });
    return pairs.map(function (pair) { return pair[0] + "=" + pair[1]; }).join("&");
  }

  // "20150830T123600Z" from a Date (or that string itself).
  function amzDate(date) {
    if (typeof date === "string" && /^\d{8}T\d{6}Z$/.test(date)) return date;
    const when = date instanceof Date ? date : new Date(date === undefined ? Date.now() : date);
    if (isNaN(when.getTime())) throw new TypeError("SigV4: not a date");
    return when.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
  }

  async function signingKey(secret, day, region, service) {
    const kDate = await hmac("AWS4" + secret, day);
    const kRegion = await hmac(kDate, region);
    const kService = await hmac(kRegion, service);
    return hmac(kService, "aws4_request");
  }

  async function sign(request, credentials, region, service, date) {
    if (!request || !request.url) throw new TypeError("SigV4: a request with a url is required");
    if (!credentials || !credentials.accessKeyId || !credentials.secretAccessKey) {
      throw new TypeError("SigV4: credentials with accessKeyId and secretAccessKey are required");
    }
    const url = new URL(request.url);
    const stamp = amzDate(date);
    const day = stamp.slice(0, 8);
    const headers = {};
    Object.keys(request.headers || {}).forEach(function (name) {
      const lower = name.toLowerCase();
      const value = String(request.headers[name]);
      headers[lower] = lower in headers ? headers[lower] + "," + value : value;
    });
    delete headers.authorization;
    if (!headers.host) headers.host = url.host;
    headers["x-amz-date"] = stamp;
    if (credentials.sessionToken) headers["x-amz-security-token"] = credentials.sessionToken;
    else delete headers["x-amz-security-token"];

    const names = Object.keys(headers).filter(function (name) { return UNSIGNED.indexOf(name) < 0; }).sort();
    const canonicalHeaders = names.map(function (name) {
      return name + ":" + headers[name].trim().replace(/\s+/g, " ") + "\n";
    }).join("");
    const signedHeaders = names.join(";");
    const payloadHash = headers["x-amz-content-sha256"] || await sha256Hex(request.body);
    const canonicalRequest = [
      String(request.method || "GET").toUpperCase(),
      canonicalUri(url.pathname),
      canonicalQuery(url.search),
      canonicalHeaders,
      signedHeaders,
      payloadHash,
    ].join("\n");
    const scope = [day, region, service, "aws4_request"].join("/");
    const stringToSign = [ALGORITHM, stamp, scope, await sha256Hex(canonicalRequest)].join("\n");
    const key = await signingKey(credentials.secretAccessKey, day, region, service);
    const signature = hex(await hmac(key, stringToSign));
    headers.authorization = ALGORITHM + " Credential=" + credentials.accessKeyId + "/" + scope +
      ", SignedHeaders=" + signedHeaders + ", Signature=" + signature;
    return headers;
  }

  global.SigV4 = Object.freeze({
    sign: sign,
    canonicalUri: canonicalUri,
    canonicalQuery: canonicalQuery,
    amzDate: amzDate,
    sha256Hex: sha256Hex,
    uriEncode: uriEncode,
  });
})(window);
