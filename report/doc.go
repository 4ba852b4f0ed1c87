// Package report turns what clients saw into numbers and a verdict:
// samples + timeline -> windows -> metrics -> checks -> verdict (decide, the
// one place checks become a verdict, for a run and over repeats) ->
// result.json. Package report/render writes what people read from a
// result: junit.xml, report.md, report.html (SVG plots, gonum/plot), trends.
//
// It is pure: no client-go, vegeta or Docker, so it is fast to test with
// synthetic samples. Definitions follow DESIGN.md ("Definitions"):
//
//   - A Sample is one request; OK means 2xx/3xx and no transport error.
//   - Samples fall into fixed windows (default 1 s, down to 100 ms) by start
//     time. A Recorder keeps per-window counts, per-pod counts (new and reused
//     connections apart) and a mergeable latency histogram; memory grows with
//     the number of windows, not of samples.
//   - Availability is ok/total; error budget consumed is failed/((1-A)*total).
//   - A window is bad only on evidence (WindowBad): its failures are more
//     than the SLO explains by a one-sided binomial test, P(X >= failed) <
//     BadWindowAlpha (0.01) for X ~ Binomial(requests, 1-A); or, likewise,
//     its requests slower than the SLO's p99 against the 1% a p99 allows.
//     One failure in 10 requests against 99% (P = 0.096) is not bad; 2 are
//     (P = 0.004); a window of only failures is. An empty window is neither.
//   - Client-seen recovery of a fault: from its inject instant to the start of
//     the first run of at least W good windows after which no window in the
//     fault's observation falls bad again. Also: time to first error, disruption (sum of bad windows),
//     longest bad run.
//   - Evenness: per-pod share, max/min, coefficient of variation, Jain's index
//     and a chi-square goodness-of-fit p-value against uniform over the ready
//     pods (gonum distuv.ChiSquared), over the longest stretch of a phase's
//     windows where the ready set was not changing (Input.Unstable).
//   - Evenness gates (slo.jain) only with at least MinRequestsPerPod (50)
//     baseline requests per pod; with fewer, or none, the check is skipped
//     and a run that otherwise passed is inconclusive.
//   - Latency percentiles per phase come from merged histograms, never from
//     averaged percentiles.
//   - Verdict: fail when an SLO check fails; inconclusive when every check
//     passed but a fault could not be shown to have landed, or no sample was
//     taken, or the load delivered less than MinDelivered (95%) of the
//     planned requests (a stalled generator could hide an outage); pass
//     otherwise. With attribution none, evenness is "not measured".
//   - Compare: more failed requests are a regression only when significant:
//     a one-sided two-proportion z-test (MoreFailuresP) below
//     RegressionAlpha (0.01), and past the threshold; its p-value is printed.
//     110 vs 123 failed of 4000 gives p = 0.19: noise. A fault that recovered
//     before and does not now is always a regression.
//   - Repeats (--repeat N, Repeat): the gate rests on the N runs together,
//     so one stray run neither fails nor passes it. Error budget: pooled
//     over the conclusive repeats (failed and total requests summed).
//     Recovery per fault (no impact counts as 0 s): fail if any conclusive
//     repeat did not recover; pass if the upper one-sided 95% bound of the
//     mean (Student's t, n-1 degrees of freedom, gonum distuv.StudentsT)
//     is within slo.recovery; fail if the lower bound is above it;
//     inconclusive between (recoveries 4 s and 6 s against 5 s: [-1.3 s,
//     11.3 s]) or with fewer than 2 values. Other checks (p99, evenness):
//     the majority of conclusive repeats; a tie is inconclusive. Fewer than
//     2 conclusive repeats, or not more than half of the N, is inconclusive.
//   - Error classes (ErrorClass): each failed sample is refused, reset,
//     timeout, dns/no route (from the transport error's text), "http NNN"
//     for a 5xx, "http 4xx", or other; counted per window, phase, fault
//     (over its observation) and run, and named by share, most frequent
//     first ("refused 82%, timeout 18%").
//   - Rejoin: for each pod-ready event after the load started (a
//     replacement, a restart), the time to the start of the first window it
//     served in, the time to the first window from which it holds at least
//     FairShareFraction (0.8) of 1/n of the successful requests (windows
//     joined forward until they hold 10 requests per serving pod), and the
//     latency of its first FirstSamples (20) requests against the p99 before
//     any fault and any rejoin. slo.rejoin gates the time to fair share; a
//     pod watched less than the limit without reaching it, or no rejoin at
//     all, leaves the check not shown, and the run inconclusive.
//   - Trend (NewTrends): runs of a scenario in start-time order, each
//     compared with the one before by Compare's thresholds.
//   - Gate (Result.Gate): the verdict against the scenario's expectation; a
//     negative control (expect fail, with the check that must fail) passes
//     the gate by failing for that reason, and fails it by passing.
package report
