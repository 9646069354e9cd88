"""Reading Marathon's event stream: SSE framing, and what each event makes stale."""

from __future__ import annotations

import json

import pytest
from marathon_haproxy_sync.daemon import Trigger
from marathon_haproxy_sync.events import Invalidation, SSEParser, event_invalidation

STREAM = (
    b"event: event_stream_attached\r\n"
    b'data: {"eventType":"event_stream_attached","remoteAddress":"127.0.0.1"}\r\n'
    b"\r\n"
    b": keep-alive comment\n"
    b"event: status_update_event\n"
    b'data: {"eventType":"status_update_event","appId":"/web",\n'
    b'data: "taskStatus":"TASK_RUNNING"}\n'
    b"\n"
    b'data: {"eventType":"app_terminated_event","appId":"/old"}\r'
    b"\r"
)


def parse(chunks):
    parser = SSEParser()
    events = []
    for chunk in chunks:
        events += parser.feed(chunk)
    return events


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, len(STREAM)])
def test_sse_framing_does_not_depend_on_chunk_boundaries(size):
    events = parse([STREAM[i : i + size] for i in range(0, len(STREAM), size)])
    assert [name for name, _data in events] == ["event_stream_attached", "status_update_event", "message"]
    body = json.loads(events[1][1])
    assert body == {"eventType": "status_update_event", "appId": "/web", "taskStatus": "TASK_RUNNING"}
    assert json.loads(events[2][1])["appId"] == "/old"


def test_incomplete_event_waits_for_its_blank_line():
    parser = SSEParser()
    assert parser.feed(b'event: x\ndata: {"a":1}\n') == []
    assert parser.feed(b"\n") == [("x", '{"a":1}')]


def inv(body, name="message"):
    result = event_invalidation(name, json.dumps(body))
    return result.full, result.apps


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"eventType": "status_update_event", "appId": "/web", "taskStatus": "TASK_RUNNING"}, (False, {"/web"})),
        ({"eventType": "health_status_changed_event", "appId": "/web", "alive": True}, (False, {"/web"})),
        ({"eventType": "instance_health_changed_event", "runSpecId": "/web", "healthy": True}, (False, {"/web"})),
        ({"eventType": "instance_changed_event", "runSpecId": "/g/web", "condition": "Running"}, (False, {"/g/web"})),
        ({"eventType": "app_terminated_event", "appId": "/gone"}, (False, {"/gone"})),
        ({"eventType": "unhealthy_instance_kill_event", "appId": "/web"}, (False, {"/web"})),
        ({"eventType": "api_post_event", "uri": "/v2/apps/web", "appDefinition": {"id": "/web"}}, (False, {"/web"})),
        ({"eventType": "api_post_event", "uri": "/v2/groups"}, (True, set())),
        (
            {
                "eventType": "deployment_success",
                "plan": {"steps": [{"actions": [{"action": "ScaleApplication", "app": "/a"}]}]},
            },
            (False, {"/a"}),
        ),
        (
            {
                "eventType": "deployment_step_success",
                "currentStep": {"actions": [{"action": "StartApplication", "app": "/b"}]},
            },
            (False, {"/b"}),
        ),
        ({"eventType": "deployment_info", "plan": {}}, (True, set())),
        ({"eventType": "group_change_success", "groupId": "/"}, (True, set())),
        ({"eventType": "event_stream_attached"}, (False, set())),
        ({"eventType": "framework_message_event"}, (False, set())),
        ({"eventType": "pod_created_event", "uri": "/v2/pods/p"}, (False, set())),
    ],
)
def test_what_each_event_invalidates(body, expected):
    assert inv(body) == expected


def test_event_name_is_used_when_the_body_has_no_type():
    assert inv({"appId": "/web"}, name="status_update_event") == (False, {"/web"})


@pytest.mark.parametrize("data", ["not json", "[1, 2]", '"text"'])
def test_garbage_is_ignored(data):
    result = event_invalidation("status_update_event", data)
    assert (result.full, result.apps) == (False, set())


def test_trigger_merges_invalidations():
    trigger = Trigger()
    trigger.add(Invalidation(apps={"/a"}))
    trigger.add(Invalidation())
    trigger.add(Invalidation(apps={"/b"}))
    pending = trigger.take(0)
    assert (pending.full, pending.apps) == (False, {"/a", "/b"})
    trigger.add(Invalidation(full=True))
    assert trigger.take(0).full is True
    assert (trigger.take(0).full, trigger.take(0).apps) == (False, set())


def _big_event(size):
    """A deployment_info event whose JSON body is about `size` bytes, on one data line."""
    one = len(json.dumps({"actions": [{"action": "RestartApplication", "app": "/big/app000000"}]})) + 2
    steps = [
        {"actions": [{"action": "RestartApplication", "app": f"/big/app{n:06d}"}]} for n in range(size // one + 1)
    ]
    body = {"eventType": "deployment_info", "plan": {"id": "p1", "steps": steps}}
    return body, f"event: deployment_info\r\ndata: {json.dumps(body)}\r\n\r\n".encode()


@pytest.mark.parametrize("chunk", [1024, 65536])
def test_a_megabyte_event_is_parsed_whole(chunk):
    body, raw = _big_event(1_000_000)
    stream = raw + b'data: {"eventType":"app_terminated_event","appId":"/after"}\n\n'
    events = parse([stream[i : i + chunk] for i in range(0, len(stream), chunk)])
    assert [name for name, _data in events] == ["deployment_info", "message"]
    assert json.loads(events[0][1]) == body
    inv = event_invalidation(*events[0])
    assert len(inv.apps) == len(body["plan"]["steps"]) and "/big/app000000" in inv.apps
    assert json.loads(events[1][1])["appId"] == "/after"


def test_parsing_time_grows_linearly_with_the_event():
    """A loose bound (the benchmark prints the figures): 5 MB in 16 KB chunks well under 2 s,
    where the byte-at-a-time parser took minutes for a tenth of that."""
    import time

    _body, raw = _big_event(5_000_000)
    parser = SSEParser()
    started = time.perf_counter()
    events = []
    for i in range(0, len(raw), 16384):
        events += parser.feed(raw[i : i + 16384])
    elapsed = time.perf_counter() - started
    print(f"5 MB event parsed in {elapsed * 1000:.0f} ms")
    assert len(events) == 1 and len(events[0][1]) > 5_000_000
    assert parser.pending_bytes() == 0
    assert elapsed < 2.0
