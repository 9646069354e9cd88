"""A thousand nodes on one Marathon: reconnects back off exponentially with jitter, the
periodic full read is jittered, and the full read after a reconnect is spread out."""

from __future__ import annotations

import random
import time

from haproxy_sync_helpers import app, free_port, requires_haproxy, task
from marathon_haproxy_sync.daemon import Backoff, SyncDaemon, Trigger


def test_backoff_doubles_to_its_cap_with_jitter():
    backoff = Backoff(1.0, 30.0, random.Random(7))
    delays = [backoff.next() for _attempt in range(8)]
    ceilings = [1, 2, 4, 8, 16, 30, 30, 30]
    print("delays:", ", ".join(f"{d:.2f}" for d in delays))
    for delay, ceiling in zip(delays, ceilings, strict=True):
        assert ceiling / 2 <= delay <= ceiling
    assert len({round(d, 6) for d in delays[5:]}) == 3  # at the cap, still spread
    backoff.reset()
    assert 0.5 <= backoff.next() <= 1.0


def test_a_fleet_reconnecting_at_one_instant_spreads_out():
    """1,000 nodes lose Marathon at the same moment: their first reconnects span the whole
    jitter window instead of landing together."""
    firsts = [Backoff(1.0, 30.0, random.Random(seed)).next() for seed in range(1000)]
    buckets = {int(d * 10) for d in firsts}  # 100 ms buckets over [0.5, 1.0]
    assert min(firsts) >= 0.5 and max(firsts) <= 1.0
    assert len(buckets) >= 5


def test_the_reconcile_interval_is_jittered(make_config):
    cfg = make_config(reconcile_interval=30.0, reconcile_jitter=0.2)
    daemon = SyncDaemon(cfg, rng=random.Random(3))
    intervals = [daemon.next_reconcile() for _attempt in range(200)]
    assert all(24.0 <= i <= 36.0 for i in intervals)
    assert max(intervals) - min(intervals) > 6.0


def test_a_full_read_asked_for_later_waits_for_its_time():
    trigger = Trigger()
    trigger.full_after(0.3)
    pending = trigger.take(0)
    assert pending.full is False and pending.apps == set()
    assert pending.full_at is not None and 0.25 < pending.full_at - time.monotonic() <= 0.3


@requires_haproxy
def test_reconnects_to_a_killed_leader_back_off_with_jitter(make_config, marathons):
    store = {"/web": app("/web", 10000, [task(port=31000)])}
    leader = marathons(store)
    cfg = make_config(marathon_urls=[leader.url], retry_delay=0.05, max_retry_delay=0.8, reconcile_interval=60.0)
    daemon = SyncDaemon(cfg, rng=random.Random(11))
    daemon.start()
    try:
        deadline = time.monotonic() + 5
        while not leader.attached() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert leader.attached()
        leader.close()  # the leader is killed; nothing answers on its address
        deadline = time.monotonic() + 10
        while len(daemon.reconnect_delays) < 6 and time.monotonic() < deadline:
            time.sleep(0.05)
        delays = daemon.reconnect_delays[:6]
        print("reconnect delays (s):", ", ".join(f"{d:.3f}" for d in delays))
        ceilings = [0.05, 0.1, 0.2, 0.4, 0.8, 0.8]
        assert len(delays) == 6
        for delay, ceiling in zip(delays, ceilings, strict=True):
            assert ceiling / 2 <= delay <= ceiling + 1e-9
        assert delays[4] > delays[0] * 4  # it backs off: not a fixed short delay
    finally:
        daemon.stop()


class Midpoint(random.Random):
    """Draws the middle of every range: the spread's timing without its chance."""

    def uniform(self, a, b):
        return (a + b) / 2


@requires_haproxy
def test_the_full_read_after_a_reconnect_is_spread(make_config, marathons):
    """After the stream (re)connects the full read comes at a random moment of resync_spread
    (here its middle, 0.5 s), not at once on every node."""
    store = {"/web": app("/web", free_port(), [task(port=31000)])}
    m = marathons(store)
    cfg = make_config(marathon_urls=[m.url], reconcile_interval=60.0, resync_spread=1.0)

    def reads():
        return sum(1 for path, _auth in m.requests if path.startswith("/v2/apps?"))

    daemon = SyncDaemon(cfg, rng=Midpoint())
    daemon.start()
    try:
        deadline = time.monotonic() + 5
        while not (m.attached() and reads()) and time.monotonic() < deadline:
            time.sleep(0.005)
        attached_at = time.monotonic()
        first = reads()  # the read at startup
        time.sleep(0.3)
        assert reads() == first
        while reads() == first:
            assert time.monotonic() - attached_at < 1.2, "no full read after the reconnect"
            time.sleep(0.01)
        print(f"full read {time.monotonic() - attached_at:.2f}s after the stream attached")
    finally:
        daemon.stop()
