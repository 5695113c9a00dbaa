"""Scheduled triggers (Yida's 定时触发): five-field cron expressions evaluated in a time zone.

    ┌ minute (0-59)  ┌ hour (0-23)  ┌ day of month (1-31)  ┌ month (1-12, JAN-DEC)  ┌ day of week (0-7, SUN-SAT; 0 and 7 are Sunday)
    0                9              *                      *                        1-5        every weekday at 09:00

A field is `*`, a number, a range `a-b`, a step (`*/n`, `a-b/n`, `a/n`), or a comma-separated list
of those. `@yearly` (`@annually`), `@monthly`, `@weekly`, `@daily` (`@midnight`) and `@hourly` stand
for their usual expressions. Nothing else (no `L`, `W`, `#`, `?`, seconds or years).

The rules are Debian cron's (the tests compare every answer with cronsim, which follows them too):
- When day of month and day of week are both restricted (neither starts with `*`), a day matches
  if *either* does (`0 9 1 * MON`: the 1st and every Monday); otherwise both must.
- Daylight saving time. A schedule at fixed times (minute and hour fields not starting with `*`)
  runs once per wall-clock time: a time that happens twice (autumn) runs the first time; a time
  that does not happen (spring) runs when the clocks jump, at the first minute after the gap. A
  schedule that runs every hour or more often (minute or hour starting with `*`) follows the clock
  on the wall: in a repeated hour it runs in both, in a skipped hour not at all.

Occurrences are UTC datetimes here: Python ignores `fold` when it compares two datetimes of the same
zone, so ordering local times would be wrong in the repeated hour. They are shown in the
schedule's zone. Standard library only (zoneinfo), imported only by flows commands.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7))
MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
DAYS_IN_MONTH = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # February: a leap year's
# How far a local time can be from UTC-offset changes around it: daylight saving moves clocks by at
# most two hours (Antarctica/Troll); local times this much either side of a window are looked at.
MARGIN = timedelta(hours=3)
HORIZON_YEARS = 50  # `next` gives up after this long (a valid expression fires at least every 8 years)
ONE_MINUTE = timedelta(minutes=1)


class CronError(ValueError):
    """A malformed or impossible cron expression; `message` says what and how to fix it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Cron:
    source: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday … 6 = Saturday
    either_day: bool  # day of month and day of week both restricted: either matches
    fixed_time: bool  # minute and hour do not start with `*`: once per wall-clock time (DST)

    def day_matches(self, day: date) -> bool:
        dom = day.day in self.days
        dow = (day.isoweekday() % 7) in self.weekdays
        return (dom or dow) if self.either_day else (dom and dow)

    # Local (naive) times ---------------------------------------------------------------------
    def wall_times(self, start: datetime, end: datetime) -> Iterator[datetime]:
        """Naive local times in [start, end] that the expression names, ascending."""
        day = start.date()
        while datetime.combine(day, datetime.min.time()) <= end:
            if day.month not in self.months:
                day = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
                continue
            if self.day_matches(day):
                for hour in self.hours:
                    for minute in self.minutes:
                        at = datetime(day.year, day.month, day.day, hour, minute)
                        if at > end:
                            return
                        if at >= start:
                            yield at
            day += timedelta(days=1)

    # Instants --------------------------------------------------------------------------------
    def instants(self, wall: datetime, zone: tzinfo) -> list[datetime]:
        """The UTC instants a matching local time stands for (none, one, or two in a repeated hour)."""
        first = wall.replace(tzinfo=zone).astimezone(UTC)
        if not _exists(wall, zone):
            if not self.fixed_time:
                return []
            while not _exists(wall, zone):  # runs when the clocks jump: the first minute after the gap
                wall += ONE_MINUTE
            return [wall.replace(tzinfo=zone).astimezone(UTC)]
        second = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
        if second != first and not self.fixed_time:
            return [first, second]
        return [first]

    def between(self, after: datetime, until: datetime, zone: tzinfo) -> list[datetime]:
        """Every occurrence in (after, until], as UTC datetimes, ascending. `after` and `until` are aware."""
        if until <= after:
            return []
        lo = after.astimezone(zone).replace(tzinfo=None) - MARGIN
        hi = until.astimezone(zone).replace(tzinfo=None) + MARGIN
        found = {t for wall in self.wall_times(lo, hi) for t in self.instants(wall, zone) if after < t <= until}
        return sorted(found)

    def next_after(self, after: datetime, zone: tzinfo) -> datetime | None:
        """The first occurrence after `after` (UTC), or None within HORIZON_YEARS."""
        start = after
        # Windows that grow: an every-minute schedule looks at two hours, a leap-day one at years.
        spans = (timedelta(hours=2), timedelta(days=2), timedelta(days=40), timedelta(days=400))
        for span in (*spans, *([timedelta(days=366 * 4)] * (HORIZON_YEARS // 4))):
            end = start + span
            found = self.between(start, end, zone)
            if found:
                return found[0]
            start = end
        return None


def _exists(wall: datetime, zone: tzinfo) -> bool:
    """False for a local time inside a spring-forward gap."""
    return wall.replace(tzinfo=zone).astimezone(UTC).astimezone(zone).replace(tzinfo=None) == wall


# --- parsing ---------------------------------------------------------------------------------------


def parse_cron(text: str) -> Cron:
    """Parse a five-field expression (or a @macro); CronError says which field is wrong and why."""
    source = " ".join(str(text).split())
    expanded = MACROS.get(source.lower(), source)
    if expanded.startswith("@"):
        raise CronError(f"unknown shorthand {source!r}: use one of {', '.join(MACROS)} or five fields")
    parts = expanded.upper().split()
    if len(parts) != len(FIELDS):
        raise CronError(
            f"{source!r} has {len(parts)} field{'s' if len(parts) != 1 else ''}; a schedule has five: "
            "minute hour day-of-month month day-of-week (e.g. `0 9 * * 1-5`)"
        )
    values = [_field(part, *spec) for part, spec in zip(parts, FIELDS, strict=True)]
    minutes, hours, days, months, weekdays = values
    weekdays = {d % 7 for d in weekdays}
    either = not parts[2].startswith("*") and not parts[4].startswith("*")
    if not either and min(days) > max(DAYS_IN_MONTH[m] for m in months):
        named = ", ".join(MONTH_NAMES[m - 1] for m in sorted(months))
        raise CronError(f"{source!r} never runs: no day {min(days)} in {named}")
    return Cron(
        source=source,
        minutes=tuple(sorted(minutes)),
        hours=tuple(sorted(hours)),
        days=frozenset(days),
        months=frozenset(months),
        weekdays=frozenset(weekdays),
        either_day=either,
        fixed_time=not parts[0].startswith("*") and not parts[1].startswith("*"),
    )


def _field(text: str, what: str, lo: int, hi: int) -> set[int]:
    out: set[int] = set()
    for item in text.split(","):
        if not item:
            raise CronError(f"{what} field {text!r} has an empty item between commas")
        out |= _item(item, what, lo, hi)
    return out


def _item(item: str, what: str, lo: int, hi: int) -> set[int]:
    term, slash, step_text = item.partition("/")
    step = 1
    if slash:
        step = _number(step_text, f"{what} step", 1, hi - lo + 1)
    if term == "*":
        start, end = lo, hi
    elif "-" in term:
        first, _, last = term.partition("-")
        start, end = _value(first, what, lo, hi), _value(last, what, lo, hi)
        if end < start:
            raise CronError(f"{what} range {term!r} goes backwards: write the smaller value first")
    else:
        start = _value(term, what, lo, hi)
        end = hi if slash else start  # `5/15`: from 5 to the end, every 15
    return set(range(start, end + 1, step))


def _value(text: str, what: str, lo: int, hi: int) -> int:
    names = MONTH_NAMES if what == "month" else DAY_NAMES if what == "day of week" else ()
    if text in names:
        return names.index(text) + (1 if what == "month" else 0)
    return _number(text, what, lo, hi)


def _number(text: str, what: str, lo: int, hi: int) -> int:
    if not text.isascii() or not text.isdigit():
        extra = {"month": " or JAN-DEC", "day of week": " or SUN-SAT"}.get(what, "")
        raise CronError(f"{what} {text.lower() or '(nothing)'!r} is not a number{extra}")
    value = int(text)
    if not lo <= value <= hi:
        raise CronError(f"{what} {value} is out of range {lo}-{hi}")
    return value


# --- time zones ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Zone:
    """The zone a schedule is evaluated in, and how to name it to a person."""

    tz: tzinfo
    name: str
    machine: bool  # no `timezone:` in the file: the machine's

    @property
    def label(self) -> str:
        return f"{self.name} (this machine's)" if self.machine else self.name


def zone(name: str | None) -> Zone:
    """The named IANA zone (ValueError with advice when unknown), or the machine's for None."""
    if name is None:
        return machine_zone()
    try:
        return Zone(ZoneInfo(name), name, machine=False)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(zone_advice(name)) from None


def zone_advice(name: str) -> str:
    import difflib
    import re
    from zoneinfo import available_timezones

    offset = re.fullmatch(r"(?:UTC|GMT)?\s*([+-])\s*(\d{1,2})(?::?00)?", name.strip(), re.IGNORECASE)
    if offset:
        sign, hours = offset.groups()
        fixed = f"Etc/GMT{'-' if sign == '+' else '+'}{int(hours)}"
        return (
            f"unknown time zone {name!r}: name a place, such as Asia/Shanghai (UTC+8 all year), so that "
            f"daylight saving time is followed; for a fixed offset write {fixed} (POSIX reverses the sign)"
        )
    close = difflib.get_close_matches(name, sorted(available_timezones()), n=2, cutoff=0.8)
    hint = "did you mean " + " or ".join(close) + "?" if close else "use an IANA name such as Asia/Shanghai or UTC"
    return f"unknown time zone {name!r}: {hint}"


def machine_zone() -> Zone:
    """The machine's zone with its DST rules: $TZ, /etc/localtime's link or file, /etc/timezone;
    a fixed UTC offset only when none of those says more."""
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    try:
        link = os.readlink("/etc/localtime")
        candidates.append(link.split("zoneinfo/", 1)[1] if "zoneinfo/" in link else "")
    except OSError:
        pass
    try:
        with open("/etc/timezone", encoding="utf-8") as fh:
            candidates.append(fh.read().strip())
    except OSError:
        pass
    for name in candidates:
        if name:
            try:
                return Zone(ZoneInfo(name), name, machine=True)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    try:
        with open("/etc/localtime", "rb") as fh:
            return Zone(ZoneInfo.from_file(fh, key="localtime"), "localtime", machine=True)
    except (OSError, ValueError):
        pass
    offset = datetime.now().astimezone().tzinfo
    assert offset is not None
    return Zone(offset, datetime.now().astimezone().strftime("UTC%z"), machine=True)


def parse_instant(text: str) -> datetime:
    """`--now`: ISO 8601 with an offset (`2027-01-04T09:00+08:00`, `…Z`), or without one in the
    machine's local time; ValueError otherwise."""
    value = datetime.fromisoformat(text.strip())
    if value.tzinfo is None:
        value = value.replace(tzinfo=machine_zone().tz)
    return value.astimezone(UTC)


def local_iso(instant: datetime, tz: tzinfo) -> str:
    """`2027-01-04T09:00:00+08:00`: how an occurrence is shown, stored and claimed."""
    return instant.astimezone(tz).isoformat(timespec="seconds")
