//! UTC timestamps in the three written forms the connector needs: TIP's minute-precision dates
//! (`2024-05-01T10:20Z`), Python's `datetime.isoformat()` (which pycti hashes into ids:
//! `2024-05-01T10:20:00+00:00`), and the STIX serialisation of stix2 (`2024-05-01T10:20:00Z`,
//! fractions only when present; `created`/`modified` with at least milliseconds).

use std::time::{SystemTime, UNIX_EPOCH};

use time::macros::format_description;
use time::{Duration, OffsetDateTime, PrimitiveDateTime};

/// A UTC instant with microsecond precision (Python's `datetime`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(OffsetDateTime);

impl Timestamp {
    pub fn now() -> Timestamp {
        let micros = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros());
        Timestamp::from_unix_micros(i64::try_from(micros).unwrap_or(i64::MAX))
    }

    pub fn from_unix_micros(micros: i64) -> Timestamp {
        let instant =
            OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        Timestamp(instant)
    }

    /// A TIP date with minute precision, `%Y-%m-%dT%H:%MZ` as the Python connector parses it.
    pub fn parse_tip(text: &str) -> Option<Timestamp> {
        let format = format_description!("[year]-[month]-[day]T[hour]:[minute]Z");
        PrimitiveDateTime::parse(text, format).ok().map(|naive| Timestamp(naive.assume_utc()))
    }

    /// An RFC 3339 time as STIX writes it (`2026-12-03T20:12:31.299424Z`).
    pub fn parse_rfc3339(text: &str) -> Option<Timestamp> {
        OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
            .ok()
            .map(|t| Timestamp(t.to_offset(time::UtcOffset::UTC)))
    }

    pub fn plus_minutes(self, minutes: i64) -> Timestamp {
        Timestamp(self.0 + Duration::minutes(minutes))
    }

    /// Python's `isoformat()` of an aware UTC datetime: `+00:00`, microseconds only when non-zero.
    pub fn python_isoformat(self) -> String {
        let micros = self.0.microsecond();
        if micros == 0 { format!("{}+00:00", self.seconds()) } else { format!("{}.{micros:06}+00:00", self.seconds()) }
    }

    /// stix2's form for a timestamp of any precision (`start_time`, `stop_time`): fraction digits
    /// only when non-zero, trailing zeros dropped.
    pub fn stix(self) -> String {
        format!("{}{}Z", self.seconds(), self.fraction(0))
    }

    /// stix2's form for `created`/`modified`: at least milliseconds.
    pub fn stix_millis(self) -> String {
        format!("{}{}Z", self.seconds(), self.fraction(3))
    }

    fn seconds(self) -> String {
        let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
        self.0.format(format).unwrap_or_default()
    }

    /// `.` and the microseconds without trailing zeros, keeping at least `min_digits` digits.
    fn fraction(self, min_digits: usize) -> String {
        let digits = format!("{:06}", self.0.microsecond());
        let trimmed = digits.trim_end_matches('0');
        let kept = if trimmed.len() >= min_digits { trimmed } else { &digits[..min_digits] };
        if kept.is_empty() { String::new() } else { format!(".{kept}") }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tip_dates_parse_at_minute_precision() {
        let t = Timestamp::parse_tip("2024-05-01T10:20Z").unwrap();
        assert_eq!(t.python_isoformat(), "2024-05-01T10:20:00+00:00");
        assert_eq!(t.stix(), "2024-05-01T10:20:00Z");
        assert_eq!(t.plus_minutes(1).stix(), "2024-05-01T10:21:00Z");
        assert_eq!(Timestamp::parse_tip("2024-12-31T23:59Z").unwrap().plus_minutes(1).stix(), "2025-01-01T00:00:00Z");
        for bad in ["2024-05-01T10:20:00Z", "2024-05-01", "", "2024-13-01T10:20Z"] {
            assert_eq!(Timestamp::parse_tip(bad), None, "{bad}");
        }
    }

    #[test]
    fn fractions_as_python_and_stix2_write_them() {
        let t = Timestamp::from_unix_micros(1_767_323_045_746_830);
        assert_eq!(t.python_isoformat(), "2026-01-02T03:04:05.746830+00:00");
        assert_eq!(t.stix(), "2026-01-02T03:04:05.74683Z");
        assert_eq!(t.stix_millis(), "2026-01-02T03:04:05.74683Z");
        let whole = Timestamp::from_unix_micros(1_767_323_045_000_000);
        assert_eq!(whole.stix_millis(), "2026-01-02T03:04:05.000Z");
        assert_eq!(whole.stix(), "2026-01-02T03:04:05Z");
        assert_eq!(Timestamp::from_unix_micros(1_767_323_045_500_000).stix_millis(), "2026-01-02T03:04:05.500Z");
        assert_eq!(Timestamp::parse_rfc3339("2026-01-02T03:04:05.74683Z"), Some(t));
    }
}
