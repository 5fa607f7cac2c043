"""The triage's ``llm`` step: a short summary of a ticket for the agent who approves its triage,
written by an OpenAI-compatible chat completions endpoint (``LLM_BASE_URL``); without one the
step writes nothing."""

from __future__ import annotations

import httpx

from subgraphs.support.settings import SupportSettings

SYSTEM = (
    "You summarize customer support tickets for the agent who triages them: two sentences at"
    " most, what the customer needs and how urgent it is. Plain text, no greeting."
)
# At most this much of a ticket is sent.
MAX_PROMPT = 8000


async def summary(settings: SupportSettings, ticket: str) -> str | None:
    """The endpoint's summary of ``ticket`` (its title and text); None when none is set."""
    if settings.llm_base_url is None:
        return None
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    body = {
        "model": settings.llm_model,
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": ticket[:MAX_PROMPT]},
        ],
        "temperature": 0,
    }
    headers = {"authorization": f"Bearer {key}"} if key else {}
    url = f"{settings.llm_base_url.rstrip('/')}/chat/completions"
    async with httpx.AsyncClient(timeout=settings.llm_timeout_seconds) as client:
        response = await client.post(url, json=body, headers=headers)
    response.raise_for_status()
    content = response.json()["choices"][0]["message"]["content"]
    return str(content).strip() or None
