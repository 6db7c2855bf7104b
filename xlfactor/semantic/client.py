"""The semantic client contract and the default client over the ``openai`` package.

A client is any object with ``complete_json(instructions: str, payload: dict) -> dict``.
Discovery calls it for two tasks, told apart by ``payload["task"]``:

* ``"propose"``: ``payload["holdings"]`` lists ``{ticker, name}`` (never weights or
  values) and ``payload["residual_pca"]`` the top names of each residual principal
  component. Answer: ``{"themes": [{"name": str, "description": str}, ...]}``.
* ``"classify"``: ``payload["theme"]`` is ``{name, description}`` and
  ``payload["tickers"]`` a list of ``{ticker, name, sector, industry}``. Answer:
  ``{"members": {ticker: 0 or 1, ...}}`` with every ticker asked.

:class:`OpenAIClient` is the default. It is built only when discovery actually needs an
LLM, and it is the only place in xlfactor that imports ``openai``. Environment:
``OPENAI_API_KEY`` (required), ``OPENAI_BASE_URL`` (any OpenAI-compatible server),
``XLFACTOR_SEMANTIC_MODEL`` (default :data:`DEFAULT_MODEL`), ``XLFACTOR_SEMANTIC_TIMEOUT``
(seconds per request, default 120) and ``XLFACTOR_SEMANTIC_RETRIES`` (default 2; the
``openai`` client retries timeouts, connection errors, 429 and 5xx with exponential backoff).
"""

from __future__ import annotations

import json
import os
from typing import Any, Protocol, runtime_checkable

from xlfactor.errors import XlfactorError

DEFAULT_MODEL = "gpt-4.1-mini"
DEFAULT_TIMEOUT_SECONDS = 120.0
DEFAULT_RETRIES = 2
DEFAULT_DEADLINE_SECONDS = 600.0
"""Longest wait for one answer of any client (``XLFACTOR_SEMANTIC_DEADLINE`` overrides it)."""
LLM_EXTRA = "pip install 'xlfactor[llm]'"


class SemanticError(XlfactorError):
    """Semantic discovery cannot run: missing key, unreachable or failing model, bad answer, bad cache."""


