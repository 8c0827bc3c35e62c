//! Kaspersky zones, their TheHive taxonomy level, and the configurable zone → score map.

use cortex_worker::TaxonomyLevel;

/// The five colours both services use for an object's reputation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    Red,
    Orange,
    Yellow,
    Grey,
    Green,
}

impl Zone {
    pub const ALL: [Zone; 5] = [Zone::Red, Zone::Orange, Zone::Yellow, Zone::Grey, Zone::Green];

    /// Case-insensitive; `gray` is accepted for `Grey` (OpenCTI spells it so, the API says `Grey`).
    pub fn parse(text: &str) -> Option<Zone> {
        match text.trim().to_ascii_lowercase().as_str() {
            "red" => Some(Zone::Red),
            "orange" => Some(Zone::Orange),
            "yellow" => Some(Zone::Yellow),
            "grey" | "gray" => Some(Zone::Grey),
            "green" => Some(Zone::Green),
            _ => None,
        }
    }

    /// The API spelling: `Red`, `Orange`, `Yellow`, `Grey`, `Green`.
    pub fn name(self) -> &'static str {
        match self {
            Zone::Red => "Red",
            Zone::Orange => "Orange",
            Zone::Yellow => "Yellow",
            Zone::Grey => "Grey",
            Zone::Green => "Green",
        }
    }

    /// Red/Orange malicious, Yellow suspicious, Grey info, Green safe (as the Python analyzer since 2024).
    pub fn level(self) -> TaxonomyLevel {
        match self {
            Zone::Red | Zone::Orange => TaxonomyLevel::Malicious,
            Zone::Yellow => TaxonomyLevel::Suspicious,
            Zone::Grey => TaxonomyLevel::Info,
            Zone::Green => TaxonomyLevel::Safe,
        }
    }

    fn index(self) -> usize {
        match self {
            Zone::Red => 0,
            Zone::Orange => 1,
            Zone::Yellow => 2,
            Zone::Grey => 3,
            Zone::Green => 4,
        }
    }
}

/// Score per zone, 0–100; defaults are OpenCTI's `red:100,orange:80,yellow:60,grey:20,green:0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZoneScores([u8; 5]);

impl Default for ZoneScores {
    fn default() -> ZoneScores {
        ZoneScores([100, 80, 60, 20, 0])
    }
}

impl ZoneScores {
    /// `zone:score` pairs separated by commas; zones not named keep their default.
    pub fn parse(text: &str) -> Result<ZoneScores, String> {
        let mut scores = ZoneScores::default();
        for pair in text.split(',').map(str::trim).filter(|pair| !pair.is_empty()) {
            let (zone, score) = pair
                .split_once(':')
                .ok_or_else(|| format!("`{pair}` is not `zone:score` (e.g. `red:100,orange:80`)"))?;
            let zone = Zone::parse(zone).ok_or_else(|| {
                format!("unknown zone `{}` (known: red, orange, yellow, grey/gray, green)", zone.trim())
            })?;
            let score = score.trim().parse::<u8>().ok().filter(|score| *score <= 100).ok_or_else(|| {
                format!("score `{}` for {} is not a whole number from 0 to 100", score.trim(), zone.name())
            })?;
            scores.0[zone.index()] = score;
        }
        Ok(scores)
    }

    pub fn score(&self, zone: Zone) -> u8 {
        self.0[zone.index()]
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn zones_parse_case_insensitively_with_gray_alias() {
        assert_eq!(Zone::parse("RED"), Some(Zone::Red));
        assert_eq!(Zone::parse(" gray "), Some(Zone::Grey));
        assert_eq!(Zone::parse("Grey"), Some(Zone::Grey));
        assert_eq!(Zone::parse("purple"), None);
        for zone in Zone::ALL {
            assert_eq!(Zone::parse(zone.name()), Some(zone));
        }
        assert_eq!(Zone::Orange.level(), TaxonomyLevel::Malicious);
        assert_eq!(Zone::Yellow.level(), TaxonomyLevel::Suspicious);
        assert_eq!(Zone::Grey.level(), TaxonomyLevel::Info);
        assert_eq!(Zone::Green.level(), TaxonomyLevel::Safe);
    }

    #[test]
    fn scores_default_like_opencti_and_merge_overrides() {
        let defaults = ZoneScores::default();
        let scores: Vec<u8> = Zone::ALL.iter().map(|zone| defaults.score(*zone)).collect();
        assert_eq!(scores, [100, 80, 60, 20, 0]);
        assert_eq!(ZoneScores::parse("red:100,orange:80,yellow:60,gray:20,green:0").unwrap(), defaults);
        let custom = ZoneScores::parse(" Orange : 90 , GREY:5,").unwrap();
        assert_eq!(custom.score(Zone::Orange), 90);
        assert_eq!(custom.score(Zone::Grey), 5);
        assert_eq!(custom.score(Zone::Red), 100);
        assert!(ZoneScores::parse("blue:5").unwrap_err().contains("unknown zone `blue`"));
        assert!(ZoneScores::parse("red=5").unwrap_err().contains("not `zone:score`"));
        assert!(ZoneScores::parse("red:101").unwrap_err().contains("0 to 100"));
        assert!(ZoneScores::parse("red:-1").is_err());
    }
}
