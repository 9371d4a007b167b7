"""CloudFormation custom resource: put the chat page and its config.json in the page bucket.

Create and Update upload the page files (index.html, chat.css, chat.js and the page's other .html, .css
and .js files: the Makefile copies them from orchestrator/web/ into the package's web/ folder) and
config.json, which tells chat.js to sign the customer in with the stack's Cognito pools and call the
bot's live alias ({"mode": "lex", ...}, the values from the resource's properties). Delete empties the
bucket, so CloudFormation can delete it.

The answer goes to CloudFormation's pre-signed ResponseURL, as the custom resource protocol requires,
on every path (the approach of tools/seed.py, kept self-contained here: stdlib and boto3 only): an
exception answers FAILED with a one-line reason (no traceback), and so does a timer that fires
DEADLINE_MARGIN_S before the function would time out. Exactly one answer is ever sent. Nothing here
touches customer data; the logs name files, counts and error types only.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import urllib.request
from pathlib import Path
from typing import Any, Callable, Mapping

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)

# Seconds before the Lambda timeout at which an unfinished run answers FAILED: enough for one PUT.
DEADLINE_MARGIN_S = 2.0

# Where the build puts the page files: the package root's web/ (WEB_DIR overrides it, for tests).
WEB_DIR = Path(__file__).resolve().parent.parent / "web"

# What is uploaded from the package's web/ folder: files of these types (Content-Type by suffix), which must
# include REQUIRED_FILES. Everything is revalidated on every load (no-cache: the browser and CloudFront ask
# S3 whether it changed), so a redeploy never serves a new index.html with an old chat.js; the files are small.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
}
REQUIRED_FILES = ("index.html", "chat.css", "chat.js", "sigv4.js")
CACHE_CONTROL = "no-cache"
CONFIG_FILE = "config.json"
CONFIG_CONTENT_TYPE = "application/json; charset=utf-8"
# config.json's keys besides "mode", each taken from the resource property of the same name.
CONFIG_KEYS = ("region", "botId", "botAliasId", "localeId", "identityPoolId", "userPoolId", "userPoolClientId",
               "authDomain", "redirectUri")
HTTPS_KEYS = ("authDomain", "redirectUri")


class DeployError(Exception):
    """A request this function refuses (missing properties, missing page files): its text is the reason."""


def page_config(properties: Mapping[str, Any]) -> dict[str, str]:
    """config.json for these resource properties: {"mode": "lex"} and CONFIG_KEYS, each a non-empty string."""
    config = {"mode": "lex"}
    for key in CONFIG_KEYS:
        value = properties.get(key)
        if not isinstance(value, str) or not value.strip():
            raise DeployError(f"the resource property {key} is missing or empty")
        if key in HTTPS_KEYS and not value.startswith("https://"):
            raise DeployError(f"the resource property {key} must be an https:// URL")
        config[key] = value
    return config


def _bucket(properties: Mapping[str, Any]) -> str:
    bucket = properties.get("Bucket")
    if not isinstance(bucket, str) or not bucket:
        raise DeployError("the resource property Bucket is missing or empty")
    return bucket


def _s3(client: Any) -> Any:
    if client is None:
        import boto3

        client = boto3.client("s3")
    return client


def page_files(web_dir: Path | None = None) -> dict[str, Path]:
    """The files to upload: web_dir's files of a CONTENT_TYPES type, by name (REQUIRED_FILES among them)."""
    web_dir = Path(web_dir or os.environ.get("WEB_DIR") or WEB_DIR)
    files = {p.name: p for p in sorted(web_dir.iterdir()) if p.is_file() and p.suffix in CONTENT_TYPES} \
        if web_dir.is_dir() else {}
    for name in REQUIRED_FILES:
        if name not in files:
            raise DeployError(f"the package has no web/{name}")
    return files


def upload_page(bucket: str, config: Mapping[str, str], web_dir: Path | None = None, client: Any = None) -> list[str]:
    """Uploads the page files and config.json to the bucket; returns the keys written."""
    files = page_files(web_dir)
    uploads = [(name, path.read_bytes(), CONTENT_TYPES[path.suffix]) for name, path in files.items()]
    uploads.append((CONFIG_FILE, json.dumps(dict(config), indent=2).encode(), CONFIG_CONTENT_TYPE))
    s3 = _s3(client)
    for name, body, content_type in uploads:
        s3.put_object(Bucket=bucket, Key=name, Body=body, ContentType=content_type, CacheControl=CACHE_CONTROL)
    return [name for name, _, _ in uploads]


def empty_bucket(bucket: str, client: Any = None) -> int:
    """Deletes every object in the bucket (unversioned); returns how many. A bucket already gone counts as empty."""
    from botocore.exceptions import ClientError

    s3 = _s3(client)
    deleted = 0
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:  # at most 1000 per page, as DeleteObjects takes
                answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
                if answer.get("Errors"):
                    raise DeployError(f"{len(answer['Errors'])} objects could not be deleted "
                                      f"({answer['Errors'][0].get('Code', 'unknown error')})")
                deleted += len(keys)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NoSuchBucket":
            raise
    return deleted


