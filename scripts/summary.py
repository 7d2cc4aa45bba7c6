#!/usr/bin/python3
"""Read pytest's JUnit XML and print the last line CI looks for:
`N passed, N failed`.  A skipped test is not a pass: it is listed and counted
as failed.  Exit status 0 only if nothing failed."""
import sys
import xml.etree.ElementTree as ET

passed = failed = 0
bad = []
try:
    root = ET.parse(sys.argv[1]).getroot()
    cases = list(root.iter("testcase"))
except (OSError, ET.ParseError) as e:
    print(f"no test results ({e})")
    cases = []
    failed = 1
for c in cases:
    name = f"{c.get('classname')}::{c.get('name')}"
    kinds = [x.tag for x in c]
    if "failure" in kinds or "error" in kinds:
        failed += 1
        bad.append(("FAILED", name))
    elif "skipped" in kinds:
        failed += 1
        bad.append(("SKIPPED (counted as failed)", name))
    else:
        passed += 1
for what, name in bad:
    print(f"{what}: {name}")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
