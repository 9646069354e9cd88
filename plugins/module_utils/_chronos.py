# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Private Chronos helpers for chronos_job and chronos_job_info; may change without notice."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from ansible_collections.mesosphere.cluster.plugins.module_utils._api import quote_path
from ansible_collections.mesosphere.cluster.plugins.module_utils._marathon import satisfies

# Fields Chronos keeps about runs; they never describe what the user asked for.
SERVER_FIELDS = frozenset((
    "successCount", "errorCount", "lastSuccess", "lastError", "errorsSinceLastSuccess", "softError",
))

NAME_RE = re.compile(r"^[\w.-]+$")
SCHEDULE_RE = re.compile(r"^R(\d*)/([^/]*)/(P.+)$")
DURATION_RE = re.compile(
    r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$")


def strip_server_fields(job):
    return dict((k, v) for k, v in (job or {}).items() if k not in SERVER_FIELDS)


def job_path(name):
    return "/v1/scheduler/job/%s" % quote_path(name)


def write_path(job):
    return "/v1/scheduler/dependency" if job.get("parents") else "/v1/scheduler/iso8601"


def parse_schedule(text):
    """'R[n]/<start>/<period>' -> (repeat or None for forever, start datetime or None, period)."""
    match = SCHEDULE_RE.match(str(text).strip())
    if not match:
        raise ValueError("%r is not an ISO 8601 repeating interval like R/2026-01-01T00:00:00Z/PT1H" % text)
    repeat, start, period = match.groups()
    if not DURATION_RE.match(period) or period in ("P", "PT"):
        raise ValueError("%r in schedule %r is not an ISO 8601 duration like PT1H or P1D" % (period, text))
    return (int(repeat) if repeat else None), (parse_time(start) if start else None), period


def parse_time(text):
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("%r is not an ISO 8601 time like 2026-01-01T00:00:00Z" % text) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def fixed_seconds(period):
    """Length of a period without months or years, else None."""
    years, months, weeks, days, hours, minutes, seconds = DURATION_RE.match(period).groups()
    if years or months:
        return None
    return timedelta(weeks=int(weeks or 0), days=int(days or 0), hours=int(hours or 0),
                     minutes=int(minutes or 0), seconds=float(seconds or 0)).total_seconds()


def schedule_satisfies(wanted, current):
    """Whether Chronos's schedule is the one asked for.

    Chronos moves the start time forward, and counts a finite repetition down, as the job runs;
    a later start reached by whole periods (and a repeat count not above the asked one) is the
    same schedule. An empty start ("now") matches any start.
    """
    try:
        w_repeat, w_start, w_period = parse_schedule(wanted)
        c_repeat, c_start, c_period = parse_schedule(current)
    except (ValueError, TypeError):
        return wanted == current
    if w_period != c_period:
        return False
    if (w_repeat is None) != (c_repeat is None):
        return False
    if w_repeat is not None and c_repeat > w_repeat:
        return False
    if w_start is None:
        return True
    if c_start is None or c_start < w_start:
        return False
    if c_start == w_start:
        return w_repeat == c_repeat
    step = fixed_seconds(w_period)
    if not step:
        return True
    gap = (c_start - w_start).total_seconds()
    return abs(gap / step - round(gap / step)) < 1e-6


def differing_keys(wanted, current):
    out = []
    for key, value in wanted.items():
        have = (current or {}).get(key)
        if key == "schedule":
            same = have is not None and schedule_satisfies(value, have)
        else:
            same = satisfies(value, have, key)
        if not same:
            out.append(key)
    # A job turns from scheduled into dependent (or back): the other field must go.
    if current and "parents" in wanted and current.get("schedule") and "schedule" not in out:
        out.append("schedule")
    if current and "schedule" in wanted and current.get("parents") and "parents" not in out:
        out.append("parents")
    return sorted(set(out))


def desired_job(current, wanted):
    """The full job to send: Chronos replaces a job with what it is sent."""
    job = strip_server_fields(current)
    if "parents" in wanted:
        job.pop("schedule", None)
        job.pop("scheduleTimeZone", None)
    if "schedule" in wanted:
        job.pop("parents", None)
    job.update(wanted)
    return job


def list_jobs(client):
    jobs = client.get_json("/v1/scheduler/jobs") or []
    return jobs if isinstance(jobs, list) else []


def get_job(client, name):
    for job in list_jobs(client):
        if job.get("name") == name:
            return job
    return None