def send(event: Mapping[str, Any], status: str, reason: str, data: Mapping[str, Any] | None = None,
         opener: Callable[..., Any] = urllib.request.urlopen, timeout: float = 10.0) -> None:
    body = json.dumps({
        "Status": status,
        "Reason": reason[:500],
        "PhysicalResourceId": physical_id(event, status),
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "Data": dict(data or {}),
    }).encode()
    request = urllib.request.Request(event["ResponseURL"], data=body, method="PUT",
                                     headers={"Content-Type": "", "Content-Length": str(len(body))})
    response = opener(request, timeout=timeout)
    if hasattr(response, "close"):
        response.close()


def physical_id(event: Mapping[str, Any], status: str) -> str:
    """One id per bucket: a new bucket gives a new id, and CloudFormation then sends Delete for the old one.
    Delete, and a failed Update, keep the id CloudFormation has."""
    existing = event.get("PhysicalResourceId")
    if existing and (event.get("RequestType") == "Delete" or status == "FAILED"):
        return existing
    bucket = (event.get("ResourceProperties") or {}).get("Bucket")
    return f"web-page-files-{bucket}" if isinstance(bucket, str) and bucket else "web-page-files"


class _Answer:
    """Answers CloudFormation at most once: the first caller sends, later ones are dropped."""

    def __init__(self, event: Mapping[str, Any], opener: Callable[..., Any], context: Any = None) -> None:
        self._event, self._opener = event, opener
        self._remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
        self._lock = threading.Lock()
        self.status: str | None = None  # what was delivered, once something was

    def __call__(self, status: str, reason: str, data: Mapping[str, Any] | None = None,
                 timeout: float = 10.0) -> bool:
        with self._lock:  # held while sending, so a racing caller waits and sees the outcome
            if self.status is not None:
                logger.warning("not answering %s: CloudFormation already got %s", status, self.status)
                return False
            if self._remaining_ms is not None and status == "SUCCESS":
                # A hanging PUT must give up before the deadline timer needs the lock for FAILED.
                timeout = max(0.5, min(timeout, self._remaining_ms() / 1000 - DEADLINE_MARGIN_S - 0.5))
            try:
                send(self._event, status, reason, data, self._opener, timeout)
            except Exception as exc:  # noqa: BLE001 - not delivered: the deadline timer may still answer FAILED
                logger.error("could not answer CloudFormation %s: %s", status, type(exc).__name__)
                return False
            self.status = status  # only once delivered
            return True


def _deadline_timer(context: Any, answer: _Answer) -> threading.Timer | None:
    """A timer answering FAILED DEADLINE_MARGIN_S before the function times out (None without a context)."""
    remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
    if remaining_ms is None:
        return None
    delay = max(0.0, remaining_ms() / 1000 - DEADLINE_MARGIN_S)
    timer = threading.Timer(delay, answer, args=("FAILED", "the page was not deployed before the function timed out"),
                            kwargs={"timeout": DEADLINE_MARGIN_S / 2})
    timer.name, timer.daemon = "web-page-deadline", True
    timer.start()
    return timer


def _reason(exc: Exception) -> str:
    """One line for CloudFormation's events: the error type and message, never a traceback."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def lambda_handler(event: Mapping[str, Any], context: Any = None, *, client: Any = None, web_dir: Path | None = None,
                   opener: Callable[..., Any] = urllib.request.urlopen) -> None:
    answer = _Answer(event, opener, context)
    timer = _deadline_timer(context, answer)
    request = event.get("RequestType")
    try:
        properties = event.get("ResourceProperties") or {}
        if request in ("Create", "Update"):
            bucket = _bucket(properties)
            written = upload_page(bucket, page_config(properties), web_dir, client)
            logger.info("uploaded the chat page: %s", ", ".join(written))
            answer("SUCCESS", f"uploaded {len(written)} files", {"Files": len(written)})
        elif request == "Delete":
            bucket = properties.get("Bucket")
            deleted = empty_bucket(bucket, client) if isinstance(bucket, str) and bucket else 0
            logger.info("emptied the chat page bucket: %d objects", deleted)
            answer("SUCCESS", f"deleted {deleted} objects")
        else:
            raise DeployError(f"unknown RequestType {request!r}")
    except Exception as exc:  # noqa: BLE001 - CloudFormation must always get an answer
        reason = " ".join(str(exc).split()) if isinstance(exc, DeployError) else f"{request} failed: {_reason(exc)}"
        logger.error("chat page %s failed: %s", request, type(exc).__name__)
        answer("FAILED", reason)
    finally:
        if timer is not None:  # answered (or about to be): no late FAILED, and no thread left behind
            timer.cancel()
            timer.join()
        if answer.status is None:  # nothing was delivered (the SUCCESS PUT failed): try FAILED once more
            answer("FAILED", "the result could not be delivered", timeout=DEADLINE_MARGIN_S / 2)
