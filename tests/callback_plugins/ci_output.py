# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Stdout callback for the project's own test runs (scripts/test selects it).

Ansible's default output, but a task that is retried prints `retrying: ...` instead of
`FAILED - RETRYING: ...`, and each play's banner is followed by the time it started and how far
into the run that is, so that a CI log shows where a scenario's time goes. The scenarios wait
for clusters to form with `until`, so the default wording puts dozens of harmless "FAILED" lines
in every CI log, ahead of any real failure; with this callback the first "FAILED" in a log is a
failed task, test or stage.
"""

from __future__ import annotations

import time

from ansible import constants as C
from ansible.plugins.callback.default import CallbackModule as DefaultCallback

DOCUMENTATION = """
    name: ci_output
    type: stdout
    short_description: default output, with retries that do not read as failures
    description:
      - The default stdout callback; the line printed when a task is retried differs, and each
        play's banner is followed by a line with its start time.
    extends_documentation_fragment:
      - default_callback
      - result_format_callback
    requirements:
      - set as stdout in configuration
"""


class CallbackModule(DefaultCallback):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "ci_output"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._run_started = time.time()

    def v2_playbook_on_play_start(self, play):
        super().v2_playbook_on_play_start(play)
        now = time.time()
        started = time.strftime("%H:%M:%S", time.localtime(now))
        into = now - self._run_started
        self._display.display("started %s, %d s into this run" % (started, into), color=C.COLOR_DEBUG)

    def v2_runner_retry(self, result):
        left = result.result["retries"] - result.result["attempts"]
        self._display.display(
            f"retrying: [{self.host_label(result)}]: {result.task_name or result.task} ({left} retries left)",
            color=C.COLOR_DEBUG,
        )
