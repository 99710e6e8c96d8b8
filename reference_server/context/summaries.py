"""The running summary (P4): refreshed by the cheap model in the background job queue.

Every ``summary_every_messages`` new messages, a job folds them into the previous
summary (~``summary_target_tokens`` tokens). The request path only reads the stored
summary and offers the job; it never waits for a summary to be written.
"""

from __future__ import annotations

from dataclasses import dataclass

from reference_server.llm.client import ChatMessage, LLMClient
from reference_server.runtime.jobs import JobQueue
from reference_server.settings import ServerSettings
from reference_server.storage.base import ChatStore, Message

SUMMARY_INSTRUCTIONS = (
    "You maintain the running summary of a chat between a user and an assistant. Merge the previous "
    "summary with the new messages into one summary of at most {tokens} tokens. Keep facts, names, "
    "numbers, decisions and open questions; drop small talk. Answer with the summary only."
)


@dataclass
class SummaryStats:
    """Summaries written since start and the tokens they cost (the price of P4's saving)."""

    written: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


def summary_prompt(previous: str | None, messages: list[Message], target_tokens: int) -> list[ChatMessage]:
    """The messages that ask the cheap model for an updated summary."""
    transcript = "\n".join(f"{message.role}: {message.content}" for message in messages)
    return [
        {"role": "system", "content": SUMMARY_INSTRUCTIONS.format(tokens=target_tokens)},
        {
            "role": "user",
            "content": f"Previous summary: {previous or '(none)'}\n\nNew messages:\n{transcript}",
        },
    ]


class Summarizer:
    """Decides when a conversation's summary is due and refreshes it off the request path."""

    def __init__(self, settings: ServerSettings, store: ChatStore, llm: LLMClient, jobs: JobQueue) -> None:
        self._settings = settings
        self._store = store
        self._llm = llm
        self._jobs = jobs
        self._pending: set[str] = set()
        self.stats = SummaryStats()

    async def schedule_if_due(self, conversation_id: str) -> bool:
        """Offer a refresh job when enough messages arrived since the last summary."""
        if conversation_id in self._pending:
            return False
        total = await self._store.count_messages(conversation_id)
        summary = await self._store.get_summary(conversation_id)
        covered = summary.message_count if summary else 0
        if total - covered < self._settings.summary_every_messages:
            return False
        self._pending.add(conversation_id)
        if not self._jobs.offer(lambda: self.refresh(conversation_id)):
            self._pending.discard(conversation_id)
            return False
        return True

    async def refresh(self, conversation_id: str) -> None:
        """Fold the messages not yet covered into the summary and store it."""
        try:
            total = await self._store.count_messages(conversation_id)
            summary = await self._store.get_summary(conversation_id)
            covered = summary.message_count if summary else 0
            if total <= covered:
                return
            fresh = await self._store.recent_messages(
                conversation_id, min(total - covered, self._settings.history_page_max)
            )
            target = self._settings.summary_target_tokens
            prompt = summary_prompt(summary.text if summary else None, fresh, target)
            completion = await self._llm.complete(prompt, self._settings.summary_model, max_tokens=target)
            if completion.usage is not None:
                self.stats.prompt_tokens += completion.usage.prompt_tokens
                self.stats.completion_tokens += completion.usage.completion_tokens
            if completion.text.strip():
                await self._store.set_summary(conversation_id, completion.text.strip(), total)
                self.stats.written += 1
        finally:
            self._pending.discard(conversation_id)
