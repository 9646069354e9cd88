# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Keep HAProxy's service-port frontends in step with Marathon's apps.

Installed by the mesosphere.cluster.haproxy role under /usr/lib/haproxy-marathon-sync and run
as `python3 -m marathon_haproxy_sync` by haproxy-marathon-sync.service. Standard library only:
the managed hosts need nothing but python3.

Marathon's event stream (/v2/events) is only a cache-invalidation signal, as Marathon's own
documentation advises (events are not ordered): an event that names apps re-reads those apps;
group changes, deployments that name none, reconnections and a jittered timer re-read every
app. From the apps the program renders the dynamic part of HAProxy's configuration, checks it
with `haproxy -c`, and applies it: server changes in place through the runtime API, anything
else by a reload that is then verified against the running worker.

The modules follow the parts: `config` (the JSON file), `marathon` (the client), `events`
(the SSE stream and what each event invalidates), `services` (apps to services), `render`
(services to HAProxy text), `haproxy` (check, install, reload, runtime API), `syncer` (the
path from apps to a running configuration, with its safety checks), `metrics` (the
Prometheus and health endpoint) and `daemon` (threads and the command line).
"""

__version__ = "0.2.0"
