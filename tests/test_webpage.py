"""webpage.deploy, the custom resource that puts the chat page in its bucket: against moto's S3, with a
stub CloudFormation (an HTTP server on 127.0.0.1 as the ResponseURL), and the package the Makefile builds."""
import json
import re
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from tests.cfn import load_template
from webpage import deploy

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "orchestrator" / "web"
T = load_template()
BUCKET = "stack-webpagebucket-1"
PROPERTIES = {
    "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:stack-WebPageDeployFunction-1",
    "PackageVersion": "arn:aws:lambda:us-east-1:123456789012:function:stack-WebPageDeployFunction-1:3",
    "Bucket": BUCKET,
    "region": "us-east-1",
    "botId": "BOTID12345",
    "botAliasId": "ALIAS12345",
    "localeId": "en_US",
    "identityPoolId": "us-east-1:11111111-2222-3333-4444-555555555555",
    "userPoolId": "us-east-1_AbC123xyz",
    "userPoolClientId": "1h2k3j4l5m6n7o8p9q0r1s2t3u",
    "authDomain": "https://shop-support.auth.us-east-1.amazoncognito.com",
    "redirectUri": "https://d111111abcdef8.cloudfront.net/",
}
# What the page is: orchestrator/web/'s files (the local page), whatever else chat.js grows to load.
PAGE = {p.name for p in WEB.iterdir() if p.is_file() and p.suffix in (".html", ".css", ".js")}
CONFIG = {"mode": "lex", **{k: v for k, v in PROPERTIES.items() if k not in ("ServiceToken", "PackageVersion", "Bucket")}}


