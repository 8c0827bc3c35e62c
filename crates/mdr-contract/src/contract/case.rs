//! The case side: the custom field linking a case to its incident, the case tag, and how TheHive
//! severity and MDR priority map onto each other.

/// The case custom field holding the MDR incident id, unless `incident_custom_field` /
/// `thehive.incident_custom_field` names another (both programs must be given the same). The
/// MDR Integration Utility hard-codes this one.
pub const DEFAULT_INCIDENT_FIELD: &str = "mdr-incident-id";
/// The tag of cases imported from MDR, as the utility puts it, and of cases linked to one.
pub const CASE_TAG: &str = "MDR";

/// MDR's incident priority (`LOW`, `NORMAL`, `HIGH`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    Low,
    Normal,
    High,
}

impl Priority {
    pub const ALL: [Priority; 3] = [Priority::Low, Priority::Normal, Priority::High];

    /// MDR's value; anything unknown or missing is `NORMAL`.
    pub fn parse(priority: Option<&str>) -> Priority {
        match priority.map(str::trim) {
            Some(p) if p.eq_ignore_ascii_case("LOW") => Priority::Low,
            Some(p) if p.eq_ignore_ascii_case("HIGH") => Priority::High,
            _ => Priority::Normal,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "LOW",
            Priority::Normal => "NORMAL",
            Priority::High => "HIGH",
        }
    }

    /// TheHive severity 1 low, 2 medium, 3 high, 4 critical: MDR has three levels, so critical is
    /// high, and no severity is normal.
    pub fn from_severity(severity: Option<i64>) -> Priority {
        match severity {
            Some(1) => Priority::Low,
            Some(3..) => Priority::High,
            _ => Priority::Normal,
        }
    }

    /// The severity of a case mirroring an incident of this priority (the utility's mapping).
    pub fn severity(self) -> i64 {
        match self {
            Priority::Low => 1,
            Priority::Normal => 2,
            Priority::High => 3,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_and_priority_are_inverse() {
        for priority in Priority::ALL {
            assert_eq!(Priority::from_severity(Some(priority.severity())), priority);
            assert_eq!(Priority::parse(Some(priority.as_str())), priority);
        }
        assert_eq!(
            [None, Some(1), Some(2), Some(3), Some(4)].map(|s| Priority::from_severity(s).as_str()),
            ["NORMAL", "LOW", "NORMAL", "HIGH", "HIGH"]
        );
        assert_eq!(Priority::parse(Some("MEDIUM")), Priority::Normal);
        assert_eq!(Priority::parse(None).severity(), 2);
    }
}
