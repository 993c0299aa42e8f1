"""The demo cluster member: three persistent workers and a few job kinds doing believable work.

Run it with `pqw demo` (or `pqw worker engine.cli.demo:client`); `pqw-tui --demo`
starts it in a separate process and watches it like any real cluster.
Try, in the dashboard: stop and start `feed-poller`, set `reconciler`'s
`fail_rate` to 0.7 and watch it crash and back off, change `stream-consumer`'s
`batch_size` and watch the new config arrive; `enter` on a worker shows its state,
runs, log and config versions. `stream-consumer` and `feed-poller` checkpoint where
they are, so a `kill -9` of their process resumes them from there, on the other one.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from datetime import timedelta

from engine.client import Client
from engine.persistent.context import PersistentContext
from engine.schedules import every
from engine.types import Job

client = Client(queues={"default": 8, "mail": 4, "reports": 2})
log = logging.getLogger("demo")


@dataclass
class ReconcilerConfig:
    interval: float = 3.0
    batch: int = 50
    fail_rate: float = 0.0


@client.persistent(
    "feed-poller",
    config={"feed": "https://status.example.com/feed.xml", "interval": 2.0},
    heartbeat_interval=1.0,
    heartbeat_timeout=5.0,
)
async def feed_poller(ctx: PersistentContext) -> None:
    """Polls a feed and enqueues one job per new item; resumes from its checkpoint."""
    state = ctx.state or {"polls": 0, "new_items": 0}
    polled, new_items = int(state["polls"]), int(state["new_items"])
    log.info("feed-poller: resuming after %d polls (%d new items so far)", polled, new_items)
    while not ctx.stopping:
        polled += 1
        fresh = random.choice([0, 0, 1, 2, 3])
        for n in range(fresh):
            await client.insert("feed.item", {"feed": ctx.config["feed"], "item": f"{polled}-{n}"})
        new_items += fresh
        if fresh:
            log.info("poll %d: %d new items", polled, fresh)
        await ctx.checkpoint({"polls": polled, "new_items": new_items})
        ctx.progress({"polls": polled, "new items": new_items})
        await ctx.sleep(float(ctx.config.get("interval", 2.0)))


@client.persistent("reconciler", config=ReconcilerConfig(), config_type=ReconcilerConfig)
async def reconciler(ctx: PersistentContext) -> None:
    """Checks accounts in batches; `fail_rate` makes it crash, to show backoff."""
    checked = fixed = 0
    while not ctx.stopping:
        config: ReconcilerConfig = ctx.config
        if random.random() < config.fail_rate:
            log.warning("reconciler: the ledger service is slow to answer")
            raise RuntimeError(f"ledger service timed out after checking {checked} accounts")
        checked += config.batch
        fixed += sum(1 for _ in range(config.batch) if random.random() < 0.02)
        ctx.progress({"checked": checked, "fixed": fixed})
        await ctx.sleep(config.interval)


@client.persistent(
    "stream-consumer",
    config={"topic": "orders", "batch_size": 100},
    restart_on_config_change=False,
)
async def stream_consumer(ctx: PersistentContext) -> None:
    """Consumes a stream from the offset it checkpointed last; takes a new batch size
    live, without restarting."""
    offset = int((ctx.state or {}).get("offset", 0))
    ctx.log(f"consuming {ctx.config.get('topic')} from offset {offset}")
    while not ctx.stopping:
        if ctx.config_changed.is_set():
            ctx.config_changed.clear()
            log.info("batch size now %s", ctx.config.get("batch_size"))
        offset += int(ctx.config.get("batch_size", 100)) * random.randint(0, 3)
        await ctx.checkpoint({"topic": ctx.config.get("topic"), "offset": offset})
        ctx.progress({"topic": ctx.config.get("topic"), "offset": offset})
        await ctx.sleep(1.0)


@client.job("feed.item")
async def feed_item(job: Job) -> None:
    await asyncio.sleep(random.uniform(0.01, 0.2))


@client.job("email.send", queue="mail", max_attempts=5)
async def send_email(job: Job) -> None:
    await asyncio.sleep(random.uniform(0.05, 0.3))
    if random.random() < 0.1:
        raise ConnectionError("SMTP server closed the connection")


@client.job("report.build", queue="reports", timeout=30)
async def build_report(job: Job) -> None:
    await asyncio.sleep(random.uniform(0.5, 2.0))


client.periodic("report.build", every(timedelta(seconds=30)), args={"report": "hourly-usage"})


async def produce_traffic(rate: float = 5.0) -> None:
    """A steady trickle of email jobs so the queues always show something."""
    while True:
        await client.insert("email.send", {"to": f"user{random.randint(1, 999)}@example.com"})
        await asyncio.sleep(random.expovariate(rate))