class _CloudFormation(BaseHTTPRequestHandler):
    def do_PUT(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.answers.append(json.loads(body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):  # quiet
        pass


@pytest.fixture
def cloudformation():
    """A stub ResponseURL on 127.0.0.1; .answers holds what was PUT. Stopped after the test."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _CloudFormation)
    server.answers = []
    server.url = f"http://127.0.0.1:{server.server_address[1]}/response?signature=x"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        assert not thread.is_alive()


@pytest.fixture
def s3():
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def event(kind, url, properties=PROPERTIES, **extra):
    return {"RequestType": kind, "ResponseURL": url, "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1",
            "RequestId": f"req-{kind}", "LogicalResourceId": "WebPageFiles", "ResourceType": "Custom::WebPageFiles",
            "ResourceProperties": dict(properties), **extra}


def objects(s3, bucket=BUCKET):
    return {o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}


def test_create_uploads_the_page_with_its_content_types_and_the_given_config(s3, cloudformation):
    deploy.lambda_handler(event("Create", cloudformation.url), client=s3, web_dir=WEB)
    [answer] = cloudformation.answers
    assert answer["Status"] == "SUCCESS" and answer["PhysicalResourceId"] == f"web-page-files-{BUCKET}"
    assert (answer["StackId"], answer["RequestId"], answer["LogicalResourceId"]) == (
        "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1", "req-Create", "WebPageFiles")
    assert objects(s3) == PAGE | {"config.json"}
    types = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
             ".js": "text/javascript; charset=utf-8", ".json": "application/json; charset=utf-8"}
    for key in PAGE | {"config.json"}:
        got = s3.get_object(Bucket=BUCKET, Key=key)
        # Everything revalidates: a redeploy never mixes a new index.html with an old chat.js.
        assert (got["ContentType"], got["CacheControl"]) == (types[Path(key).suffix], "no-cache"), key
        if key != "config.json":
            assert got["Body"].read() == (WEB / key).read_bytes(), key
    config = json.loads(s3.get_object(Bucket=BUCKET, Key="config.json")["Body"].read())
    assert config == CONFIG  # exactly the given values, and "mode": "lex"


def test_update_rewrites_the_config_and_keeps_the_physical_id(s3, cloudformation):
    deploy.lambda_handler(event("Create", cloudformation.url), client=s3, web_dir=WEB)
    changed = {**PROPERTIES, "botAliasId": "NEWALIAS01"}
    deploy.lambda_handler(event("Update", cloudformation.url, changed, PhysicalResourceId=f"web-page-files-{BUCKET}",
                                OldResourceProperties=PROPERTIES), client=s3, web_dir=WEB)
    assert [a["Status"] for a in cloudformation.answers] == ["SUCCESS", "SUCCESS"]
    assert cloudformation.answers[1]["PhysicalResourceId"] == f"web-page-files-{BUCKET}"
    assert json.loads(s3.get_object(Bucket=BUCKET, Key="config.json")["Body"].read())["botAliasId"] == "NEWALIAS01"


def test_delete_empties_the_bucket_past_one_listing_page(s3, cloudformation):
    deploy.lambda_handler(event("Create", cloudformation.url), client=s3, web_dir=WEB)
    for i in range(1003):  # more than one ListObjectsV2 page and one DeleteObjects batch
        s3.put_object(Bucket=BUCKET, Key=f"extra/{i}", Body=b"x")
    deploy.lambda_handler(event("Delete", cloudformation.url, PhysicalResourceId="kept-id"), client=s3, web_dir=WEB)
    answer = cloudformation.answers[-1]
    assert answer["Status"] == "SUCCESS" and answer["PhysicalResourceId"] == "kept-id"
    assert objects(s3) == set()
    s3.delete_bucket(Bucket=BUCKET)  # what CloudFormation does next: it succeeds only on an empty bucket


def test_delete_of_a_bucket_already_gone_succeeds(s3, cloudformation):
    s3.delete_bucket(Bucket=BUCKET)
    deploy.lambda_handler(event("Delete", cloudformation.url, PhysicalResourceId="kept-id"), client=s3, web_dir=WEB)
    [answer] = cloudformation.answers
    assert answer["Status"] == "SUCCESS"


def test_a_missing_bucket_answers_failed_with_a_reason_and_no_traceback(s3, cloudformation, caplog):
    missing = {**PROPERTIES, "Bucket": "no-such-bucket-here"}
    deploy.lambda_handler(event("Create", cloudformation.url, missing), client=s3, web_dir=WEB)
    [answer] = cloudformation.answers
    assert answer["Status"] == "FAILED"
    assert "NoSuchBucket" in answer["Reason"] and answer["Reason"].startswith("Create failed: ")
    assert "Traceback" not in answer["Reason"] and "\n" not in answer["Reason"] and len(answer["Reason"]) <= 500
    assert "Traceback" not in caplog.text


@pytest.mark.parametrize("change,reason", [
    ({"userPoolId": ""}, "userPoolId is missing or empty"),
    ({"redirectUri": "http://d111111abcdef8.cloudfront.net/"}, "redirectUri must be an https:// URL"),
    ({"Bucket": None}, "Bucket is missing or empty"),
])
def test_bad_properties_answer_failed_and_upload_nothing(s3, cloudformation, change, reason):
    deploy.lambda_handler(event("Create", cloudformation.url, {**PROPERTIES, **change}), client=s3, web_dir=WEB)
    [answer] = cloudformation.answers
    assert answer["Status"] == "FAILED" and reason in answer["Reason"]
    assert objects(s3) == set()


def test_a_package_without_the_page_answers_failed_and_uploads_nothing(s3, cloudformation, tmp_path):
    (tmp_path / "index.html").write_text("<!doctype html>")
    deploy.lambda_handler(event("Create", cloudformation.url), client=s3, web_dir=tmp_path)
    [answer] = cloudformation.answers
    assert answer["Status"] == "FAILED" and answer["Reason"] == "the package has no web/chat.css"
    assert objects(s3) == set()


def test_a_hanging_upload_still_answers_failed_before_the_deadline(cloudformation):
    class Hangs:  # the first PUT takes longer than the time left
        slept = False

        def put_object(self, **kwargs):
            if not Hangs.slept:
                Hangs.slept = True
                time.sleep(1.5)

    class Context:
        deadline = time.monotonic() + deploy.DEADLINE_MARGIN_S + 0.3

        def get_remaining_time_in_millis(self):
            return int((self.deadline - time.monotonic()) * 1000)

    started = time.monotonic()
    deploy.lambda_handler(event("Create", cloudformation.url), Context(), client=Hangs(), web_dir=WEB)
    [answer] = cloudformation.answers  # the late SUCCESS is dropped: one answer only
    assert answer["Status"] == "FAILED" and "timed out" in answer["Reason"]
    assert time.monotonic() - started < 10


def test_an_unreachable_response_url_does_not_raise(s3):
    deploy.lambda_handler(event("Create", "http://127.0.0.1:9/unreachable"), client=s3, web_dir=WEB)  # discard port
    assert objects(s3) == PAGE | {"config.json"}


def test_the_custom_resource_passes_exactly_the_config_keys():
    props = T["Resources"]["WebPageFiles"]["Properties"]
    assert set(props) == {"ServiceToken", "PackageVersion", "Bucket", *deploy.CONFIG_KEYS}
    assert set(CONFIG) == {"mode", *deploy.CONFIG_KEYS}
    [locale] = T["Resources"]["SupportBot"]["Properties"]["BotLocales"]
    assert props["localeId"] == locale["LocaleId"]
    # A new package (new page files) is a new function version: the properties change, so CloudFormation
    # sends Update and the files are uploaded again.
    assert props["PackageVersion"] == {"Ref": "WebPageDeployFunction.Version"}
    assert T["Resources"]["WebPageDeployFunction"]["Properties"]["AutoPublishAlias"]


def test_the_deployed_files_are_the_local_pages_files():
    assert {"index.html", "chat.css", "chat.js"} <= PAGE
    assert set(deploy.page_files(WEB)) == PAGE == {p.name for p in WEB.iterdir() if p.is_file()}  # nothing left out
    assert set(deploy.REQUIRED_FILES) == {"index.html", "chat.css", "chat.js", "sigv4.js"}


def test_the_page_needs_no_inline_script_or_style():
    # The distribution's CSP (default-src 'self') blocks inline script, inline style and event attributes.
    html = (WEB / "index.html").read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html, re.I)
    assert not re.search(r"<style\b|\sstyle=|\son[a-z]+=", html, re.I)


def test_the_build_target_packages_the_function_and_the_page(tmp_path):
    out = tmp_path / "WebPageDeployFunction"
    subprocess.run(["make", "-s", "build-WebPageDeployFunction", f"ARTIFACTS_DIR={out}"], cwd=ROOT, check=True)
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert files == sorted([f"web/{name}" for name in PAGE] + ["webpage/__init__.py", "webpage/deploy.py"])
    for name in PAGE:
        assert (out / "web" / name).read_bytes() == (WEB / name).read_bytes()
    # -S: only the artifact is importable; the module finds the page in the package's web/ folder.
    done = subprocess.run([sys.executable, "-S", "-c", "import webpage.deploy as d; print(d.WEB_DIR, d.__file__)"],
                          cwd=out, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(out / "web"), str(out / "webpage" / "deploy.py")]
