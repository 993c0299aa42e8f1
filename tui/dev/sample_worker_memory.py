"""What the sample cluster's persistent workers remember: state, runs, log, config versions."""

from __future__ import annotations

from dataclasses import replace

from engine.admin import (
    LIVE_RUN_STATUSES,
    ConfigVersion,
    InvalidJobOption,
    NotFound,
    Overview,
    WorkerDetail,
    WorkerInfo,
    WorkerLogLine,
    WorkerRun,
    WorkerState,
)
from tui.dev.sample_cluster import SAMPLE_NOW


class SampleWorkerMemory:
    """The worker-memory reads and the state reset of SampleSource, in memory."""

    _overview: Overview
    _states: dict[str, WorkerState]
    _runs: dict[str, list[WorkerRun]]
    _configs: dict[str, list[ConfigVersion]]
    logs: dict[str, list[WorkerLogLine]]
    actor: str

    def _worker(self, name: str) -> WorkerInfo:
        found = next((w for w in self._overview.workers if w.name == name), None)
        if found is None:
            raise NotFound(f"no persistent worker named {name!r}")
        return found

    async def worker_state(self, name: str) -> WorkerState:
        self._worker(name)
        none = WorkerState(name, None, 0, 0, None, None, None, None, None, None, SAMPLE_NOW)
        return self._states.get(name, none)

    async def reset_worker_state(self, name: str) -> WorkerState:
        worker = self._worker(name)
        if worker.status in LIVE_RUN_STATUSES:
            raise InvalidJobOption(
                f"persistent worker {name!r} has a run under way (job {worker.job_id}): "
                "stop the worker and let the run end, then reset its state"
            )
        old = await self.worker_state(name)
        reset = replace(
            old,
            state=None,
            version=old.version + 1,
            size=0,
            run=None,
            job_id=None,
            client_id=None,
            checkpointed_at=None,
            reset_at=SAMPLE_NOW,
            reset_by=self.actor,
        )
        self._states[name] = reset
        return reset

    async def worker_runs(self, name: str, limit: int = 50) -> list[WorkerRun]:
        self._worker(name)
        return self._runs.get(name, [])[:limit]

    async def worker_log(
        self, name: str, *, after: int | None = None, limit: int = 200
    ) -> list[WorkerLogLine]:
        self._worker(name)
        lines = [x for x in self.logs.get(name, []) if after is None or x.seq > after]
        return lines[-limit:]

    async def worker_configs(self, name: str, limit: int = 20) -> list[ConfigVersion]:
        self._worker(name)
        return self._configs.get(name, [])[:limit]

    async def worker_detail(
        self,
        name: str,
        *,
        state_version: int | None = None,
        log_after: int | None = None,
        log_limit: int = 200,
        runs: int = 30,
        configs: int = 20,
    ) -> WorkerDetail:
        state = await self.worker_state(name)
        if state_version is not None and state.version == state_version:
            state = replace(state, state=None, included=False)
        return WorkerDetail(
            worker=self._worker(name),
            state=state,
            runs=await self.worker_runs(name, runs),
            configs=await self.worker_configs(name, configs),
            log=await self.worker_log(name, after=log_after, limit=log_limit),
        )
