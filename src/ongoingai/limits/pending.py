"""`PendingWrites`: what a Redis backend owes Redis after the request path moved on.

Usage of built traces (added per UTC day and scope, so the backlog is bounded by the number of scopes,
not of requests) and released in-flight leases. Taken as one batch per flush; a failed batch is put back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ongoingai.limits.backend import Usage

MAX_RELEASES = 10_000  # beyond this, older releases are dropped: their leases age out on their own


@dataclass(slots=True)
class Batch:
    usage: dict[tuple[str, str], Usage] = field(default_factory=dict)  # (day, scope) → delta
    releases: list[tuple[str, str]] = field(default_factory=list)  # (in-flight set, lease id)

    def __bool__(self) -> bool:
        return bool(self.usage or self.releases)


class PendingWrites:
    def __init__(self) -> None:
        self._batch = Batch()
        self.dropped_releases = 0

    def take_releases(self, sets: tuple[str, ...]) -> list[str]:
        """Lease ids released from `sets`, removed from the backlog: the next admission on those sets
        carries them, so a client's next request never races its previous request's release."""
        releases = self._batch.releases
        if not releases:
            return []
        taken = [lease_id for in_flight_set, lease_id in releases if in_flight_set in sets]
        if taken:
            self._batch.releases = [r for r in releases if r[0] not in sets]
        return list(dict.fromkeys(taken))

    def add_usage(self, day: str, scope: str, tokens: int, cost_usd: float) -> None:
        entry = self._batch.usage.get((day, scope))
        if entry is None:
            entry = self._batch.usage[(day, scope)] = Usage()
        entry.add(tokens, cost_usd)

    def add_release(self, in_flight_set: str, lease_id: str) -> None:
        releases = self._batch.releases
        releases.append((in_flight_set, lease_id))
        if len(releases) > MAX_RELEASES:
            del releases[0]
            self.dropped_releases += 1

    def take(self) -> Batch:
        batch, self._batch = self._batch, Batch()
        return batch

    def put_back(self, batch: Batch) -> None:
        """A flush failed: merge its contents in front of what arrived meanwhile."""
        for (day, scope), usage in batch.usage.items():
            self.add_usage(day, scope, usage.tokens, usage.cost_usd)
        for in_flight_set, lease_id in batch.releases:
            self.add_release(in_flight_set, lease_id)

    @property
    def has_releases(self) -> bool:
        return bool(self._batch.releases)

    @property
    def scopes(self) -> int:
        return len(self._batch.usage)
