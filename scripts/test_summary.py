#!/usr/bin/env python3
"""The end of the test command's output, from ctest's JUnit file:
every skipped test with the reason it printed, and the slowest tests.

    test_summary.py JUNIT_XML [N]
"""
import sys
import xml.etree.ElementTree as ET


def reason(case):
    """The last line a skipped test printed that starts with SKIP, else its last line."""
    out = case.findtext("system-out") or ""
    lines = [line.strip() for line in out.splitlines() if line.strip()]
    said = [line for line in lines if line.upper().startswith("SKIP")]
    return (said or lines or ["(printed no reason)"])[-1]


def main():
    root = ET.parse(sys.argv[1]).getroot()
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 15
    cases = list(root.iter("testcase"))
    skipped = [c for c in cases if c.find("skipped") is not None or c.get("status") == "notrun"]
    if skipped:
        print(f"\nSkipped tests ({len(skipped)}):")
        for c in skipped:
            print(f"  {c.get('name')}: {reason(c)}")
    timed = sorted(cases, key=lambda c: float(c.get("time") or 0), reverse=True)[:top]
    total = sum(float(c.get("time") or 0) for c in cases)
    print(f"\nSlowest {len(timed)} of {len(cases)} tests (sum of test times {total:.0f} s):")
    for c in timed:
        print(f"  {float(c.get('time') or 0):7.1f} s  {c.get('name')}")


if __name__ == "__main__":
    main()
