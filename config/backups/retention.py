"""Which backups to keep: the newest of each of the last N days and of the last M weeks."""

from collections.abc import Iterable
from datetime import datetime


def to_keep(times: Iterable[datetime], *, daily: int, weekly: int) -> set[datetime]:
    """The backup times to keep out of ``times`` (one database's backups).

    * the newest backup of each of the ``daily`` most recent days that have one;
    * the newest backup of each of the ``weekly`` most recent ISO weeks that have one;
    * the newest backup, always (so 0 and 0 keeps one).

    A backup kept by both rules counts for both: with 7 daily and 4 weekly, the last week's
    dailies include that week's weekly, and 3 more weeklies reach back a month.
    """
    newest_first = sorted(set(times), reverse=True)
    kept = set(newest_first[:1])
    days: set = set()
    weeks: set = set()
    for at in newest_first:
        day, week = at.date(), at.isocalendar()[:2]
        if day not in days and len(days) < daily:
            days.add(day)
            kept.add(at)
        if week not in weeks and len(weeks) < weekly:
            weeks.add(week)
            kept.add(at)
    return kept
