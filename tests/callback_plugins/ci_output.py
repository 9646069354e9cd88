# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Stdout callback for the project's own test runs (scripts/test selects it).

Ansible's default output, but a task that is retried prints `retrying: ...` instead of
`FAILED - RETRYING: ...`. The scenarios wait for clusters to form with `until`, so the default
wording puts dozens of harmless "FAILED" lines in every CI log, ahead of any real failure;
with this callback the first "FAILED" in a log is a failed task, test or stage.
"""

from __future__ import annotations

from ansible import constants as C
from ansible.plugins.callback.default import CallbackModule as DefaultCallback

DOCUMENTATION = """
    name: ci_output
    type: stdout
    short_description: default output, with retries that do not read as failures
    description:
      - The default stdout callback; only the line printed when a task is retried differs.
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

    def v2_runner_retry(self, result):
        left = result.result["retries"] - result.result["attempts"]
        self._display.display(
            f"retrying: [{self.host_label(result)}]: {result.task_name or result.task} ({left} retries left)",
            color=C.COLOR_DEBUG,
        )
