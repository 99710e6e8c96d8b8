"""``memory.rss``: does the backend's resident memory keep growing under steady load (``--pid``)?"""

from __future__ import annotations

from chatopt.audit.checks.base import Check, rounded
from chatopt.audit.findings import Finding, Impact
from chatopt.profiling.process import ProcessSampler, trend

#: Growth faster than this with a good linear fit, and by more than GROWTH_MB overall, is a leak suspect.
#: An audit watches for well under a minute, and a backend warming up (loading models, filling pools)
#: grows by tens of MB at first, so only a large, steady climb counts; soak tests judge the rest.
SLOPE_MB_PER_MIN = 5.0
GROWTH_MB = 50.0
MIN_R_SQUARED = 0.8


class MemoryCheck(Check):
    id = "memory.rss"
    spec_ref = "memory"
    summary = "With --pid: RSS, threads and FDs sampled during the load probes; slope in MB/min."

    async def run(self) -> list[Finding]:
        pid = self.session.options.pid
        if pid is None:
            return [
                self.not_enough_data(
                    "pass --pid PID of the backend to watch its memory",
                    "passe --pid PID do backend para observar a memória",
                )
            ]
        sampler = ProcessSampler(pid)
        final = sampler.sample()
        points = [(at - self.session.started, rss) for at, rss in self.session.rss_samples]
        points.append((final.at - self.session.started, final.rss_mb))
        line = trend(points)
        if line is None:
            return [
                self.not_enough_data(
                    "too few memory samples (the load probes did not run)",
                    "poucas amostras de memória (as sondas de carga não rodaram)",
                    samples=len(points),
                )
            ]
        evidence = {
            "samples": len(points),
            "rss_first_mb": rounded(line.first),
            "rss_last_mb": rounded(line.last),
            "slope_mb_per_min": rounded(line.slope_per_min, 2),
            "r_squared": rounded(line.r_squared, 2),
            "threads": final.threads,
            "open_fds": final.fds,
            "runtime": sampler.runtime(),
        }
        growth = line.last - line.first
        if line.slope_per_min >= SLOPE_MB_PER_MIN and line.r_squared >= MIN_R_SQUARED and growth >= GROWTH_MB:
            return [
                self.finding(
                    "problem",
                    self.t("Memory grows under load", "Memória cresce sob carga"),
                    severity="medium",
                    evidence=evidence,
                    cause=self.t(
                        f"RSS grew {growth:.0f} MB at {line.slope_per_min:.1f} MB/min during the audit",
                        f"o RSS cresceu {growth:.0f} MB a {line.slope_per_min:.1f} MB/min na auditoria",
                    ),
                    impact=Impact(
                        summary=self.t(
                            "a leak at this rate exhausts memory within hours",
                            "um vazamento nesse ritmo esgota a memória em horas",
                        )
                    ),
                    fix=self.t(
                        "bound caches and queues; close connections and listeners; take heap snapshots",
                        "limite caches e filas; feche conexões e listeners; faça snapshots de heap",
                    ),
                    confidence="low",
                    next_step="chatopt profile --pid PID --duration 60s --memray",
                )
            ]
        return [
            self.finding(
                "ok",
                self.t("No memory growth seen", "Sem crescimento de memória"),
                evidence=evidence,
                confidence="low",
            )
        ]