@runtime_checkable
class SemanticClient(Protocol):
    """What discovery needs from an LLM (bring your own: see the module docstring)."""

    def complete_json(self, instructions: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Answer ``payload`` (a JSON object) following ``instructions`` with a JSON object."""
        ...


def _env_number(name: str, default: float, kind: type = float) -> float:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = kind(text)
    except ValueError:
        raise SemanticError(f"{name} must be a number, got {text!r}") from None
    if value < 0:
        raise SemanticError(f"{name} must not be negative, got {text!r}")
    return value


class OpenAIClient:
    """Chat-completions client (JSON mode) configured from the environment.

    Parameters
    ----------
    model, timeout, retries : optional
        Override ``XLFACTOR_SEMANTIC_MODEL``, ``XLFACTOR_SEMANTIC_TIMEOUT`` (seconds) and
        ``XLFACTOR_SEMANTIC_RETRIES``.

    Raises
    ------
    SemanticError
        If ``OPENAI_API_KEY`` is not set.
    """

    def __init__(self, model: str | None = None, timeout: float | None = None, retries: int | None = None) -> None:
        key = os.environ.get("OPENAI_API_KEY", "").strip()
        if not key:
            raise SemanticError("OPENAI_API_KEY is not set: semantic discovery needs it (or pass client=...)")
        try:
            import openai  # the only import of openai in xlfactor
        except ImportError:
            raise SemanticError(f"semantic discovery's default client needs the openai package: {LLM_EXTRA} (or pass client=...)") from None

        self.model = model or os.environ.get("XLFACTOR_SEMANTIC_MODEL", "").strip() or DEFAULT_MODEL
        self.timeout = float(timeout if timeout is not None else _env_number("XLFACTOR_SEMANTIC_TIMEOUT", DEFAULT_TIMEOUT_SECONDS))
        self.retries = int(retries if retries is not None else _env_number("XLFACTOR_SEMANTIC_RETRIES", DEFAULT_RETRIES, int))
        self.base_url = os.environ.get("OPENAI_BASE_URL", "").strip() or None
        self._openai = openai
        self._client = openai.OpenAI(api_key=key, base_url=self.base_url, timeout=self.timeout, max_retries=self.retries)

    def complete_json(self, instructions: str, payload: dict[str, Any]) -> dict[str, Any]:
        """One chat completion in JSON mode; the answer parsed as a JSON object."""
        openai = self._openai
        task = payload.get("task", "?")
        where = self.base_url or "api.openai.com"
        try:
            response = self._client.chat.completions.create(
                model=self.model,
                messages=[
                    {"role": "system", "content": instructions},
                    {"role": "user", "content": json.dumps(payload, sort_keys=True)},
                ],
                response_format={"type": "json_object"},
                temperature=0,
            )
        except openai.APITimeoutError:
            raise SemanticError(
                f"semantic model timed out after {self.timeout:g} s on task {task} "
                f"({self.retries} retries; XLFACTOR_SEMANTIC_TIMEOUT)"
            ) from None
        except openai.AuthenticationError:
            raise SemanticError(f"semantic model at {where} rejected OPENAI_API_KEY (HTTP 401)") from None
        except openai.APIStatusError as exc:
            raise SemanticError(f"semantic model at {where} answered HTTP {exc.status_code} on task {task}") from None
        except openai.APIConnectionError:
            raise SemanticError(f"cannot reach the semantic model at {where} (OPENAI_BASE_URL)") from None
        try:
            content = response.choices[0].message.content
        except (AttributeError, IndexError, TypeError):
            raise SemanticError(f"semantic model returned no message on task {task}") from None
        return parse_json_object(content, task)


class DeadlineClient:
    """A client whose every answer must come within ``deadline`` seconds (a user client that hangs fails in one line).

    The call runs on a daemon thread; past the deadline discovery stops waiting and raises
    :class:`SemanticError` (the stuck call is abandoned, and never keeps the process alive).

    Parameters
    ----------
    client : object with ``complete_json(instructions, payload) -> dict``
    deadline : float, optional
        Seconds; default ``XLFACTOR_SEMANTIC_DEADLINE`` or :data:`DEFAULT_DEADLINE_SECONDS`.
    """

    def __init__(self, client: SemanticClient, deadline: float | None = None) -> None:
        self.client = client
        self.deadline = float(deadline if deadline is not None else _env_number("XLFACTOR_SEMANTIC_DEADLINE", DEFAULT_DEADLINE_SECONDS))
        if not self.deadline > 0:
            raise SemanticError(f"the semantic client deadline must be positive seconds, got {self.deadline:g}")

    def complete_json(self, instructions: str, payload: dict[str, Any]) -> dict[str, Any]:
        """``client.complete_json`` within the deadline; its own error is raised as is."""
        import threading

        outcome: dict[str, Any] = {}

        def call() -> None:
            try:
                outcome["answer"] = self.client.complete_json(instructions, payload)
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
                outcome["error"] = exc

        worker = threading.Thread(target=call, name="xlfactor-semantic-client", daemon=True)
        worker.start()
        worker.join(self.deadline)
        if worker.is_alive():
            raise SemanticError(
                f"semantic client did not answer task {payload.get('task', '?')} within {self.deadline:g} s "
                "(XLFACTOR_SEMANTIC_DEADLINE)"
            )
        if "error" in outcome:
            raise outcome["error"]
        return outcome["answer"]


def parse_json_object(content: object, task: str) -> dict[str, Any]:
    """``content`` parsed as a JSON object, else a one-line :class:`SemanticError`.

    >>> parse_json_object('{"themes": []}', "propose")
    {'themes': []}
    """
    try:
        value = json.loads(content) if isinstance(content, (str, bytes)) else None
    except ValueError:
        value = None
    if not isinstance(value, dict):
        shown = " ".join(str(content).split())[:60]
        raise SemanticError(f"semantic model returned malformed JSON on task {task}: {shown!r}")
    return value
