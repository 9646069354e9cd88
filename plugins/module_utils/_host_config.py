# Copyright (c) mesosphere.cluster contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Private engine of the host_config module: a service's state on one host, in one call.

This is private to the mesosphere.cluster collection; it may change without notice.

One call, in this order, each step reading before it writes and writing only what differs:

1. packages: the apt repository's files (source, pins, key) are written, and when one changed the
   package lists are refreshed; a runtime mask that an interrupted install left on a held unit is
   lifted; missing packages are installed with apt-get while the held units are masked for the
   runtime, so that no maintainer script starts a daemon before its configuration is written;
2. directories, file sets (a directory holding exactly the given files, through _directory),
   files (content, or a copy of a file on the host; optionally validated by a command before
   they replace the old one: the command may be a program that a file set just installed),
   alternatives (update-alternatives; they may point at a directory just made) and absent paths;
3. systemd reads its units again when a unit file changed;
4. units: enabled or disabled, started or stopped;
5. pending restarts: which units run an older configuration than the files they read (in check
   mode, also the units whose files this call would change);
6. listings of folders, for the caller's own decisions.

A role whose host is already right pays one round trip for all of it. Standard library only.
"""

from __future__ import annotations

import glob
import grp
import os
import pwd
import shlex
import shutil
import stat
import tempfile
import time
from collections.abc import Callable
from typing import Any

from ansible_collections.mesosphere.cluster.plugins.module_utils._directory import (
    MASK,
    Directory,
    DirectoryError,
    check_name,
    parse_mode,
    render_flag,
)
from ansible_collections.mesosphere.cluster.plugins.module_utils._unit import (
    ACTIVE_STATES,
    UnitError,
    pending,
    show,
    unit_name,
)

# run(argv, environ_update=None, data=None) -> (rc, stdout, stderr)
Runner = Callable[..., tuple[int, str, str]]

APT_LISTS = "/var/lib/apt/lists"
RUNTIME_UNITS = "/run/systemd/system"
UNIT_DIRS = ("/etc/systemd/system/", "/lib/systemd/system/", "/usr/lib/systemd/system/")
APT_ENV = {"DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C"}
APT_OPTIONS = ["-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold"]
DIFF_LIMIT = 64 * 1024


class HostConfigError(Exception):
    """A failure with a sentence for a person."""


def _tail(text: str, lines: int = 6) -> str:
    kept = [line for line in text.strip().splitlines() if line.strip()]
    return " | ".join(kept[-lines:]) or "no output"


def _owner_ids(owner: str, group: str, tolerate: bool) -> tuple[int, int] | None:
    """(uid, gid), or None when one is unknown and `tolerate` (check mode before the package
    that creates it is installed)."""
    try:
        uid = int(owner) if owner.isdigit() else pwd.getpwnam(owner).pw_uid
    except KeyError:
        if tolerate:
            return None
        raise HostConfigError("owner %r is not a user on this host." % owner) from None
    try:
        gid = int(group) if group.isdigit() else grp.getgrnam(group).gr_gid
    except KeyError:
        if tolerate:
            return None
        raise HostConfigError("group %r is not a group on this host." % group) from None
    return uid, gid


def _is_unit_file(path: str) -> bool:
    return path.startswith(UNIT_DIRS)


def _under(path: str, roots: list[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip("/") + "/") for root in roots)


class HostConfig:
    """One call of host_config. `params` are the module's; `run` is AnsibleModule.run_command."""

    def __init__(self, params: dict[str, Any], run: Runner, bin_path: Callable[[str], str | None],
                 check_mode: bool = False, diff: bool = False) -> None:
        self.params = params
        self.run_cmd = run
        self.bin_path = bin_path
        self.check_mode = check_mode
        self.diff = diff
        self.changed_paths: list[str] = []
        self.diffs: list[dict[str, Any]] = []
        self.result: dict[str, Any] = dict(
            installed=[], upgraded=[], lifted=[], units={}, pending={}, listing={}, daemon_reloaded=False,
            cache_updated=False
        )
        # In check mode a package still to install may be what creates a user, a group or a
        # file to copy: those are then reported as changes rather than refused.
        self.tolerate_missing = False

    # ---- helpers -----------------------------------------------------------------------------

    def _run(self, argv: list[str], what: str, env: dict[str, str] | None = None) -> str:
        rc, out, err = self.run_cmd(argv, environ_update=env or {})
        if rc != 0:
            raise HostConfigError("%s failed (%s exited %s): %s" % (what, argv[0], rc, _tail(err or out)))
        return out

    def _tool(self, name: str) -> str:
        path = self.bin_path(name)
        if not path:
            raise HostConfigError("%s is not installed on this host." % name)
        return path

    def _changed(self, path: str) -> None:
        if path not in self.changed_paths:
            self.changed_paths.append(path)

    # ---- 1. packages --------------------------------------------------------------------------

    def _installed(self, names: list[str]) -> set[str]:
        rc, out, _err = self.run_cmd(
            [self._tool("dpkg-query"), "--show", "--showformat=${Package} ${db:Status-Status}\n", *names]
        )
        # rc 1 with "no packages found matching X" for the ones dpkg never knew
        del rc
        return {line.split()[0] for line in out.splitlines() if line.strip().endswith(" installed")}

    def _lift_masks(self, units: list[str]) -> None:
        for unit in units:
            mask = os.path.join(RUNTIME_UNITS, unit)
            if os.path.islink(mask) and os.readlink(mask) == "/dev/null":
                self.result["lifted"].append(unit)
                if not self.check_mode:
                    self._run([self._tool("systemctl"), "unmask", "--runtime", "--", unit],
                              "Lifting the start ban on %s" % unit)

    def _lists_fresh(self) -> bool:
        valid = int(self.params.get("cache_valid_time") or 0)
        lists = glob.glob(os.path.join(APT_LISTS, "*_Packages*"))
        if not lists:
            return False
        return time.time() - max(os.path.getmtime(p) for p in lists) < valid

    def repository(self) -> None:
        """The repository's files, before any package; lists refreshed when one changed."""
        items = self.params.get("repository_files") or []
        if not items:
            return
        before = len(self.changed_paths)
        for folder in sorted({os.path.dirname(item["path"]) for item in items}):
            if not os.path.isdir(folder):
                self._changed(folder)
                if not self.check_mode:
                    os.makedirs(folder, mode=0o755)
        self.files(items)
        if len(self.changed_paths) > before:
            self.result["cache_updated"] = True
            if not self.check_mode:
                self._run([self._tool("apt-get"), "update", "-q"], "apt-get update", APT_ENV)

    def _policy(self, names: list[str]) -> dict[str, tuple[str, str]]:
        """Each package's (installed, candidate) version, as apt-cache policy says under the pins."""
        out = self._run([self._tool("apt-cache"), "policy", *names], "apt-cache policy", APT_ENV)
        versions: dict[str, tuple[str, str]] = {}
        name = None
        fields: dict[str, str] = {}
        for line in out.splitlines() + [""]:
            if line and not line.startswith(" ") and line.endswith(":"):
                name, fields = line[:-1], {}
                continue
            key, sep, value = line.strip().partition(": ")
            if name and sep and key in ("Installed", "Candidate"):
                fields[key] = value.strip()
                if len(fields) == 2:
                    versions[name] = (fields["Installed"], fields["Candidate"])
        return versions

    def _refresh_lists(self, apt_get: str) -> None:
        if self.params.get("update_cache", True) and not self._lists_fresh() and not self.result.get("cache_updated"):
            self.result["cache_updated"] = True
            self._run([apt_get, "update", "-q"], "apt-get update", APT_ENV)

    def packages(self) -> None:
        names = list(self.params.get("packages") or [])
        held = [unit_name(u) for u in self.params.get("hold_units") or []]
        if not names:
            return
        self._lift_masks(held)
        missing = [name for name in names if name not in self._installed(names)]
        present = [name for name in names if name not in missing]
        upgrades = []
        if self.params.get("upgrade") and present:
            if not self.check_mode:
                self._refresh_lists(self._tool("apt-get"))
            for name, (installed, candidate) in self._policy(present).items():
                if candidate not in ("", "(none)") and candidate != installed:
                    upgrades.append(dict(name=name, installed=installed, to=candidate))
        if not missing and not upgrades:
            return
        self.result["installed"] = missing
        self.result["upgraded"] = upgrades
        if self.check_mode:
            self.tolerate_missing = bool(missing)
            return
        systemctl = self._tool("systemctl") if held else ""
        apt_get = self._tool("apt-get")
        if held:
            self._run([systemctl, "mask", "--runtime", "--", *held], "Masking %s while installing" % ", ".join(held))
        try:
            self._refresh_lists(apt_get)
            wanted = missing + ["%s=%s" % (u["name"], u["to"]) for u in upgrades]
            self._run([apt_get, "install", "-y", "-q", "--allow-downgrades", *APT_OPTIONS, *wanted],
                      "Installing %s" % ", ".join(wanted), APT_ENV)
        finally:
            if held:
                self._run([systemctl, "unmask", "--runtime", "--", *held],
                          "Lifting the start ban on %s" % ", ".join(held))

    # ---- 2. alternatives, directories, files, file sets, absent paths --------------------------

    def alternatives(self) -> None:
        for alt in self.params.get("alternatives") or []:
            name, link, path = alt["name"], alt["link"], alt["path"]
            tool = self.bin_path("update-alternatives")
            current = ""
            if tool:
                rc, out, _err = self.run_cmd([tool, "--query", name])
                if rc == 0:
                    current = next((line[7:].strip() for line in out.splitlines() if line.startswith("Value: ")), "")
            if current == path:
                continue
            self._changed(link)
            if self.check_mode:
                continue
            tool = self._tool("update-alternatives")
            what = "Pointing the alternative %s at %s" % (name, path)
            self._run([tool, "--install", link, name, path, str(alt.get("priority", 50))], what)
            self._run([tool, "--set", name, path], what)

    def directories(self) -> None:
        for item in self.params.get("directories") or []:
            path = item["path"]
            mode = parse_mode(item.get("mode", "0755"))
            ids = _owner_ids(item.get("owner", "root"), item.get("group", "root"), self._tolerate())
            try:
                st: os.stat_result | None = os.lstat(path)
            except FileNotFoundError:
                st = None
            if st is not None and not stat.S_ISDIR(st.st_mode):
                raise HostConfigError("%s should be a directory, but is a file or link; move it away first." % path)
            if st is not None and ids and stat.S_IMODE(st.st_mode) == mode and (st.st_uid, st.st_gid) == ids:
                continue
            self._changed(path)
            if self.check_mode:
                continue
            try:
                if st is None:
                    os.makedirs(path, mode=mode)
                if ids:
                    os.chown(path, *ids)
                os.chmod(path, mode)
            except OSError as exc:
                raise HostConfigError("Could not create the directory %s: %s." % (path, exc.strerror)) from None

    def _tolerate(self) -> bool:
        return self.check_mode and self.tolerate_missing

    def _file_data(self, item: dict[str, Any]) -> bytes | None:
        if item.get("content") is not None:
            return str(item["content"]).encode("utf-8")
        source = item.get("copy_from")
        if not source:
            raise HostConfigError("the file %s needs a content or a copy_from." % item["path"])
        try:
            with open(source, "rb") as handle:
                return handle.read()
        except FileNotFoundError:
            if self._tolerate():
                return None
            raise HostConfigError("%s, to copy to %s, does not exist on this host." % (source, item["path"])) from None
        except OSError as exc:
            raise HostConfigError("Could not read %s: %s." % (source, exc.strerror)) from None

    def _validate(self, command: str, tmp: str, path: str) -> None:
        if "%s" not in command:
            raise HostConfigError("the validate command of %s must contain %%s, the new file's path." % path)
        argv = shlex.split(command.replace("%s", shlex.quote(tmp)))
        rc, out, err = self.run_cmd(argv)
        if rc != 0:
            raise HostConfigError("The new %s was refused by `%s` (exit %s), so the old one stays: %s"
                                  % (path, command, rc, _tail(err or out)))

    def _file_diff(self, path: str, before: bytes | None, after: bytes | None, secret: bool) -> None:
        def text(data: bytes | None) -> str:
            if data is None:
                return ""
            if secret:
                return MASK + "\n"
            if len(data) > DIFF_LIMIT:
                return "(%d bytes, not shown)\n" % len(data)
            return data.decode("utf-8", errors="replace")

        self.diffs.append(dict(before_header=path, after_header=path, before=text(before), after=text(after)))

    def files(self, items: list[dict[str, Any]] | None = None) -> None:
        for item in self.params.get("files") or [] if items is None else items:
            path = item["path"]
            if item.get("state") == "absent":
                self._remove(path)
                continue
            mode = parse_mode(item.get("mode", "0644"))
            ids = _owner_ids(item.get("owner", "root"), item.get("group", "root"), self._tolerate())
            try:
                st: os.stat_result | None = os.lstat(path)
            except FileNotFoundError:
                st = None
            if st is not None and item.get("create_only"):
                continue
            data = self._file_data(item)
            current: bytes | None = None
            if st is not None and stat.S_ISREG(st.st_mode):
                with open(path, "rb") as handle:
                    current = handle.read()
            same_content = data is not None and current == data
            if st is not None and same_content and ids and stat.S_IMODE(st.st_mode) == mode and \
                    (st.st_uid, st.st_gid) == ids:
                continue
            self._changed(path)
            if self.diff and not same_content:
                self._file_diff(path, current, data, bool(item.get("secret")))
            if self.check_mode:
                continue
            if data is None or ids is None:  # only check mode tolerates them missing
                raise HostConfigError("Cannot write %s: its source or its owner is missing on this host." % path)
            if same_content and st is not None and stat.S_ISREG(st.st_mode):
                try:
                    os.chown(path, *ids)
                    os.chmod(path, mode)
                except OSError as exc:
                    raise HostConfigError("Could not set the owner or mode of %s: %s." % (path, exc.strerror)) from None
                continue
            self._write(path, data, mode, ids, item.get("validate"))

    def _write(self, path: str, data: bytes, mode: int, ids: tuple[int, int], validate: str | None) -> None:
        folder = os.path.dirname(path) or "."
        if not os.path.isdir(folder):
            raise HostConfigError("Could not write %s: the folder %s does not exist." % (path, folder))
        tmp = None
        try:
            fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".")
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chown(tmp, *ids)
            os.chmod(tmp, mode)
            if validate:
                self._validate(validate, tmp, path)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            os.replace(tmp, path)
            tmp = None
        except OSError as exc:
            raise HostConfigError("Could not write %s: %s." % (path, exc.strerror)) from None
        finally:
            if tmp is not None and os.path.lexists(tmp):
                os.unlink(tmp)

    @staticmethod
    def wanted_files(item: dict[str, Any]) -> dict[str, bytes]:
        """A file set's names to bytes: its files as they are, or its flags as flag files."""
        wanted = {}
        for name, content in (item.get("files") or {}).items():
            if not isinstance(content, str):
                raise HostConfigError("file %r of %s has no text content." % (name, item["path"]))
            wanted[name] = content.encode("utf-8")
        for name, value in (item.get("flags") or {}).items():
            try:
                wanted[name] = render_flag(name, value)
            except DirectoryError as exc:
                raise HostConfigError("%s (in %s)" % (exc, item["path"])) from None
        return wanted

    def file_sets(self) -> None:
        for item in self.params.get("file_sets") or []:
            path = item["path"]
            wanted = self.wanted_files(item)
            if self._tolerate() and _owner_ids(item.get("owner", "root"), item.get("group", "root"), True) is None:
                self._changed(path)
                continue
            try:
                done = Directory(
                    path, wanted, noun="file", mode=item.get("mode", "0644"), owner=item.get("owner", "root"),
                    group=item.get("group", "root"), secret=set(item.get("secret") or []),
                    keep=set(item.get("keep") or []), prune=item.get("prune", True), create=True,
                    check_mode=self.check_mode, diff=self.diff,
                ).run()
            except DirectoryError as exc:
                raise HostConfigError(str(exc)) from None
            for name in done["written"] + done["removed"]:
                self._changed(os.path.join(path, name))
            if done["changed"] and not (done["written"] or done["removed"]):
                self._changed(path)
            if self.diff and done["changed"]:
                self.diffs.append(done["diff"])

    def _remove(self, path: str) -> None:
        if not os.path.lexists(path):
            return
        self._changed(path)
        if self.check_mode:
            return
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
        except OSError as exc:
            raise HostConfigError("Could not remove %s: %s." % (path, exc.strerror)) from None

    def absent(self) -> None:
        for path in self.params.get("absent") or []:
            self._remove(path)

    # ---- 3.-4. systemd ----------------------------------------------------------------------------

    def daemon_reload(self) -> None:
        if not any(_is_unit_file(path) for path in self.changed_paths):
            return
        self.result["daemon_reloaded"] = True
        if not self.check_mode:
            self._run([self._tool("systemctl"), "daemon-reload"], "systemctl daemon-reload")

    def units(self) -> None:
        items = self.params.get("units") or []
        if not items:
            return
        systemctl = self._tool("systemctl")
        for item in items:
            unit = unit_name(item["name"])
            values = show(self.run_cmd, systemctl, unit, ("ActiveState", "LoadState", "UnitFileState"))
            exists = values.get("LoadState") not in ("not-found", "")
            active = values.get("ActiveState") in ACTIVE_STATES
            enabled_wanted = item.get("enabled")
            state = item.get("state")
            if not exists and (enabled_wanted or state == "started"):
                if self.check_mode and (self.tolerate_missing or self.result["daemon_reloaded"]):
                    self.result["units"][unit] = dict(active=False, enabled=False, changed=True)
                    continue
                raise HostConfigError("The unit %s does not exist on this host; is its package installed?" % unit)
            changed = False
            enabled = None
            if enabled_wanted is not None and exists:
                rc, out, _err = self.run_cmd([systemctl, "is-enabled", unit])
                enabled = rc == 0 and out.strip() not in ("masked", "masked-runtime")
                if enabled != bool(enabled_wanted):
                    changed = True
                    if not self.check_mode:
                        verb = "enable" if enabled_wanted else "disable"
                        self._run([systemctl, verb, unit], "systemctl %s %s" % (verb, unit))
                    enabled = bool(enabled_wanted)
            if state == "started" and not active:
                changed = True
                if not self.check_mode:
                    self._start(systemctl, unit)
                active = True
            elif state == "stopped" and active:
                changed = True
                if not self.check_mode:
                    self._run([systemctl, "stop", unit], "Stopping %s" % unit)
                active = False
            self.result["units"][unit] = dict(active=active, enabled=enabled, changed=changed)

    def _start(self, systemctl: str, unit: str) -> None:
        rc, out, err = self.run_cmd([systemctl, "start", unit])
        if rc != 0:
            raise HostConfigError("%s did not start (systemctl start exited %s: %s); its log says why: "
                                  "journalctl -u %s." % (unit, rc, _tail(err or out, 2), unit))

    # ---- 5.-6. what the caller decides on ---------------------------------------------------------

    def pending(self) -> None:
        items = self.params.get("pending") or []
        if not items:
            return
        systemctl = self._tool("systemctl")
        for item in items:
            unit = unit_name(item["unit"])
            paths = list(item.get("paths") or [])
            try:
                state = pending(self.run_cmd, systemctl, unit, paths, item.get("process") or "main")
            except UnitError as exc:
                raise HostConfigError(str(exc)) from None
            started_now = self.result["units"].get(unit, {}).get("changed") and \
                self.result["units"][unit].get("active")
            if self.check_mode and state["active"] and not started_now:
                # what a real run would write, and so restart for
                would = [path for path in self.changed_paths if _under(path, paths)]
                if would:
                    state["changed_paths"] = sorted(set(state["changed_paths"]) | set(would))
                    state["restart_pending"] = True
            state["check_mode"] = self.check_mode
            self.result["pending"][item.get("name") or unit] = state

    def listing(self) -> None:
        for path in self.params.get("list") or []:
            try:
                self.result["listing"][path] = sorted(os.listdir(path))
            except FileNotFoundError:
                self.result["listing"][path] = []
            except OSError as exc:
                raise HostConfigError("Could not list %s: %s." % (path, exc.strerror)) from None

    def check_input(self) -> None:
        """Refuse malformed input before anything on the host is touched."""
        try:
            for key in ("directories", "repository_files", "files", "file_sets"):
                for item in self.params.get(key) or []:
                    parse_mode(item.get("mode", "0755"))
        except DirectoryError as exc:
            raise HostConfigError("%s (in %s)" % (exc, key)) from None
        for item in (self.params.get("repository_files") or []) + (self.params.get("files") or []):
            command = item.get("validate")
            if command and "%s" not in command:
                raise HostConfigError("the validate command of %s must contain %%s, the new file's path."
                                      % item["path"])
            if item.get("state") != "absent" and item.get("content") is None and not item.get("copy_from"):
                raise HostConfigError("the file %s needs a content or a copy_from." % item["path"])
        for item in self.params.get("file_sets") or []:
            for name in self.wanted_files(item):
                try:
                    check_name(name, "file")
                except DirectoryError as exc:
                    raise HostConfigError("%s (in %s)" % (exc, item["path"])) from None
        for path in [item["path"] for key in ("directories", "repository_files", "files", "file_sets")
                     for item in self.params.get(key) or []] + list(self.params.get("absent") or []):
            if not os.path.isabs(path):
                raise HostConfigError("%s is not an absolute path." % path)

    def run(self) -> dict[str, Any]:
        self.check_input()
        try:
            self.repository()
            self.packages()
            self.directories()
            self.file_sets()
            self.files()
            self.alternatives()
            self.absent()
            self.daemon_reload()
            self.units()
            self.pending()
            self.listing()
        except DirectoryError as exc:
            raise HostConfigError(str(exc)) from None
        result = self.result
        result["updated_paths"] = self.changed_paths
        result["changed"] = bool(
            self.changed_paths or result["installed"] or result["upgraded"] or result["lifted"]
            or any(u["changed"] for u in result["units"].values())
        )
        result["check_mode"] = self.check_mode
        if self.diff:
            result["diff"] = self.diffs
        return result


