// Package chaos is natschaos's pipeline. Data flows one way:
//
//	scenario ──► faults through proxies ──► system under test ──► history ──► checkers ──► report
//	 (chaos)         (faults)                   (harness)           (history)     (chaos/check) (chaos/report)
//
// A [Scenario] is a plain value — the system under test, the load, the fault
// schedule and what to expect — read from YAML ([ParseScenario]) or taken
// from the built-in [Catalog]. [Run] plays one against the embedded stack
// through the phases warmup → chaos → heal → drain → end, records every
// event into history.jsonl, runs every checker over the saved history and
// writes report.json. Checkers never touch the network and observers never
// judge, so a saved history can be re-checked offline (natschaos check).
package chaos
