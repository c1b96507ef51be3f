//! The dates of SigV4: the ISO 8601 basic format of `X-Amz-Date` (`20150830T123600Z`) and the
//! IMF-fixdate of an HTTP `Date` header (`Sun, 30 Aug 2015 12:36:00 GMT`), as Unix seconds.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

/// Unix seconds of `t` (negative before 1970), floored.
pub(crate) fn unix_seconds(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => {
            let d = e.duration();
            let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            if d.subsec_nanos() > 0 {
                -secs - 1
            } else {
                -secs
            }
        }
    }
}

/// The `SystemTime` of Unix seconds `secs`.
pub(crate) fn system_time(secs: i64) -> SystemTime {
    if secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(secs.unsigned_abs())
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
    }
}

fn digits(text: &[u8]) -> Option<u32> {
    text.iter().try_fold(0u32, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
    })
}

fn seconds(year: u32, month: u32, day: u32, hour: u32, minute: u32, second: u32) -> Option<i64> {
    let month = Month::try_from(u8::try_from(month).ok()?).ok()?;
    let date =
        Date::from_calendar_date(i32::try_from(year).ok()?, month, u8::try_from(day).ok()?).ok()?;
    let time = Time::from_hms(
        u8::try_from(hour).ok()?,
        u8::try_from(minute).ok()?,
        u8::try_from(second).ok()?,
    )
    .ok()?;
    Some(
        PrimitiveDateTime::new(date, time)
            .assume_utc()
            .unix_timestamp(),
    )
}

/// Unix seconds of an ISO 8601 basic-format date, `20150830T123600Z`.
pub(crate) fn parse_amz(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    seconds(
        digits(&b[0..4])?,
        digits(&b[4..6])?,
        digits(&b[6..8])?,
        digits(&b[9..11])?,
        digits(&b[11..13])?,
        digits(&b[13..15])?,
    )
}

/// Unix seconds of an IMF-fixdate, `Sun, 30 Aug 2015 12:36:00 GMT`.
pub(crate) fn parse_http_date(text: &str) -> Option<i64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (_, rest) = text.trim().split_once(", ")?;
    let mut parts = rest.split_ascii_whitespace();
    let day = digits(parts.next()?.as_bytes())?;
    let month_name = parts.next()?;
    let month = MONTHS
        .iter()
        .position(|m| m.eq_ignore_ascii_case(month_name))?;
    let year = digits(parts.next()?.as_bytes())?;
    let hms = parts.next()?.as_bytes();
    if parts.next()? != "GMT"
        || parts.next().is_some()
        || hms.len() != 8
        || hms[2] != b':'
        || hms[5] != b':'
    {
        return None;
    }
    seconds(
        year,
        u32::try_from(month).ok()? + 1,
        day,
        digits(&hms[0..2])?,
        digits(&hms[3..5])?,
        digits(&hms[6..8])?,
    )
}

/// The ISO 8601 basic format of Unix seconds, `20150830T123600Z` (`?` when out of range).
pub(crate) fn format_amz(secs: i64) -> String {
    match OffsetDateTime::from_unix_timestamp(secs) {
        Ok(t) => format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        Err(_) => "?".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amz_dates() {
        let t = parse_amz("20150830T123600Z");
        assert_eq!(t, Some(1_440_938_160));
        assert_eq!(format_amz(1_440_938_160), "20150830T123600Z");
        assert_eq!(parse_amz("20150830T123600"), None);
        assert_eq!(parse_amz("20151330T123600Z"), None);
        assert_eq!(parse_amz("2015-08-30T12:36"), None);
        assert_eq!(parse_http_date("Sun, 30 Aug 2015 12:36:00 GMT"), t);
        assert_eq!(parse_http_date("Sun, 30 Aug 2015 12:36:00 PST"), None);
        assert_eq!(unix_seconds(system_time(-5)), -5);
        assert_eq!(unix_seconds(system_time(1_440_938_160)), 1_440_938_160);
    }
}
