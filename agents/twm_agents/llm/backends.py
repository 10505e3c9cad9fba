"""Language-model backends of the LLM layer, chosen by config or environment; heavy imports are lazy.

| backend | what it runs | needs |
|---|---|---|
| ``embedded`` (default) | the rule-based compiler (``twm_agents/llm/embedded.py``): no model, deterministic | nothing |
| ``openai`` | any OpenAI-compatible chat server (``vllm serve``, llama.cpp's server, ...) | a running server |
| ``vllm`` | vLLM's offline engine, default model Qwen2.5-7B-Instruct | the ``llm`` extra and a GPU |

A model backend is a callable ``(prompt, schema) -> str`` whose output is *untrusted*: every
caller goes through ``agents/twm_agents/llm/parse.py`` (validate, retry within a bound, fall back to the
embedded compiler). Both model backends ask for output constrained to the JSON schema:

* ``openai`` sends ``response_format`` — OpenAI's ``{"type": "json_schema", "json_schema":
  {"schema": ...}}`` (OpenAI, vLLM's server, llama.cpp's ``llama-server``) or llama.cpp's
  ``{"type": "json_object", "schema": ...}`` (``llama-server`` and llama-cpp-python's server, which
  refuses the former). ``schema_mode="auto"`` (the default) sends the first; when the server
  refuses that request (an HTTP 4xx or 5xx answer) it sends the second, and keeps to the form that
  was answered for the rest of the backend's life (``OpenAIBackend.mode``). Plain HTTP from the
  standard library: no client package.
* ``vllm`` uses ``SamplingParams(structured_outputs=StructuredOutputsParams(json=schema))``
  (vLLM >= 0.12; older versions' ``guided_decoding=GuidedDecodingParams(json=...)`` is used when
  that is what is installed).

Environment: ``TWM_LLM_BACKEND`` (embedded | openai | vllm), ``TWM_LLM_MODEL``,
``TWM_LLM_BASE_URL`` (default ``http://127.0.0.1:8000/v1``), ``TWM_LLM_API_KEY`` (or
``OPENAI_API_KEY``), ``TWM_LLM_SCHEMA_MODE`` (auto | json_schema | json_object).
"""

from __future__ import annotations

import json
import os
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, fields
from typing import Any

from twm_agents.llm.embedded import compile_intent
from twm_agents.llm.parse import Backend, Traced, compile_with_backend
from twm_agents.llm.safety import spec_issues
from twm_gym.core.params import Scenario

BACKENDS: tuple[str, ...] = ("embedded", "openai", "vllm")
SCHEMA_MODES: tuple[str, ...] = ("auto", "json_schema", "json_object")
DEFAULT_VLLM_MODEL = "Qwen/Qwen2.5-7B-Instruct"
SYSTEM_PROMPT = (
    "You translate a mobile network operator's intent for a 10-cell, 3-slice (eMBB, URLLC, FWA) "
    "network into a JSON object that follows the given schema exactly. Output JSON only."
)
_ENV = {
    "name": "TWM_LLM_BACKEND",
    "model": "TWM_LLM_MODEL",
    "base_url": "TWM_LLM_BASE_URL",
    "api_key": "TWM_LLM_API_KEY",
    "schema_mode": "TWM_LLM_SCHEMA_MODE",
}


class BackendError(RuntimeError):
    """A backend that cannot answer (server unreachable, HTTP error, malformed envelope)."""


@dataclass(frozen=True)
class BackendConfig:
    """Which backend and how to reach it (validated; errors name the field and the valid choices).

    Attributes:
        name: ``embedded``, ``openai`` or ``vllm``.
        model: model name ('' for the backend's default: the server's own for ``openai``,
            Qwen2.5-7B-Instruct for ``vllm``).
        base_url: the OpenAI-compatible server, up to ``/v1``.
        api_key: sent as a bearer token when set.
        schema_mode: how ``openai`` asks for schema-constrained output (see the module docstring).
        temperature / max_tokens / timeout_s: generation settings (timeout_s: the whole request, s).
        retries: rejected answers retried before falling back to the embedded compiler.
    """

    name: str = "embedded"
    model: str = ""
    base_url: str = "http://127.0.0.1:8000/v1"
    api_key: str = ""
    schema_mode: str = "auto"
    temperature: float = 0.0
    max_tokens: int = 768
    timeout_s: float = 120.0
    retries: int = 2

    def __post_init__(self) -> None:
        if self.name not in BACKENDS:
            raise ValueError(f"backend: {self.name!r} is not one of {list(BACKENDS)}")
        if self.schema_mode not in SCHEMA_MODES:
            raise ValueError(f"schema_mode: {self.schema_mode!r} is not one of {list(SCHEMA_MODES)}")
        if self.max_tokens < 1 or self.timeout_s <= 0 or self.retries < 0 or self.temperature < 0:
            raise ValueError("max_tokens >= 1, timeout_s > 0, retries >= 0 and temperature >= 0 are required")

    @classmethod
    def from_env(cls, **overrides: Any) -> BackendConfig:
        """Defaults, then the ``TWM_LLM_*`` environment, then ``overrides`` (explicit wins)."""
        values: dict[str, Any] = {}
        for key, var in _ENV.items():
            if os.environ.get(var):
                values[key] = os.environ[var]
        if "api_key" not in values and os.environ.get("OPENAI_API_KEY"):
            values["api_key"] = os.environ["OPENAI_API_KEY"]
        valid = {f.name for f in fields(cls)}
        unknown = sorted(set(overrides) - valid)
        if unknown:
            raise TypeError(f"unknown backend options {unknown}; valid: {sorted(valid)}")
        return cls(**{**values, **overrides})


