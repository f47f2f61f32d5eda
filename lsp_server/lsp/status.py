"""The model's state for the editor: the `tide/status` notification, mirrored as LSP work-done
progress while the model downloads and loads, when the client supports it."""

import asyncio
import logging
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from lsprotocol import types

from ..runtime.engine_slot import Status

if TYPE_CHECKING:
    from .server import TideServer

log = logging.getLogger(__name__)

STATUS_NOTIFICATION = "tide/status"


class StatusReporter:
    def __init__(self, server: "TideServer", latency_ms: Callable[[], float | None]) -> None:
        self._server = server
        self._latency_ms = latency_ms
        self._progress_token: str | None = None
        self._progress_steps: list[Status] = []
        self._progress_task: asyncio.Task | None = None
        self.last: Status | None = None

    def send(self, status: Status) -> None:
        self.last = status
        payload = {
            "state": status.state,
            "model": status.model,
            "percent": status.percent,
            "message": status.message,
            "adapter": status.adapter,
            "latencyMs": self._latency_ms(),
        }
        self._server.protocol.notify(STATUS_NOTIFICATION, payload)
        self._report_progress(status)
        if status.state == "error":
            self._server.tell(status.message or "model error", types.MessageType.Error)

    def resend(self) -> None:
        """The last status again, with the latest latency."""
        if self.last is not None:
            self.send(self.last)

    def _report_progress(self, status: Status) -> None:
        capabilities = self._server.client_capabilities
        window = capabilities.window if capabilities else None
        if window and window.work_done_progress:
            self._progress_steps.append(status)
            if self._progress_task is None or self._progress_task.done():
                self._progress_task = asyncio.ensure_future(self._drain_progress())

    async def _drain_progress(self) -> None:
        # One task sends the steps in order; `begin` must wait for the client to accept the
        # token it was created with.
        progress = self._server.work_done_progress
        while self._progress_steps:
            status = self._progress_steps.pop(0)
            active = status.state in ("downloading", "loading")
            if active and self._progress_token is None:
                token = f"tide-model-{uuid.uuid4()}"
                try:
                    await asyncio.wait_for(progress.create_async(token), 10)
                except Exception as exc:  # noqa: BLE001 - a client may refuse; status still flows
                    log.info("client did not create a progress token: %s", exc)
                    continue
                self._progress_token = token
                begin = types.WorkDoneProgressBegin(
                    title=f"Tide: {status.model}", message=status.message, percentage=0
                )
                progress.begin(token, begin)
            elif active and self._progress_token is not None:
                report = types.WorkDoneProgressReport(
                    message=status.message, percentage=status.percent
                )
                progress.report(self._progress_token, report)
            elif self._progress_token is not None:
                token, self._progress_token = self._progress_token, None
                progress.end(token, types.WorkDoneProgressEnd(message=status.state))
