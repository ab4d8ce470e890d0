"""``ehealth-hub translate FILE... -o DIR``: KMEHR -> FHIR JSON, FHIR consultation note -> KMEHR.

A file whose content starts with ``{`` is a FHIR note (Bundle or DocumentReference, JSON) and
becomes ``DIR/<stem>.xml`` (KMEHR 1.38); anything else is read as KMEHR (bare, SOAP- or
hub-wrapped) and becomes ``DIR/<stem>.json`` (a FHIR R4 Bundle, validated with fhir.resources
unless ``--no-validate``). A progress bar shows for more than one file; a summary table follows;
the exit code is 1 when any file failed, or, with ``--strict``, when any translation warned
(a part of the KMEHR it could not map, named in the Bundle's OperationOutcome). Ids are uuid5
over the input bytes, so the same input gives the same output.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from ehealth_hub.cli import tuning
from ehealth_hub.core.errors import HubError, MappingError
from ehealth_hub.fhir.builders import Json, uuid5_ids
from ehealth_hub.mappings.kmehr_outcome import warnings_of
from ehealth_hub.mappings.kmehr_to_fhir import translate_kmehr
from ehealth_hub.mappings.kmehr_write import Party
from ehealth_hub.mappings.note_to_kmehr import note_to_kmehr


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one input file."""

    source: Path
    kind: str
    target: Path | None
    summary: str
    ok: bool


def _note_json(data: bytes, source: Path) -> Json:
    try:
        note = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MappingError(f"not JSON: {exc}", field=str(source), rule="note.json") from exc
    if not isinstance(note, dict):
        raise MappingError(
            "a FHIR resource must be a JSON object", field=str(source), rule="note.json"
        )
    return note


def translate_file(
    source: Path,
    out_dir: Path,
    *,
    now: datetime,
    validate: bool,
    recipient: Party | None,
    strict: bool = False,
) -> Outcome:
    """Translate one file into ``out_dir``; errors become a failed Outcome (never raised), and so
    do translation warnings (parts of the KMEHR not mapped) when ``strict``."""
    try:
        data = source.read_bytes()
    except OSError as exc:
        return Outcome(source, "?", None, f"cannot read: {exc.strerror}", ok=False)
    ids = uuid5_ids(hashlib.sha256(data).hexdigest())
    is_note = data.lstrip()[:1] == b"{"
    kind = "FHIR note -> KMEHR" if is_note else "KMEHR -> FHIR"
    try:
        if is_note:
            kmehr = note_to_kmehr(
                _note_json(data, source), now=now, new_id=ids, recipient=recipient
            )
            target = out_dir / f"{source.stem}.xml"
            target.write_bytes(kmehr)
            return Outcome(source, kind, target, f"{len(kmehr)} bytes", ok=True)
        bundle = translate_kmehr(data, now=now, new_id=ids)
        if validate:
            from ehealth_hub.fhir.bundle import validate_bundle

            validate_bundle(bundle)
        target = out_dir / f"{source.stem}.json"
        target.write_text(json.dumps(bundle, ensure_ascii=False, indent=1), encoding="utf-8")
        summary = f"{bundle['type']}, {len(bundle['entry'])} entries"
        if warnings := warnings_of(bundle):
            first = warnings[0]["details"]["text"]
            summary += f"; {len(warnings)} warning(s), first: {first}"
        return Outcome(source, kind, target, summary, ok=not (strict and warnings))
    except HubError as exc:
        where = f" at {exc.field}" if isinstance(exc, MappingError) and exc.field else ""
        rule = f" [{exc.rule}]" if isinstance(exc, MappingError) and exc.rule else ""
        return Outcome(
            source, kind, None, f"{type(exc).__name__}{rule}: {exc.detail}{where}", ok=False
        )
    except OSError as exc:
        return Outcome(source, kind, None, f"cannot write: {exc.strerror}", ok=False)


def _table(outcomes: list[Outcome]) -> Table:
    table = Table(title="translate")
    table.add_column("file", no_wrap=True)
    table.add_column("direction")
    table.add_column("result")
    table.add_column("output", no_wrap=True)
    for o in outcomes:
        style = "green" if o.ok else "red"
        summary = f"[{style}]{escape(o.summary)}[/{style}]"
        table.add_row(
            escape(o.source.name), o.kind, summary, escape(o.target.name if o.target else "-")
        )
    return table


def translate(
    files: Annotated[list[Path], typer.Argument(help="KMEHR files, or FHIR note JSON files.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Output directory.")] = Path("."),
    validate: Annotated[
        bool, typer.Option(help="Validate FHIR output with fhir.resources.")
    ] = True,
    recipient_nihii: Annotated[
        str | None,
        typer.Option(help="NIHII of the GP receiving a note (default: the patient's GP)."),
    ] = None,
    strict: Annotated[
        bool, typer.Option(help="Fail when a translation warns (part of the KMEHR not mapped).")
    ] = False,
) -> None:
    """Translate KMEHR (Sumehr, medication scheme, vaccinations) to FHIR; FHIR notes to KMEHR."""
    console = Console(stderr=True)
    output.mkdir(parents=True, exist_ok=True)
    recipient = Party(kind="persphysician", nihii=recipient_nihii) if recipient_nihii else None
    now = datetime.now(UTC)
    outcomes: list[Outcome] = []
    with (
        tuning.for_batch(),
        Progress(console=console, transient=True, disable=len(files) < 2) as progress,
    ):
        task = progress.add_task("translating", total=len(files))
        for source in files:
            outcomes.append(
                translate_file(
                    source, output, now=now, validate=validate, recipient=recipient, strict=strict
                )
            )
            progress.advance(task)
    Console().print(_table(outcomes))
    if not all(o.ok for o in outcomes):
        raise typer.Exit(1)
