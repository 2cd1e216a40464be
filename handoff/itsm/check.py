"""`deskbot itsm check`'s work: run a ticket system's probes and say exactly what is wrong.

Probes run in order, sign-in first. When signing in fails, or the system cannot be reached,
the rest are reported as not tried rather than failing with the same cause again.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from handoff.itsm.errors import AuthFailed, ItsmError, Unavailable
from handoff.itsm.port import ProbeWarning, TicketSystem


class Outcome(StrEnum):
    OK = "ok"
    WARNING = "warning"
    FAILED = "failed"
    NOT_TRIED = "not tried"


@dataclass(frozen=True)
class Finding:
    what: str  # "read access to sys_user"
    outcome: Outcome
    detail: str  # what was found, or what is wrong and what to do


@dataclass(frozen=True)
class Report:
    system: str
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        """No probe failed (warnings allowed)."""
        return all(f.outcome in (Outcome.OK, Outcome.WARNING) for f in self.findings)

    def lines(self) -> list[str]:
        head = f"{self.system}: " + ("ready" if self.ok else "not ready")
        width = max((len(o.value) for o in Outcome), default=0)
        return [head] + [
            f"  {f.outcome.value:<{width}}  {f.what}: {f.detail}" for f in self.findings
        ]


async def check(system: TicketSystem) -> Report:
    """Every probe of `system`, with what it found."""
    findings: list[Finding] = []
    stopped = ""
    for probe in system.probes():
        if stopped:
            findings.append(Finding(probe.what, Outcome.NOT_TRIED, stopped))
            continue
        try:
            detail = await probe.run()
        except ProbeWarning as warning:
            findings.append(Finding(probe.what, Outcome.WARNING, str(warning)))
        except ItsmError as exc:
            findings.append(Finding(probe.what, Outcome.FAILED, exc.message))
            if isinstance(exc, AuthFailed | Unavailable):
                stopped = f"not tried: {_why(exc)}"
        except Exception as exc:  # a diagnostic must report, not crash
            findings.append(Finding(probe.what, Outcome.FAILED, f"unexpected {type(exc).__name__}"))
        else:
            findings.append(Finding(probe.what, Outcome.OK, detail))
    return Report(system.name, tuple(findings))


def _why(exc: ItsmError) -> str:
    return "signing in failed" if isinstance(exc, AuthFailed) else f"{exc.system} is unreachable"
