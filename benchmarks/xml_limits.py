"""Peak memory of ``parse_xml`` on hostile and real documents, without and with the element and
attribute limits of :class:`~ehealth_hub.core.xml.XmlLimits` (issue 16 #11).

Each case runs in a fresh process that builds the document, measures its peak RSS so far
(``before``), calls ``parse_xml`` once and measures again; the figure reported is the document
size, the extra peak due to parsing and its ratio to the document size. "unbounded" is the old
behaviour (size limit and libxml2's own limits only), "default" the shipped ``XmlLimits()``.

Target: with the defaults, no document parses to more than 10x ``max_bytes`` (640 MB), so a
60 MB document costs at most ~10x its size; the 11.7 MB TTC Sumehr (../shared/kmehr-corpus)
still parses (at ~15x its size: what libxml2 spends on KMEHR's density of nodes).

Measured (2 shared cores, 2026-12-06): a 60 MB document of tiny elements peaked at 1,860 MB
extra (31x) unbounded and is now refused before parsing (0 MB); 60 MB of attributes 1,764 MB ->
refused; the worst document within the defaults (999,000 elements with attribute and text,
58 MB) 630 MB (10.9x); the TTC Sumehr 173 MB (14.8x) either way. Runs in ~30 s:
``python -m benchmarks.xml_limits``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ehealth_hub.core.xml import XmlLimits

TTC = Path(__file__).resolve().parents[2] / (
    "shared/kmehr-corpus/ttc2023-kmehr2fhir/models/sumehr_example1000.kmehr"
)
SIZE = 60_000_000
DOCUMENTS = {
    "tiny elements": f"b'<r>'+b'<a/>'*({SIZE}//4)+b'</r>'",
    "elements with text": f"b'<r>'+b'<a>x</a>'*({SIZE}//8)+b'</r>'",
    "attributes": (
        "b'<r>'+(b'<a '+b' '.join(b'v%d=\"\"'%i for i in range(1000))+b'/>')"
        f"*({SIZE}//7900)+b'</r>'"
    ),
    "TTC Sumehr 1000 (11.7 MB)": f"open({str(TTC)!r},'rb').read()",
    # the most a document within the default limits can make libxml2 build: just under one
    # million elements, each with an attribute, a text and a whitespace tail
    "at the limits, 60 MB": "b'<r>'+(b'<a v=\"1\">'+b'x'*44+b'</a>\\n')*999_000+b'</r>'",
    "at the limits, 4 MB": "b'<r>'+b'<a/>'*999_000+b'</r>'",
}
LIMITS = {
    "unbounded": "XmlLimits(max_elements=10**9, max_attributes=10**9)",
    "default": "XmlLimits()",
}
CHILD = """
import json, resource, sys
from ehealth_hub.core.errors import HostileXmlError
from ehealth_hub.core.xml import XmlLimits, parse_xml
def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
data = {document}
before = peak()
try:
    root = parse_xml(data, limits={limits})
    outcome = "parsed"
except HostileXmlError as exc:
    outcome = "refused: " + exc.detail[:60]
print(json.dumps({{"size": len(data), "before": before, "after": peak(), "outcome": outcome}}))
"""


def measure(document: str, limits: str) -> dict[str, object]:
    """One fresh process: the document's size, peak RSS before and after parsing, the outcome."""
    code = CHILD.format(document=document, limits=limits)
    out = subprocess.run(  # noqa: S603  # our own interpreter and code
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    result: dict[str, object] = json.loads(out.stdout)
    return result


def main() -> int:
    """Print one row per document and limits; 1 when a default-limit parse costs more than 10x
    ``max_bytes`` (the absolute bound the limits promise)."""
    print("| document | limits | size MB | parse peak MB | ratio | outcome |")
    print("|---|---|---|---|---|---|")
    worst = 0
    for name, document in DOCUMENTS.items():
        if name.startswith("TTC") and not TTC.is_file():
            print(f"| {name} | - | - | - | - | corpus not found at {TTC} |")
            continue
        for label, limits in LIMITS.items():
            row = measure(document, limits)
            size = int(str(row["size"]))
            extra = max(int(str(row["after"])) - int(str(row["before"])), 0)
            ratio = extra / size
            if label == "default":
                worst = max(worst, extra)
            print(
                f"| {name} | {label} | {size / 1e6:.1f} | {extra / 1e6:.0f} "
                f"| {ratio:.1f}x | {row['outcome']} |",
                flush=True,
            )
    bound = 10 * XmlLimits().max_bytes
    print(f"\nworst parse peak, default limits: {worst / 1e6:.0f} MB (bound {bound / 1e6:.0f})")
    return 0 if worst <= bound else 1


if __name__ == "__main__":
    sys.exit(main())
