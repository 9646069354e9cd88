import urllib.error

from ansible_collections.mesosphere.cluster.plugins.modules import mesos_maintenance

M1 = "http://m1:5050"
M2 = "http://m2:5050"
A1 = {"hostname": "a1", "ip": "10.0.0.21"}
A2 = {"hostname": "a2", "ip": "10.0.0.22"}
NS = 10 ** 9
START = 1772402400  # 2026-03-01T22:00:00Z
OTHER_WINDOW = {"machine_ids": [{"hostname": "x9", "ip": "10.0.0.99"}],
                "unavailability": {"start": {"nanoseconds": 5 * NS}, "duration": {"nanoseconds": 60 * NS}}}


def window(machines, start=START, duration=3600):
    return {"machine_ids": machines,
            "unavailability": {"start": {"nanoseconds": start * NS}, "duration": {"nanoseconds": duration * NS}}}


def leader(fake):
    fake.add("GET", M1 + "/master/redirect", 307, headers={"Location": "//m2:5050"})


def current(fake, schedule, draining=(), down=()):
    fake.add("GET", M2 + "/master/maintenance/schedule", body=schedule)
    fake.add("GET", M2 + "/master/maintenance/status", body={
        "draining_machines": [{"id": m, "statuses": []} for m in draining], "down_machines": list(down)})


def run(run_module, check_mode=False, diff=False, **args):
    merged = dict(mesos_endpoints=[M1, M2], machines=[A1])
    merged.update(args)
    return run_module(mesos_maintenance.main, merged, check_mode=check_mode, diff=diff)


def test_schedule_keeps_other_windows(fake_http, run_module):
    leader(fake_http)
    current(fake_http, {"windows": [OTHER_WINDOW]})
    fake_http.add("POST", M2 + "/master/maintenance/schedule", 200)
    current(fake_http, {"windows": [OTHER_WINDOW, window([A1])]}, draining=[A1])
    result, failed = run(run_module, start="2026-03-01T22:00:00Z")
    assert not failed, result.get("msg")
    assert fake_http.writes() == [("POST", M2 + "/master/maintenance/schedule",
                                   {"windows": [OTHER_WINDOW, window([A1])]})]
    assert result["machines"] == [dict(A1, mode="DRAINING")]


def test_schedule_check_mode_and_idempotent(fake_http, run_module):
    leader(fake_http)
    current(fake_http, {"windows": []})
    result, failed = run(run_module, check_mode=True, diff=True, start=str(START))
    assert result["changed"] is True and fake_http.writes() == []
    assert result["requests"] == ["POST /master/maintenance/schedule"]
    assert result["diff"]["after"]["machines"] == [dict(A1, mode="DRAINING")]
    # already in a window: no start given -> unchanged; same start -> unchanged
    for start in (None, "2026-03-01T22:00:00Z"):
        leader(fake_http)
        current(fake_http, {"windows": [window([{"hostname": "A1", "ip": "10.0.0.21"}])]}, draining=[A1])
        result, failed = run(run_module, start=start)
        assert not failed and result["changed"] is False
    assert fake_http.writes() == []


def test_schedule_moves_machine_to_new_window_when_start_differs(fake_http, run_module):
    leader(fake_http)
    current(fake_http, {"windows": [window([A1, A2])]}, draining=[A1, A2])
    fake_http.add("POST", M2 + "/master/maintenance/schedule", 200)
    current(fake_http, {}, draining=[A1, A2])
    result, failed = run(run_module, start=str(START + 60), duration=60)
    assert not failed
    assert fake_http.writes()[0][2] == {"windows": [window([A2]), window([A1], START + 60, 60)]}


def test_down_schedules_first_then_downs(fake_http, run_module):
    leader(fake_http)
    current(fake_http, {"windows": []})
    fake_http.add("POST", M2 + "/master/maintenance/schedule", 200)
    fake_http.add("POST", M2 + "/master/machine/down", 200)
    current(fake_http, {"windows": [window([A1])]}, down=[A1])
    result, failed = run(run_module, state="down", start=str(START))
    assert not failed
    assert [c[1] for c in fake_http.writes()] == [M2 + "/master/maintenance/schedule", M2 + "/master/machine/down"]
    assert fake_http.writes()[1][2] == [A1]
    assert result["machines"] == [dict(A1, mode="DOWN")]


def test_down_when_draining_only_downs_and_down_is_idempotent(fake_http, run_module):
    leader(fake_http)
    current(fake_http, {"windows": [window([A1])]}, draining=[A1])
    fake_http.add("POST", M2 + "/master/machine/down", 200)
    current(fake_http, {"windows": [window([A1])]}, down=[A1])
    result, failed = run(run_module, state="down")
    assert not failed and fake_http.writes() == [("POST", M2 + "/master/machine/down", [A1])]
    leader(fake_http)
    current(fake_http, {"windows": [window([A1])]}, down=[A1])
    result, failed = run(run_module, state="down", start=str(START + 999))
    assert not failed and result["changed"] is False and len(fake_http.writes()) == 1


def test_up_brings_down_machine_up_and_cancels_draining(fake_http, run_module):
    leader(fake_http)
    current(fake_http, {"windows": [window([A1]), window([A2]), OTHER_WINDOW]}, draining=[A2], down=[A1])
    fake_http.add("POST", M2 + "/master/machine/up", 200)
    fake_http.add("POST", M2 + "/master/maintenance/schedule", 200)
    current(fake_http, {"windows": [OTHER_WINDOW]})
    result, failed = run(run_module, state="up", machines=[A1, A2])
    assert not failed
    assert fake_http.writes() == [("POST", M2 + "/master/machine/up", [A1]),
                                  ("POST", M2 + "/master/maintenance/schedule", {"windows": [OTHER_WINDOW]})]
    assert [m["mode"] for m in result["machines"]] == ["UP", "UP"]


def test_up_when_up_is_unchanged(fake_http, run_module):
    leader(fake_http)
    current(fake_http, {"windows": [OTHER_WINDOW]})
    result, failed = run(run_module, state="up")
    assert not failed and result["changed"] is False and fake_http.writes() == []


def test_bad_input(fake_http, run_module):
    result, failed = run(run_module, machines=[{}])
    assert failed and result["msg"].startswith("Each machine needs a hostname or an ip")
    result, failed = run(run_module, start="tomorrow")
    assert failed and result["msg"] == "start 'tomorrow' is neither an ISO 8601 time nor seconds since the epoch."
    assert fake_http.calls == []


def test_rejected_by_master_is_a_sentence(fake_http, run_module):
    leader(fake_http)
    current(fake_http, {"windows": []})
    fake_http.add("POST", M2 + "/master/maintenance/schedule", 400,
                  body="Failed to validate maintenance schedule: Machine 'a1' appears more than once")
    result, failed = run(run_module)
    assert failed
    assert result["msg"] == ("Could not set the maintenance of a1 to scheduled: POST http://m2:5050/master/maintenance/"
                             "schedule answered HTTP 400: Failed to validate maintenance schedule: Machine 'a1' "
                             "appears more than once.")


def test_unreachable_masters(fake_http, run_module):
    for m in (M1, M2):
        fake_http.add("GET", m + "/master/redirect", repeat=True,
                      error=urllib.error.URLError(ConnectionRefusedError(111, "Connection refused")))
    result, failed = run(run_module, request_retries=0)
    assert failed and result["msg"].startswith(
        "Could not set the maintenance of a1 to scheduled: Could not reach any Mesos master endpoint for GET "
        "/master/redirect")
