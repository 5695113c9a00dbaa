"""Cron expressions and their occurrences (flows.schedule): the parser field by field, daylight
saving time, and every answer compared with cronsim, which follows Debian cron's rules too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from groupmsg.flows.schedule import CronError, local_iso, machine_zone, parse_cron, parse_instant, zone

NY = ZoneInfo("America/New_York")
SH = ZoneInfo("Asia/Shanghai")


def year(expr: str, tz, y: int = 2027) -> list[datetime]:
    start = datetime(y, 1, 1, tzinfo=tz).astimezone(UTC) - timedelta(microseconds=1)
    end = datetime(y + 1, 1, 1, tzinfo=tz).astimezone(UTC) - timedelta(microseconds=1)
    return parse_cron(expr).between(start, end, tz)


# --- parsing ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "minutes", "hours", "days", "months", "weekdays"),
    [
        ("* * * * *", range(60), range(24), range(1, 32), range(1, 13), range(7)),
        ("0 9 * * 1-5", [0], [9], range(1, 32), range(1, 13), [1, 2, 3, 4, 5]),
        ("*/15 */6 1,15 */3 *", [0, 15, 30, 45], [0, 6, 12, 18], [1, 15], [1, 4, 7, 10], range(7)),
        ("5/20 1-10/3 29 FEB sun", [5, 25, 45], [1, 4, 7, 10], [29], [2], [0]),
        ("0 0 * JAN-MAR MON-FRI", [0], [0], range(1, 32), [1, 2, 3], [1, 2, 3, 4, 5]),
        ("0 0 * * 7", [0], [0], range(1, 32), range(1, 13), [0]),
        ("0 0 * * 1-7/2", [0], [0], range(1, 32), range(1, 13), [0, 1, 3, 5]),
        ("59 23 31 12 6", [59], [23], [31], [12], [6]),
        ("@daily", [0], [0], range(1, 32), range(1, 13), range(7)),
        ("@hourly", [0], range(24), range(1, 32), range(1, 13), range(7)),
        ("@weekly", [0], [0], range(1, 32), range(1, 13), [0]),
        ("@monthly", [0], [0], [1], range(1, 13), range(7)),
        ("@yearly", [0], [0], [1], [1], range(7)),
        ("  0   9 * *   1-5 ", [0], [9], range(1, 32), range(1, 13), [1, 2, 3, 4, 5]),
    ],
)
def test_fields(expr, minutes, hours, days, months, weekdays) -> None:
    cron = parse_cron(expr)
    assert cron.minutes == tuple(minutes) and cron.hours == tuple(hours)
    assert cron.days == set(days) and cron.months == set(months) and cron.weekdays == set(weekdays)


@pytest.mark.parametrize(
    ("expr", "either", "fixed"),
    [
        ("0 9 * * 1-5", False, True),
        ("0 9 1 * MON", True, True),  # both days restricted: the 1st or a Monday
        ("0 9 */2 * MON", False, True),  # a field starting with * counts as unrestricted (Debian)
        ("*/5 9 * * *", False, False),
        ("0 */2 * * *", False, False),
        ("0 9-17 * * *", False, True),
    ],
)
def test_day_rule_and_daylight_saving_rule(expr, either, fixed) -> None:
    cron = parse_cron(expr)
    assert (cron.either_day, cron.fixed_time) == (either, fixed)


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("", "'' has 0 fields; a schedule has five"),
        ("0 9 * *", "'0 9 * *' has 4 fields; a schedule has five"),
        ("0 9 * * 1-5 2027", "has 6 fields"),
        ("60 9 * * *", "minute 60 is out of range 0-59"),
        ("0 24 * * *", "hour 24 is out of range 0-23"),
        ("0 9 0 * *", "day of month 0 is out of range 1-31"),
        ("0 9 * 13 *", "month 13 is out of range 1-12"),
        ("0 9 * * 8", "day of week 8 is out of range 0-7"),
        ("0 9 * * MON-", "day of week '(nothing)' is not a number or SUN-SAT"),
        ("0 9 * * FOO", "day of week 'foo' is not a number or SUN-SAT"),
        ("0 9 * JANUARY *", "month 'january' is not a number or JAN-DEC"),
        ("0 9 * * 5-1", "day of week range '5-1' goes backwards"),
        ("*/0 * * * *", "minute step 0 is out of range 1-60"),
        ("*/61 * * * *", "minute step 61 is out of range 1-60"),
        ("1,,2 * * * *", "minute field '1,,2' has an empty item between commas"),
        ("0 9 L * *", "day of month 'l' is not a number"),
        ("0 9 * * 1#2", "day of week '1#2' is not a number"),
        ("0 9 ? * *", "day of month '?' is not a number"),
        ("0 9 30 2 *", "never runs: no day 30 in FEB"),
        ("0 9 31 4,6,9,11 *", "never runs: no day 31 in APR, JUN, SEP, NOV"),
        ("@reboot", "unknown shorthand '@reboot'"),
        ("0 ９ * * *", "hour '９' is not a number"),
    ],
)
def test_bad_expressions_say_what_is_wrong(expr, message) -> None:
    with pytest.raises(CronError) as caught:
        parse_cron(expr)
    assert message in caught.value.message


def test_a_day_that_only_some_days_of_week_have_is_fine_with_or() -> None:
    assert parse_cron("0 9 30 2 MON").either_day  # every Monday in February (the 30th never comes)


# --- occurrences ------------------------------------------------------------------------------------


def test_a_weekday_schedule_fires_261_times_in_2027() -> None:
    found = year("0 9 * * 1-5", SH)
    assert len(found) == 261
    assert local_iso(found[0], SH) == "2027-01-01T09:00:00+08:00"  # a Friday
    assert local_iso(found[-1], SH) == "2027-12-31T09:00:00+08:00"
    assert all(t.astimezone(SH).isoweekday() <= 5 for t in found)


def test_29_february_fires_in_leap_years_only() -> None:
    assert year("0 9 29 2 *", SH, 2027) == []
    assert [local_iso(t, SH) for t in year("0 9 29 2 *", SH, 2028)] == ["2028-02-29T09:00:00+08:00"]
    assert parse_cron("0 9 29 2 *").next_after(datetime(2027, 1, 1, tzinfo=UTC), SH) == datetime(
        2028, 2, 29, 1, 0, tzinfo=UTC
    )


def test_a_daily_time_that_happens_twice_in_autumn_runs_once() -> None:
    found = year("30 1 * * *", NY)
    assert len(found) == 365
    autumn = [local_iso(t, NY) for t in found if t.astimezone(NY).date().isoformat() == "2027-11-07"]
    assert autumn == ["2027-11-07T01:30:00-04:00"]  # the first 01:30 (still daylight time)


def test_a_daily_time_skipped_in_spring_runs_when_the_clocks_jump() -> None:
    found = year("30 2 * * *", NY)
    assert len(found) == 365
    spring = [local_iso(t, NY) for t in found if t.astimezone(NY).date().isoformat() == "2027-03-14"]
    assert spring == ["2027-03-14T03:00:00-04:00"]
    # several times inside the gap are one run, and 03:00 itself is not run twice
    day = [local_iso(t, NY) for t in year("0,30 2,3 * * *", NY) if t.astimezone(NY).day == 14
           and t.astimezone(NY).month == 3]
    assert day == ["2027-03-14T03:00:00-04:00", "2027-03-14T03:30:00-04:00"]


def test_an_hourly_schedule_follows_the_clock_on_the_wall() -> None:
    cron = parse_cron("*/30 * * * *")

    def day(iso: str) -> list[str]:
        start = datetime.fromisoformat(iso).replace(tzinfo=NY).astimezone(UTC) - timedelta(seconds=1)
        end = (datetime.fromisoformat(iso) + timedelta(days=1)).replace(tzinfo=NY).astimezone(UTC) - timedelta(seconds=1)
        return [local_iso(t, NY) for t in cron.between(start, end, NY)]

    assert len(day("2027-06-01")) == 48
    spring = day("2027-03-14")  # 23 hours: no 02:00 or 02:30
    assert len(spring) == 46 and spring[3:5] == ["2027-03-14T01:30:00-05:00", "2027-03-14T03:00:00-04:00"]
    autumn = day("2027-11-07")  # 25 hours: 01:00 and 01:30 twice, in the order they happen
    assert len(autumn) == 50 and autumn[2:6] == [
        "2027-11-07T01:00:00-04:00",
        "2027-11-07T01:30:00-04:00",
        "2027-11-07T01:00:00-05:00",
        "2027-11-07T01:30:00-05:00",
    ]


def test_half_hour_daylight_saving() -> None:
    lord_howe = ZoneInfo("Australia/Lord_Howe")  # +11 in summer, +10:30 in winter
    day = [local_iso(t, lord_howe) for t in year("15 */2 * * *", lord_howe) if t.astimezone(lord_howe).month == 4
           and t.astimezone(lord_howe).day == 4]
    assert day[:3] == ["2027-04-04T00:15:00+11:00", "2027-04-04T02:15:00+10:30", "2027-04-04T04:15:00+10:30"]
    autumn = [local_iso(t, lord_howe) for t in year("45 1 * * *", lord_howe) if t.astimezone(lord_howe).month == 4
              and t.astimezone(lord_howe).day == 4]
    assert autumn == ["2027-04-04T01:45:00+11:00"]  # 01:45 happens twice: the first


def test_between_is_half_open_and_empty_when_backwards() -> None:
    cron = parse_cron("0 9 * * *")
    nine = datetime(2027, 1, 4, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
    assert cron.between(nine, nine + timedelta(days=1), SH) == [nine + timedelta(days=1)]
    assert cron.between(nine - timedelta(seconds=1), nine, SH) == [nine]
    assert cron.between(nine, nine, SH) == [] and cron.between(nine, nine - timedelta(days=3), SH) == []


def test_either_day_of_month_or_day_of_week() -> None:
    found = [t.astimezone(SH) for t in year("0 9 13 * FRI", SH)]
    assert all(t.day == 13 or t.isoweekday() == 5 for t in found)
    # 2027 has 53 Fridays and twelve 13ths; one 13th is a Friday (August) and runs once
    assert len(found) == 53 + 12 - 1


# --- time zones -------------------------------------------------------------------------------------


def test_zones_by_name_and_the_machines(monkeypatch) -> None:
    assert zone("Asia/Shanghai").label == "Asia/Shanghai"
    with pytest.raises(ValueError, match="unknown time zone 'Asia/Shanghia': did you mean Asia/Shanghai"):
        zone("Asia/Shanghia")
    with pytest.raises(ValueError, match=r"name a place, such as Asia/Shanghai .* write Etc/GMT-8 \(POSIX"):
        zone("UTC+8")
    with pytest.raises(ValueError, match="use an IANA name such as Asia/Shanghai or UTC"):
        zone("Mars/Olympus_Mons")
    monkeypatch.setenv("TZ", "Europe/Berlin")
    machine = zone(None)
    assert (machine.name, machine.machine, machine.label) == ("Europe/Berlin", True, "Europe/Berlin (this machine's)")
    assert machine_zone().tz == ZoneInfo("Europe/Berlin")


def test_now_is_read_with_an_offset_or_in_the_machines_zone(monkeypatch) -> None:
    assert parse_instant("2027-01-04T09:00+08:00") == datetime(2027, 1, 4, 1, 0, tzinfo=UTC)
    assert parse_instant("2027-01-04T01:00Z") == datetime(2027, 1, 4, 1, 0, tzinfo=UTC)
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    assert parse_instant("2027-01-04 09:00") == datetime(2027, 1, 4, 1, 0, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_instant("tomorrow")


# --- compared with cronsim ----------------------------------------------------------------------------

# Not Australia/Lord_Howe: its clocks move by half an hour, and cronsim, stepping hour by hour in
# UTC, misses 02:15 the night they go back (02:15 happens once there; our test below checks it).
ZONES = ["UTC", "Asia/Shanghai", "America/New_York", "Europe/London", "America/Santiago", "Asia/Tehran"]


def _field(lo: int, hi: int, names: tuple[str, ...] = ()) -> st.SearchStrategy[str]:
    number = st.integers(lo, hi)

    def value(n: int) -> st.SearchStrategy[str]:
        if names and lo <= n - (1 if len(names) == 12 else 0) < len(names):
            return st.sampled_from([str(n), names[n - (1 if len(names) == 12 else 0)]])
        return st.just(str(n))

    single = number.flatmap(value)
    # a-b with a < b: cronsim reads `3-3/2` as `3/2` (from 3 to the end), Debian cron as just 3
    ranged = st.tuples(number, number).filter(lambda ab: ab[0] != ab[1]).map(lambda ab: f"{min(ab)}-{max(ab)}")
    step = st.integers(1, hi - lo + 1)
    stepped = st.one_of(
        step.map(lambda s: f"*/{s}"),
        st.tuples(ranged, step).map(lambda rs: f"{rs[0]}/{rs[1]}"),
        st.tuples(number, step).map(lambda ns: f"{ns[0]}/{ns[1]}"),
    )
    item = st.one_of(single, ranged, stepped)
    return st.one_of(st.just("*"), item, st.lists(item, min_size=2, max_size=3).map(",".join))


MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
EXPRESSIONS = st.tuples(
    _field(0, 59), _field(0, 23), _field(1, 31), _field(1, 12, MONTHS), _field(0, 7, DAYS)
).map(" ".join)


@pytest.mark.slow
@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    expr=EXPRESSIONS,
    tz=st.sampled_from(ZONES),
    start=st.datetimes(datetime(2024, 1, 1), datetime(2030, 12, 31)).map(lambda d: d.replace(second=0, microsecond=0)),
)
def test_the_same_occurrences_as_cronsim(expr, tz, start) -> None:
    from cronsim import CronSim, CronSimError

    try:
        mine = parse_cron(expr)
    except CronError:
        with pytest.raises(CronSimError):
            CronSim(expr, datetime(2027, 1, 1))
        return
    zone_ = ZoneInfo(tz)
    after = start.replace(tzinfo=zone_).astimezone(UTC)
    theirs = []
    for local in CronSim(expr, after.astimezone(zone_)):
        if local.astimezone(UTC) > after:
            theirs.append(local.astimezone(UTC))
        if len(theirs) == 6:
            break
    ours, at = [], after
    while len(ours) < len(theirs):
        nxt = mine.next_after(at, zone_)
        assert nxt is not None
        ours.append(nxt)
        at = nxt
    assert ours == theirs


@pytest.mark.slow
@pytest.mark.parametrize("tz", ["America/New_York", "Europe/London", "America/Santiago"])
@pytest.mark.parametrize("expr", ["30 1 * * *", "30 2 * * *", "0,30 2,3 * * *", "10 * * * *", "15 */2 * * *", "0 1-3 * * *"])
def test_a_whole_year_of_daylight_saving_as_cronsim(tz, expr) -> None:
    from cronsim import CronSim

    zone_ = ZoneInfo(tz)
    ours = year(expr, zone_)
    start = datetime(2027, 1, 1, tzinfo=zone_) - timedelta(seconds=1)
    theirs = []
    for t in CronSim(expr, start):
        if t.year > 2027 or (t.astimezone(zone_).year > 2027):
            break
        theirs.append(t.astimezone(UTC))
    assert ours == theirs
