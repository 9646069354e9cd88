"""galaxy.yml, the changelog and every `version_added` tell the same story.

A user reads `version_added` in ansible-doc to know which release of the collection they need,
and the changelog to know what a release brought. Both are only true if:

- galaxy.yml's version is the newest release in changelogs/changelog.yaml, or the next one
  being developed (never older);
- CHANGELOG.rst has a section for every release changelog.yaml records (it was regenerated);
- every plugin's, option's and role entry point's `version_added` is a released version or the
  version being developed, never a later one;
- a plugin whose `version_added` is a released version is listed as new in that release, and a
  plugin listed as new in a release says that release.

The checks are plain functions of the files, so the tests at the bottom can also prove that
each one fails when something disagrees.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?$")


def vkey(version):
    match = SEMVER.match(str(version))
    assert match, f"{version!r} is not a semantic version"
    return tuple(int(part) for part in match.groups())


def python_documentation(path):
    """DOCUMENTATION of a plugin file, read without importing it."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "DOCUMENTATION" for t in node.targets):
            return yaml.safe_load(ast.literal_eval(node.value))
    return None


def collect_docs(root):
    """{(plugin type, name): DOCUMENTATION dict} for every documented plugin of the collection."""
    docs = {}
    for path in sorted((root / "plugins" / "modules").glob("*.py")):
        if path.stem != "__init__":
            docs[("module", path.stem)] = python_documentation(path)
    for path in sorted((root / "plugins" / "filter").glob("*.yml")):
        docs[("filter", path.stem)] = yaml.safe_load(path.read_text())["DOCUMENTATION"]
    for kind in ("inventory", "lookup", "callback", "connection", "test"):
        for path in sorted((root / "plugins" / kind).glob("*.py")):
            doc = python_documentation(path)
            if doc is not None:
                docs[(kind, doc.get("name", path.stem))] = doc
    return docs


def option_versions(options, where):
    """Every (where, version_added) of options and their suboptions."""
    found = []
    for name, spec in (options or {}).items():
        spec = spec or {}
        if "version_added" in spec:
            found.append((f"{where} option {name}", str(spec["version_added"])))
        found += option_versions(spec.get("suboptions") or spec.get("options"), f"{where} option {name}")
    return found


