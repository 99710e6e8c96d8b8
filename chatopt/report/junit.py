"""JUnit XML of the gate's checks, for CI systems that show test results."""

from __future__ import annotations

from xml.etree import ElementTree

from chatopt.report.gate import GateStatus, GateVerdict


def gate_junit(verdict: GateVerdict) -> str:
    """One test suite, a test case per check: both runs valid, P95 not regressed."""
    suite = ElementTree.Element("testsuite", name="chatopt gate")
    cases = [
        ("baseline run is valid", None if verdict.baseline_valid else "the baseline run is invalid", "error"),
        ("current run is valid", None if verdict.current_valid else "the current run is invalid", "error"),
    ]
    message = "; ".join(verdict.reasons)
    if verdict.status == GateStatus.REGRESSION:
        cases.append((f"P95 {verdict.metric} does not regress", message, "failure"))
    elif verdict.status == GateStatus.INVALID:
        cases.append((f"P95 {verdict.metric} does not regress", message, "error"))
    else:
        cases.append((f"P95 {verdict.metric} does not regress", None, "failure"))
    failures = errors = 0
    for name, problem, kind in cases:
        case = ElementTree.SubElement(suite, "testcase", classname="chatopt.gate", name=name)
        if problem:
            ElementTree.SubElement(case, kind, message=problem).text = message
            failures += kind == "failure"
            errors += kind == "error"
    system_out = ElementTree.SubElement(suite, "system-out")
    system_out.text = message
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    return ElementTree.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"