class OpenAIBackend:
    """An OpenAI-compatible chat server, asked for schema-constrained JSON."""

    def __init__(self, config: BackendConfig) -> None:
        self.config = config
        self.mode = "json_schema" if config.schema_mode == "auto" else config.schema_mode
        """The ``response_format`` form sent: the configured one, or the one ``auto`` settled on."""
        self._settled = config.schema_mode != "auto"

    def request(self, prompt: str, schema: dict[str, Any], mode: str | None = None) -> dict[str, Any]:
        """The ``/chat/completions`` request body for ``prompt`` constrained to ``schema`` (in the
        ``response_format`` form ``mode``, by default :attr:`mode`)."""
        c = self.config
        if (mode or self.mode) == "json_schema":
            fmt: dict[str, Any] = {"type": "json_schema", "json_schema": {"name": "twm_output", "schema": schema}}
        else:
            fmt = {"type": "json_object", "schema": schema}
        body: dict[str, Any] = {
            "messages": [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": prompt}],
            "temperature": c.temperature,
            "max_tokens": c.max_tokens,
            "response_format": fmt,
        }
        if c.model:
            body["model"] = c.model
        return body

    def __call__(self, prompt: str, schema: dict[str, Any]) -> str:
        if self._settled:
            return self._send(self.request(prompt, schema))
        try:
            answer = self._send(self.request(prompt, schema, "json_schema"))
        except _Refused as first:
            try:
                answer = self._send(self.request(prompt, schema, "json_object"))
            except _Refused as second:
                raise BackendError(f"the server refused both response_format forms: {first}; then {second}") from None
            self.mode = "json_object"
        self._settled = True
        return answer

    def _send(self, body: dict[str, Any]) -> str:
        c = self.config
        data = json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if c.api_key:
            headers["Authorization"] = f"Bearer {c.api_key}"
        url = c.base_url.rstrip("/") + "/chat/completions"
        req = urllib.request.Request(url, data=data, headers=headers, method="POST")
        try:
            payload = json.loads(_post(req, url, c.timeout_s).decode())
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise BackendError(f"{url}: {exc}") from exc
        except (ValueError, RecursionError) as exc:  # not JSON, not UTF-8, or an integer past the digit limit
            raise BackendError(f"{url}: the response is not JSON ({exc})") from exc
        return chat_content(payload)


class _Refused(BackendError):
    """The server answered the request with an HTTP error status."""


MAX_RESPONSE_BYTES = 1 << 20
"""The largest chat-completions response read (1 MiB): an intent's spec is a few hundred bytes."""


def _post(req: urllib.request.Request, url: str, timeout_s: float) -> bytes:
    """The response body of ``req``: complete within ``timeout_s`` in all (not per read, so a server
    that trickles bytes cannot hold the caller) and at most :data:`MAX_RESPONSE_BYTES`. The request
    runs on a daemon thread; past the deadline it is abandoned and :class:`BackendError` raised."""
    done: dict[str, Any] = {}

    def run() -> None:
        try:
            with urllib.request.urlopen(req, timeout=timeout_s) as resp:
                done["body"] = resp.read(MAX_RESPONSE_BYTES + 1)
        except urllib.error.HTTPError as exc:  # the server answered, with an error status
            detail = exc.read(2048).decode(errors="replace")[:300]  # read here: within the deadline
            done["error"] = _Refused(f"{url}: HTTP {exc.code}: {detail}")
        except BaseException as exc:  # re-raised on the caller's thread
            done["error"] = exc

    worker = threading.Thread(target=run, name="twm-llm-request", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        raise BackendError(f"{url}: no complete response within {timeout_s:g} s")
    if "error" in done:
        raise done["error"]
    body: bytes = done["body"]
    if len(body) > MAX_RESPONSE_BYTES:
        raise BackendError(f"{url}: the response is larger than {MAX_RESPONSE_BYTES} bytes")
    return body


def chat_content(payload: object) -> str:
    """The first choice's message text of a chat-completions response, or :class:`BackendError`."""
    try:
        content = payload["choices"][0]["message"]["content"]  # type: ignore[index]
    except (KeyError, IndexError, TypeError) as exc:
        raise BackendError(f"malformed chat-completions response: {str(payload)[:200]}") from exc
    if not isinstance(content, str):
        raise BackendError(f"chat-completions content is {type(content).__name__}, not text")
    return content


class VLLMBackend:
    """vLLM's offline engine with structured JSON output; the engine loads on the first call."""

    def __init__(self, config: BackendConfig) -> None:
        self.config = config
        self._llm: Any = None

    @property
    def model(self) -> str:
        return self.config.model or DEFAULT_VLLM_MODEL

    def request(self, prompt: str, schema: dict[str, Any]) -> tuple[list[dict[str, str]], dict[str, Any]]:
        """The chat messages and the ``SamplingParams`` keyword arguments (``structured`` = the schema)."""
        messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": prompt}]
        params = {"temperature": self.config.temperature, "max_tokens": self.config.max_tokens, "structured": schema}
        return messages, params

    @staticmethod
    def sampling_params(params: dict[str, Any]) -> Any:
        """``vllm.SamplingParams`` with the schema as structured output (whichever API is installed)."""
        import vllm  # the `llm` extra: imported only when this backend is used

        kwargs = {k: v for k, v in params.items() if k != "structured"}
        try:
            from vllm.sampling_params import StructuredOutputsParams
        except ImportError:  # vLLM < 0.12
            from vllm.sampling_params import GuidedDecodingParams

            return vllm.SamplingParams(guided_decoding=GuidedDecodingParams(json=params["structured"]), **kwargs)
        return vllm.SamplingParams(structured_outputs=StructuredOutputsParams(json=params["structured"]), **kwargs)

    @staticmethod
    def output_text(outputs: object) -> str:
        """The text of the first completion of ``LLM.chat``'s result, or :class:`BackendError`."""
        try:
            text = outputs[0].outputs[0].text  # type: ignore[index]
        except (IndexError, AttributeError, TypeError) as exc:
            raise BackendError(f"malformed vLLM output: {str(outputs)[:200]}") from exc
        if not isinstance(text, str):
            raise BackendError(f"vLLM output text is {type(text).__name__}")
        return text

    def __call__(self, prompt: str, schema: dict[str, Any]) -> str:
        messages, params = self.request(prompt, schema)
        if self._llm is None:
            import vllm

            self._llm = vllm.LLM(model=self.model)
        return self.output_text(self._llm.chat(messages, self.sampling_params(params), use_tqdm=False))


def make_backend(config: BackendConfig) -> Backend | None:
    """The callable of a model backend (``None`` for ``embedded``)."""
    if config.name == "openai":
        return OpenAIBackend(config)
    if config.name == "vllm":
        return VLLMBackend(config)
    return None


def compile_with(
    intent: str,
    scenario: Scenario,
    config: BackendConfig | None = None,
    waived: tuple[str, ...] = (),
    backend: Backend | None = None,
) -> Traced:
    """Compile ``intent`` with the configured backend (embedded by default), output validated, then
    checked for its effect (:func:`~twm_agents.llm.safety.spec_issues`): a spec whose share bounds
    starve a slice the operator did not waive (``waived``, a typed field) comes back refused.

    A model backend's answers go through :func:`~twm_agents.llm.parse.compile_with_backend`; the
    embedded backend's result is returned as a :class:`Traced` with no attempts. ``backend``: a
    backend already made from ``config`` (:func:`make_backend`), to keep what it settled (the
    ``openai`` backend's ``response_format`` form) across calls.
    """
    config = config or BackendConfig.from_env()
    backend = backend if backend is not None else make_backend(config)
    if backend is None:
        res = compile_intent(intent, scenario)
        out = Traced(spec=res.spec, issues=res.issues, backend=res.backend, rule_based=True, notes=res.notes)
    else:
        out = compile_with_backend(intent, scenario, backend, name=config.name, retries=config.retries)
    if out.spec is not None:
        unsafe = spec_issues(out.spec, scenario, waived)
        if unsafe:
            out.spec, out.issues = None, [*out.issues, *unsafe]
    return out