def all_version_added(root):
    found = []
    for (kind, name), doc in collect_docs(root).items():
        where = f"{kind} {name}"
        if "version_added" not in doc:
            found.append((where, None))
        else:
            found.append((where, str(doc["version_added"])))
        found += option_versions(doc.get("options"), where)
    for path in sorted((root / "plugins" / "doc_fragments").glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and \
                    isinstance(node.value.value, str) and node.targets[0].id.isupper():
                fragment = yaml.safe_load(node.value.value) or {}
                found += option_versions(fragment.get("options"), f"doc fragment {path.stem}.{node.targets[0].id}")
    for spec_file in sorted(root.glob("roles/*/meta/argument_specs.y*ml")):
        role = spec_file.parts[-3]
        specs = (yaml.safe_load(spec_file.read_text()) or {}).get("argument_specs") or {}
        for entry, spec in specs.items():
            where = f"role {role} entry point {entry}"
            if "version_added" in (spec or {}):
                found.append((where, str(spec["version_added"])))
            found += option_versions((spec or {}).get("options"), where)
    return found


def load_changelog(root):
    return yaml.safe_load((root / "changelogs" / "changelog.yaml").read_text()) or {}


def released(changelog):
    return sorted((changelog.get("releases") or {}), key=vkey)


def new_in_release(release):
    """{(plugin type, name)} that a changelog.yaml release records as new."""
    new = {("module", m["name"]) for m in release.get("modules") or []}
    for kind, plugins in (release.get("plugins") or {}).items():
        new |= {(kind, p["name"]) for p in plugins}
    return new


# ---------------------------------------------------------------------------------------------
# The checks: each returns a list of sentences, empty when everything agrees.


def check_galaxy_version(root):
    version = yaml.safe_load((root / "galaxy.yml").read_text())["version"]
    if not SEMVER.match(str(version)):
        return [f"galaxy.yml: version {version!r} is not a semantic version"]
    releases = released(load_changelog(root))
    if releases and vkey(version) < vkey(releases[-1]):
        return [f"galaxy.yml says {version}, older than the newest release {releases[-1]} in changelogs/changelog.yaml"]
    fragments = sorted(p.name for p in (root / "changelogs" / "fragments").glob("*.y*ml"))
    if releases and fragments and str(version) == releases[-1]:
        return [f"galaxy.yml says {version}, the version already released, but changelogs/fragments holds changes "
                f"made since ({', '.join(fragments)}): set galaxy.yml to the next version"]
    return []


def check_changelog_rst(root):
    releases = released(load_changelog(root))
    path = root / "CHANGELOG.rst"
    if not releases:
        return []
    if not path.is_file():
        return ["CHANGELOG.rst is missing: run `antsibull-changelog generate`"]
    text = path.read_text()
    return [f"CHANGELOG.rst has no section for release {v}: run `antsibull-changelog generate`"
            for v in releases if not re.search(rf"^v{re.escape(v)}\n=+$", text, re.M)]


def check_version_added(root):
    version = str(yaml.safe_load((root / "galaxy.yml").read_text())["version"])
    changelog = load_changelog(root)
    releases = released(changelog)
    allowed = set(releases) | {version}
    problems = []
    for where, added in all_version_added(root):
        if added is None:
            if not where.startswith(("doc fragment", "role")):
                problems.append(f"{where} has no version_added")
        elif added not in allowed:
            known = ", ".join(releases) or "none yet"
            problems.append(f"{where} says version_added {added}, which is neither a release in "
                            f"changelogs/changelog.yaml ({known}) nor galaxy.yml's {version}")
    docs = collect_docs(root)
    for kind_name, doc in docs.items():
        added = str(doc.get("version_added"))
        releases_by_version = changelog.get("releases") or {}
        if added in releases_by_version and kind_name not in new_in_release(releases_by_version[added]):
            problems.append(f"{kind_name[0]} {kind_name[1]} says version_added {added}, but release {added} "
                            f"in changelogs/changelog.yaml does not list it as new: it is newer, set "
                            f"version_added (and galaxy.yml) to the next version")
    for release_version, release in (changelog.get("releases") or {}).items():
        for kind, name in sorted(new_in_release(release)):
            doc = docs.get((kind, name))
            if doc is not None and str(doc.get("version_added")) != release_version:
                problems.append(f"{kind} {name} is new in release {release_version} per changelogs/changelog.yaml, "
                                f"but says version_added {doc.get('version_added')}")
    return problems


# ---------------------------------------------------------------------------------------------
# The collection as it is


def test_galaxy_version_is_the_newest_release_or_the_next():
    assert check_galaxy_version(ROOT) == []


def test_changelog_rst_covers_every_release():
    assert check_changelog_rst(ROOT) == []


def test_every_version_added_agrees_with_galaxy_and_the_changelog():
    assert check_version_added(ROOT) == []


def test_every_plugin_is_found():
    # The checks above are only as good as the list of plugins they read.
    kinds = {kind for kind, _name in collect_docs(ROOT)}
    assert {"module", "filter", "inventory"} <= kinds


# ---------------------------------------------------------------------------------------------
# The checks catch a disagreement (on a copy of the files that matter)


@pytest.fixture
def copy(tmp_path):
    for rel in ("galaxy.yml", "changelogs/changelog.yaml", "CHANGELOG.rst", "meta/runtime.yml", "requirements-dev.txt"):
        if (ROOT / rel).is_file():
            (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / rel).write_text((ROOT / rel).read_text())
    for pattern in ("plugins/modules/*.py", "plugins/filter/*.yml", "plugins/inventory/*.py",
                    "plugins/doc_fragments/*.py", "roles/*/meta/argument_specs.yml"):
        for path in ROOT.glob(pattern):
            target = tmp_path / path.relative_to(ROOT)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(path.read_text())
    return tmp_path


def set_galaxy_version(root, version):
    path = root / "galaxy.yml"
    path.write_text(re.sub(r"^version: .*$", f"version: {version}", path.read_text(), flags=re.M))


def newest_known(root):
    version = str(yaml.safe_load((root / "galaxy.yml").read_text())["version"])
    return max([version, *released(load_changelog(root))], key=vkey)


def test_a_filter_from_the_future_is_caught(copy):
    path = copy / "plugins" / "filter" / "zk_url.yml"
    path.write_text(re.sub(r'version_added: "?[0-9.]+"?', 'version_added: "9.9.9"', path.read_text(), count=1))
    assert any("filter zk_url says version_added 9.9.9" in p for p in check_version_added(copy))


def test_a_module_option_from_the_future_is_caught(copy):
    path = copy / "plugins" / "modules" / "marathon_app.py"
    text = path.read_text()
    first_option = re.search(r"^options:\n  (\w+):\n", text, re.M)
    name = first_option.group(1)
    path.write_text(text.replace(first_option.group(0), f"{first_option.group(0)}    version_added: 9.9.9\n", 1))
    assert any(f"module marathon_app option {name} says version_added 9.9.9" in p for p in check_version_added(copy))


def test_a_galaxy_version_that_went_back_is_caught(copy):
    changelog = load_changelog(copy)
    if not released(changelog):
        # Before the first release: record one at the current version to have something to go back from.
        changelog["releases"] = {newest_known(copy): {"release_date": "2026-01-01"}}
        (copy / "changelogs" / "changelog.yaml").write_text(yaml.safe_dump(changelog))
    set_galaxy_version(copy, "0.0.1")
    assert check_galaxy_version(copy), "galaxy.yml older than the newest release passed"


def test_a_new_plugin_claiming_a_release_that_does_not_list_it_is_caught(copy):
    version = newest_known(copy)
    changelog = load_changelog(copy)
    changelog.setdefault("releases", {}).setdefault(version, {"release_date": "2026-01-01"})
    (copy / "changelogs" / "changelog.yaml").write_text(yaml.safe_dump(changelog))
    module = copy / "plugins" / "modules" / "brand_new.py"
    module.write_text(f'DOCUMENTATION = """\nmodule: brand_new\nshort_description: New\n'
                      f'version_added: {version}\ndescription: [x]\n"""\n')
    assert any("module brand_new says version_added" in p and "does not list it as new" in p
               for p in check_version_added(copy))


def test_a_missing_changelog_section_is_caught(copy):
    version = newest_known(copy)
    changelog = load_changelog(copy)
    changelog.setdefault("releases", {})["%d.%d.%d" % (vkey(version)[0] + 1, 0, 0)] = {"release_date": "2026-01-01"}
    (copy / "changelogs" / "changelog.yaml").write_text(yaml.safe_dump(changelog))
    (copy / "CHANGELOG.rst").write_text((copy / "CHANGELOG.rst").read_text() if (copy / "CHANGELOG.rst").exists()
                                        else "")
    assert any("has no section for release" in p or "CHANGELOG.rst is missing" in p for p in check_changelog_rst(copy))


def check_requires_ansible(root):
    """meta/runtime.yml claims exactly the ansible-core minor the project installs and tests."""
    runtime = yaml.safe_load((root / "meta" / "runtime.yml").read_text())
    claim = str(runtime.get("requires_ansible", ""))
    pins = re.findall(r"^ansible-core==(\d+)\.(\d+)\.\d+", (root / "requirements-dev.txt").read_text(), re.M)
    if len(pins) != 1:
        return [f"requirements-dev.txt pins ansible-core {len(pins)} times, expected once"]
    major, minor = (int(p) for p in pins[0])
    expected = f">={major}.{minor}.0,<{major}.{minor + 1}.0"
    if claim.replace(" ", "") != expected:
        return [f"meta/runtime.yml claims requires_ansible {claim!r}, but only ansible-core {major}.{minor} "
                f"is tested: claim {expected!r}"]
    return []


def test_requires_ansible_claims_what_is_tested():
    assert check_requires_ansible(ROOT) == []


def test_changes_after_a_release_under_its_version_are_caught(copy):
    releases = released(load_changelog(copy))
    galaxy = copy / "galaxy.yml"
    galaxy.write_text(re.sub(r"^version: .*$", f"version: {releases[-1]}", galaxy.read_text(), flags=re.M))
    (copy / "changelogs" / "fragments").mkdir(parents=True, exist_ok=True)
    (copy / "changelogs" / "fragments" / "later.yml").write_text("minor_changes: [x]\n")
    assert any("the version already released" in p for p in check_galaxy_version(copy))


def test_a_claim_wider_than_what_is_tested_is_caught(copy):
    runtime = copy / "meta" / "runtime.yml"
    runtime.write_text(re.sub(r'requires_ansible: ".*"', 'requires_ansible: ">=2.19.0"', runtime.read_text()))
    assert any("only ansible-core 2.19 is tested" in p for p in check_requires_ansible(copy))