class HostReset(HostConfig):
    """One call of host_reset: what a role installed removed from the host, in the order that
    lets each step work: the units stopped and disabled, the packages purged (their maintainer
    scripts may still read their files), the paths removed, systemd's view of the removed units
    refreshed and the failed state they ended in cleared."""

    def stop_units(self) -> None:
        units = [unit_name(u) for u in self.params.get("units") or []]
        if not units:
            return
        systemctl = self._tool("systemctl")
        for unit in units:
            values = show(self.run_cmd, systemctl, unit, ("ActiveState", "LoadState", "UnitFileState"))
            if values.get("LoadState") in ("not-found", ""):
                continue
            if values.get("ActiveState") in ACTIVE_STATES + ("activating", "deactivating"):
                self.result["stopped"].append(unit)
                if not self.check_mode:
                    self._run([systemctl, "stop", unit], "Stopping %s" % unit)
            if not self.check_mode:
                # A unit with KillMode=process (mesos-slave: the executors outlive the agent) leaves
                # processes behind when it stops; nothing of it may stay. With none left, systemd
                # answers that the unit is not loaded: nothing to do.
                self.run_cmd([systemctl, "kill", "--kill-who=all", "--signal=SIGKILL", unit])
            rc, out, _err = self.run_cmd([systemctl, "is-enabled", unit])
            if rc == 0 and out.strip() not in ("static", "generated", "indirect", "alias", "transient"):
                self.result["disabled"].append(unit)
                if not self.check_mode:
                    self._run([systemctl, "disable", unit], "systemctl disable %s" % unit)

    def purge(self) -> None:
        names = list(self.params.get("packages") or [])
        if not names:
            return
        rc, out, _err = self.run_cmd(
            [self._tool("dpkg-query"), "--show", "--showformat=${Package} ${db:Status-Abbrev}\n", *names]
        )
        del rc
        # installed (ii), half-installed, or removed with its configuration left (rc): purge all
        present = [line.split()[0] for line in out.splitlines()
                   if len(line.split()) > 1 and line.split()[1][1:2] not in ("n", "")]
        if not present:
            return
        self.result["purged"] = present
        if not self.check_mode:
            self._run([self._tool("apt-get"), "purge", "-y", "-q", *APT_OPTIONS, *present],
                      "Purging %s" % ", ".join(present), APT_ENV)

    def absent_if_empty(self) -> None:
        """Shared folders (a role's fact in /etc/ansible/facts.d) go once nothing is left in them; in
        check mode, a folder whose only entries would be removed counts as empty."""
        for path in self.params.get("absent_if_empty") or []:
            if not os.path.isdir(path) or os.path.islink(path):
                continue
            left = [os.path.join(path, name) for name in os.listdir(path)]
            if any(entry not in self.changed_paths for entry in left):
                continue
            self._changed(path)
            if not self.check_mode:
                try:
                    os.rmdir(path)
                except OSError as exc:
                    raise HostConfigError("Could not remove %s: %s." % (path, exc.strerror)) from None

    def clear_failed(self) -> None:
        units = [unit_name(u) for u in self.params.get("units") or []]
        if not units or self.check_mode:
            return
        systemctl = self._tool("systemctl")
        for unit in units:
            rc, _out, _err = self.run_cmd([systemctl, "is-failed", "--quiet", "--", unit])
            if rc == 0:
                self.result["cleared"].append(unit)
                self._run([systemctl, "reset-failed", "--", unit], "systemctl reset-failed %s" % unit)

    def run(self) -> dict[str, Any]:
        self.result.update(stopped=[], disabled=[], purged=[], cleared=[])
        for path in self.params.get("absent") or []:
            if not os.path.isabs(path):
                raise HostConfigError("%s is not an absolute path." % path)
        self.stop_units()
        self.purge()
        # the runtime masks that an interrupted install left go with the paths
        masks = [os.path.join(RUNTIME_UNITS, unit_name(u)) for u in self.params.get("units") or []]
        self.params = dict(self.params, absent=list(self.params.get("absent") or []) + masks)
        self.absent()
        self.absent_if_empty()
        if not self.check_mode and (self.changed_paths or self.result["purged"]) and self.params.get("units"):
            self._run([self._tool("systemctl"), "daemon-reload"], "systemctl daemon-reload")
        self.clear_failed()
        result = {key: self.result[key] for key in ("stopped", "disabled", "purged", "cleared")}
        result["removed"] = self.changed_paths
        done = any(result[key] for key in ("stopped", "disabled", "purged", "cleared"))
        result["changed"] = bool(self.changed_paths or done)
        result["check_mode"] = self.check_mode
        return result
