"""Working-day calendar (PRODUCT.md §6, DOMAIN.md G-17) and the generic
``working_days_deadline`` operator.

A deadline of N working days counts whole working days *after* the start day and ends
at ``end_of_day`` local time on the N-th one. Working days come from the ``holidays``
package: weekends and public holidays are non-working, except the official make-up
working days (weekend days the government declares working days, China's 调休), which
the package lists in ``weekend_workdays`` and reports through ``is_working_day``.
"""
from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from service_tasks.registry import OperatorError, Param, operator
from service_tasks.values import is_missing, iso, now_param, to_date, to_int, to_str, zone

DEFAULT_COUNTRY = "CN"
DEFAULT_TIMEZONE = "Asia/Shanghai"
DEFAULT_END_OF_DAY = "18:00"

_TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")


@lru_cache(maxsize=64)
def country_holidays(country: str, years: tuple[int, ...]) -> holidays.HolidayBase:
    """The (cached) public holidays of ``country`` for exactly ``years``.

    Built with ``expand=False`` so a cached object is never mutated by a later look-up.
    """
    try:
        return holidays.country_holidays(country, years=years, expand=False)
    except NotImplementedError:
        raise OperatorError(f"no holiday calendar for country {country!r}", field="country") from None


def parse_end_of_day(value: str | dt.time, field: str = "end_of_day") -> dt.time:
    """``"18:00"`` (or ``"18:00:00"``) -> ``time(18, 0)``."""
    if isinstance(value, dt.time):
        return value
    match = _TIME_RE.match(value.strip()) if isinstance(value, str) else None
    if not match:
        raise OperatorError(f"expected a time HH:MM, got {value!r}", field=field)
    hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
    if hour > 23 or minute > 59 or second > 59:
        raise OperatorError(f"expected a time HH:MM, got {value!r}", field=field)
    return dt.time(hour, minute, second)


class WorkingCalendar:
    """Working days of one country in one time zone, with a fixed end of the working day."""

    #: Safety bound for the day-by-day search (no real calendar has a year off).
    MAX_SCAN_DAYS = 3660

    def __init__(
        self,
        country: str = DEFAULT_COUNTRY,
        timezone: str = DEFAULT_TIMEZONE,
        end_of_day: str | dt.time = DEFAULT_END_OF_DAY,
    ) -> None:
        self.country = to_str(country, "country").upper()
        self.tz: ZoneInfo = zone(timezone)
        self.end_of_day = parse_end_of_day(end_of_day)
        country_holidays(self.country, (2000,))  # fail early on an unknown country

    def _holidays_for(self, year: int) -> holidays.HolidayBase:
        # The package files a late-December make-up day (worked for the next New Year)
        # under the year it falls in, so one year per look-up suffices.
        return country_holidays(self.country, (year,))

    def is_working_day(self, day: dt.date) -> bool:
        """True for a working day: a weekday that is no public holiday, or a make-up day."""
        return self._holidays_for(day.year).is_working_day(day)

    def holiday_name(self, day: dt.date) -> str | None:
        """The holiday's name on ``day`` (None when it is none)."""
        return self._holidays_for(day.year).get(day)

    def local_date(self, moment: dt.datetime | dt.date) -> dt.date:
        """The calendar day of ``moment`` in the calendar's time zone."""
        if isinstance(moment, dt.datetime):
            if moment.tzinfo is None:
                return moment.date()
            return moment.astimezone(self.tz).date()
        return moment

    def add_working_days(self, start: dt.date, days: int) -> dt.date:
        """The ``days``-th working day after ``start`` (``start`` itself not counted).

        With ``days`` = 0: ``start`` when it is a working day, else the next working day.
        """
        if days < 0:
            raise OperatorError(f"working days must be at least 0, got {days}", field="days")
        day = start
        if days == 0:
            for _ in range(self.MAX_SCAN_DAYS):
                if self.is_working_day(day):
                    return day
                day += dt.timedelta(days=1)
        else:
            counted = 0
            for _ in range(self.MAX_SCAN_DAYS + days * 7):
                day += dt.timedelta(days=1)
                if self.is_working_day(day):
                    counted += 1
                    if counted == days:
                        return day
        raise OperatorError(f"no working day found after {start}", field="days")  # pragma: no cover

    def end_of(self, day: dt.date) -> dt.datetime:
        """``day`` at the end of the working day, as an aware local datetime."""
        return dt.datetime.combine(day, self.end_of_day, tzinfo=self.tz)

    def deadline(self, start: dt.datetime | dt.date, days: int) -> dt.datetime:
        """End of the ``days``-th working day after the (local) day of ``start``."""
        return self.end_of(self.add_working_days(self.local_date(start), days))

    def working_days_between(self, start: dt.date, end: dt.date) -> int:
        """Working days in (start, end] — the count ``add_working_days`` would use."""
        count, day = 0, start
        while day < end:
            day += dt.timedelta(days=1)
            if self.is_working_day(day):
                count += 1
        return count


