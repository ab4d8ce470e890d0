"""A small structural checker of FHIR R4 JSON against the HL7-BE StructureDefinitions (tests only).

The Belgian profiles are read IN PLACE from ``../shared/be-fhir-examples/packages/*/package``
(never copied). A resource is checked against the *snapshot* of each profile in its
``meta.profile`` (every HL7-BE profile in the packages carries one; the differential is used over
nothing when a snapshot is missing, which only checks what the profile itself says). What is
checked, element by element of the snapshot, for each instance of the element's parent:

- ``min``/``max`` cardinality (``max: 0`` = the element is forbidden by the profile);
- ``fixed[x]`` (equality) and ``pattern[x]`` (the instance contains the pattern);
- slices: extension slices are matched by URL (the slice's type profile), other slices by their
  ``value``/``pattern`` discriminators (the fixed/pattern value at the discriminator path), so a
  required extension or a required identifier slice is checked by its URL/system; slice children
  are checked on the matching items only. Slices whose discriminator cannot be evaluated (type,
  profile, exists) are not matched and are listed in :attr:`Report.unchecked`;
- ``required`` bindings whose value set is in the packages and small (enumerated concepts or a
  whole package CodeSystem, at most :data:`MAX_BINDING` codes); other bindings are listed in
  :attr:`Report.unchecked` (e.g. the base FHIR value sets, not in the packages).

Not checked: invariants (FHIRPath constraints), reference target profiles, datatype profiles
(be-address...), terminology outside the packages. ``fhir.resources.R4B`` checks the base
structure; this checks what the Belgian profiles add.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

MAX_BINDING = 500
"""Bindings over larger value sets are not checked (they are terminology, not structure)."""

Json = dict[str, Any]


@dataclass
class Report:
    """The violations found (``path: rule: detail``) and what could not be checked."""

    violations: list[str] = field(default_factory=list)
    unchecked: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Packages:
    """The StructureDefinitions, ValueSets and CodeSystems of the HL7-BE packages, by URL."""

    profiles: dict[str, Json]
    value_sets: dict[str, Json]
    code_systems: dict[str, Json]


@cache
def load_packages(root: Path) -> Packages:
    """Read every ``*/package/*.json`` conformance resource under ``root`` (in place)."""
    found: dict[str, dict[str, Json]] = {
        "StructureDefinition": {},
        "ValueSet": {},
        "CodeSystem": {},
    }
    for path in sorted(root.glob("*/package/*.json")):
        data = json.loads(path.read_bytes())
        if isinstance(data, dict) and data.get("resourceType") in found and "url" in data:
            found[data["resourceType"]][data["url"]] = data
    return Packages(found["StructureDefinition"], found["ValueSet"], found["CodeSystem"])


def check(resource: Json, packages: Packages) -> Report:
    """Check ``resource`` against every profile of its ``meta.profile`` found in ``packages``."""
    report = Report()
    for url in resource.get("meta", {}).get("profile", []):
        _against(resource, url, packages, report, resource["resourceType"])
    return report


def _against(resource: Json, url: str, packages: Packages, report: Report, where: str) -> None:
    sd = packages.profiles.get(url.split("|")[0])
    if sd is None:
        report.unchecked.add(f"profile {url} (not in the packages)")
        return
    elements = (sd.get("snapshot") or sd.get("differential") or {}).get("element", [])
    root = resource["resourceType"]
    checker = _Checker(packages, {e["id"]: e for e in elements}, report, url)
    checker.walk(root, [resource], where)


def check_all(resources: list[Json], packages: Packages) -> Report:
    """One report over many resources (violations prefixed by resource type and id)."""
    total = Report()
    for res in resources:
        one = check(res, packages)
        where = f"{res['resourceType']}/{res.get('id', '?')}"
        total.violations.extend(f"{where} {v}" for v in one.violations)
        total.unchecked |= one.unchecked
    return total


def _children(obj: Any, name: str) -> list[Any]:
    """The values of element ``name`` in ``obj``, flattened (``foo[x]`` matches ``fooString``)."""
    if not isinstance(obj, dict):
        return []
    if name.endswith("[x]"):
        stem = name[:-3]
        keys = [k for k in obj if k.startswith(stem) and k[len(stem) : len(stem) + 1].isupper()]
    else:
        keys = [name] if name in obj else []
    out: list[Any] = []
    for key in keys:
        value = obj[key]
        out.extend(value if isinstance(value, list) else [value])
    return out


def _at_path(obj: Any, path: str) -> list[Any]:
    values = [obj]
    for part in path.split("."):
        if part == "$this":
            continue
        values = [v for value in values for v in _children(value, part)]
    return values


def _contains(value: Any, pattern: Any) -> bool:
    """FHIR pattern semantics: every pattern field is present (lists: each item matched)."""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(
            _contains(value.get(k), v) for k, v in pattern.items()
        )
    if isinstance(pattern, list):
        items = value if isinstance(value, list) else [value]
        return all(any(_contains(i, p) for i in items) for p in pattern)
    return bool(value == pattern)


def _constraint(element: Json) -> tuple[str, Any] | None:
    for key, value in element.items():
        if key.startswith("fixed"):
            return "fixed", value
        if key.startswith("pattern"):
            return "pattern", value
    return None


@dataclass
class _Checker:
    packages: Packages
    elements: dict[str, Json]
    report: Report
    profile: str

    children: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for element_id in self.elements:
            parent, _, rest = element_id.rpartition(".")
            if parent and "/" not in rest:
                self.children.setdefault(parent, []).append(element_id)

    def walk(self, element_id: str, instances: list[Any], where: str) -> None:
        """Check the children of ``element_id`` on each of its ``instances``."""
        for child_id in self.children.get(element_id, []):
            child = self.elements[child_id]
            rest = child_id[len(element_id) + 1 :]
            name, _, slice_name = rest.partition(":")
            for index, instance in enumerate(instances):
                values = _children(instance, name)
                if slice_name and name.endswith("[x]"):  # a type slice: valueString...
                    values = _children(instance, slice_name)
                elif slice_name:
                    matcher = self._slice_matcher(element_id + "." + name, child_id)
                    if matcher is None:
                        if child.get("min", 0) > 0:
                            self.report.unchecked.add(f"slice {child_id} of {self.profile}")
                        continue
                    values = [v for v in values if matcher(v)]
                at = f"{where}[{index}].{rest}" if len(instances) > 1 else f"{where}.{rest}"
                self._element(child, values, at)
                if values:
                    self.walk(child_id, values, at)

    def _element(self, element: Json, values: list[Any], at: str) -> None:
        low, high = element.get("min", 0), element.get("max", "*")
        if len(values) < low:
            self._violation(at, "min", f"{len(values)} < {low}")
        if high != "*" and len(values) > int(high):
            self._violation(at, "max", f"{len(values)} > {high}")
        rule = _constraint(element)
        if rule is not None:
            kind, expected = rule
            for value in values:
                ok = value == expected if kind == "fixed" else _contains(value, expected)
                if not ok:
                    self._violation(at, kind, f"{value!r} is not {expected!r}")
        for value in values:
            if isinstance(value, dict) and "url" in value and at.endswith("xtension"):
                self._extension(value, at)
            # a contained/entry resource with a profile: check it too
            if isinstance(value, dict) and "resourceType" in value:
                for t in element.get("type", []):
                    for url in t.get("profile", []):
                        _against(value, url, self.packages, self.report, at)
        binding = element.get("binding") or {}
        if binding.get("strength") == "required" and values:
            self._binding(binding["valueSet"].split("|")[0], values, at)

    def _extension(self, value: Json, at: str) -> None:
        """Check an extension instance against its own definition when the packages have it."""
        sd = self.packages.profiles.get(value["url"])
        if sd is None or sd.get("type") != "Extension":
            if "/standards/fhir/" in value["url"]:  # a Belgian extension the packages lack
                self.report.unchecked.add(f"extension {value['url']}")
            return
        elements = (sd.get("snapshot") or sd.get("differential") or {}).get("element", [])
        sub = _Checker(self.packages, {e["id"]: e for e in elements}, self.report, sd["url"])
        sub.walk("Extension", [value], at)

    def _slice_matcher(self, base_id: str, slice_id: str) -> Any:
        base = self.elements.get(base_id) or {}
        slice_el = self.elements[slice_id]
        if base_id.endswith((".extension", ".modifierExtension")):
            urls = [p for t in slice_el.get("type", []) for p in t.get("profile", [])]
            fixed = _constraint(self.elements.get(slice_id + ".url") or {})
            url = urls[0] if urls else (fixed[1] if fixed else None)
            return None if url is None else (lambda v: isinstance(v, dict) and v.get("url") == url)
        tests = []
        for disc in (base.get("slicing") or {}).get("discriminator", []):
            path = disc["path"]
            if disc.get("type") == "type" and path != "$this":
                types = (self.elements.get(f"{slice_id}.{path}") or {}).get("type", [])
                if len(types) != 1:
                    return None
                tests.append((path + ".resourceType", types[0]["code"]))
                continue
            if disc.get("type") not in ("value", "pattern"):
                return None
            target = slice_el if path == "$this" else self.elements.get(f"{slice_id}.{path}")
            rule = _constraint(target or {})
            if rule is None:
                return None
            tests.append((path, rule[1]))
        if not tests:
            return None
        return lambda v: all(
            any(_contains(x, expected) for x in _at_path(v, path)) for path, expected in tests
        )

    def _binding(self, url: str, values: list[Any], at: str) -> None:
        codes = self._expand(url)
        if codes is None:
            self.report.unchecked.add(f"binding {url}")
            return
        for value in values:
            found = _codings(value)
            if not any(
                (s, c) in codes or (s is None and c in {x for _, x in codes}) for s, c in found
            ):
                self._violation(at, "binding", f"{found} not in {url}")

    def _expand(self, url: str) -> set[tuple[str | None, str]] | None:
        vs = self.packages.value_sets.get(url)
        if vs is None:
            return None
        out: set[tuple[str | None, str]] = set()
        for include in (vs.get("compose") or {}).get("include", []):
            if include.get("filter") or include.get("valueSet"):
                return None
            system = include.get("system")
            if "concept" in include:
                out |= {(system, c["code"]) for c in include["concept"]}
                continue
            cs = self.packages.code_systems.get(system or "")
            if cs is None or cs.get("content") != "complete":
                return None
            out |= {(system, code) for code in _all_codes(cs.get("concept", []))}
        return out if out and len(out) <= MAX_BINDING else None

    def _violation(self, at: str, rule: str, detail: str) -> None:
        self.report.violations.append(f"{at}: {rule}: {detail} ({self.profile.rsplit('/', 1)[-1]})")


def _all_codes(concepts: list[Json]) -> list[str]:
    return [c["code"] for c in concepts] + [
        code for c in concepts for code in _all_codes(c.get("concept", []))
    ]


def _codings(value: Any) -> list[tuple[str | None, str]]:
    if isinstance(value, str):
        return [(None, value)]
    if isinstance(value, dict) and "coding" in value:
        return [(c.get("system"), c.get("code", "")) for c in value["coding"]]
    if isinstance(value, dict) and "code" in value:
        return [(value.get("system"), value["code"])]
    return []