@lru_cache(maxsize=32)
def _calendar(country: str, timezone: str, end_of_day: str) -> WorkingCalendar:
    return WorkingCalendar(country, timezone, end_of_day)


def get_calendar(
    country: str = DEFAULT_COUNTRY,
    timezone: str = DEFAULT_TIMEZONE,
    end_of_day: str = DEFAULT_END_OF_DAY,
) -> WorkingCalendar:
    """A cached :class:`WorkingCalendar` (params are validated and errors name the field)."""
    to_str(country, "country")
    to_str(timezone, "timezone")
    if not isinstance(end_of_day, str):
        raise OperatorError(f"expected a time HH:MM, got {end_of_day!r}", field="end_of_day")
    return _calendar(country.strip().upper(), timezone.strip(), end_of_day.strip())


def calendar_from_params(params: dict) -> WorkingCalendar:
    """The calendar configured by the ``country``, ``timezone`` and ``end_of_day`` params."""
    return get_calendar(params["country"], params["timezone"], params["end_of_day"])


#: The calendar parameters every working-day operator declares.
CALENDAR_PARAMS = (
    Param("timezone", "str", DEFAULT_TIMEZONE, "IANA time zone of the business calendar."),
    Param("country", "str", DEFAULT_COUNTRY, "Country code of the public-holiday calendar (holidays package)."),
    Param("end_of_day", "str", DEFAULT_END_OF_DAY, "Local time (HH:MM) at which a working-day deadline ends."),
)


@operator(
    "working_days_deadline",
    params=[
        Param("days", "int", doc="Number of working days (>= 0) after the start day."),
        Param("output_key", "str", doc="Data key that receives the deadline."),
        Param("start_key", "str", None, "Data key of the start date / date-time; empty = now."),
        *CALENDAR_PARAMS,
        Param("now", "datetime", None, "Evaluation time (supplied by the engine)."),
    ],
)
def working_days_deadline(data: dict, params: dict) -> dict:
    """Deadline N working days after a start date, for use in any diagram.

    Input: the data key named by ``start_key`` (an ISO date or date-time; a date-time
    without offset is local time); without ``start_key`` the start is ``now``.
    Output: ``{<output_key>: ISO 8601 date-time}`` = end of the ``days``-th working day
    after the start day, at ``end_of_day`` local time (weekends and public holidays of
    ``country`` skipped, official make-up working days counted).
    Parameters: ``days``, ``output_key``, ``start_key``, ``timezone``, ``country``,
    ``end_of_day``.
    """
    cal = calendar_from_params(params)
    days = to_int(params["days"], "days")
    output_key = to_str(params["output_key"], "output_key")
    start_key = params.get("start_key")
    if start_key is None or (isinstance(start_key, str) and not start_key.strip()):
        start: dt.date = now_param(params, cal.tz).date()
    else:
        start_key = to_str(start_key, "start_key")
        value = data.get(start_key)
        if is_missing(value):
            raise OperatorError("start date is missing", field=start_key)
        start = to_date(value, start_key, cal.tz)
    return {output_key: iso(cal.deadline(start, days))}
