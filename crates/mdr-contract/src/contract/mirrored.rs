//! The markers mdr-sync ends its TheHive logs with, `[MDR comment <id>]`, `[MDR attachment <id>]`,
//! `[MDR decision <response id>]`: looked for before writing, so nothing is mirrored twice.

use super::lines::{last_line, writable_id};

/// What a log mirrors from MDR.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Mirrored {
    Comment(String),
    Attachment(String),
    /// The decision MDR shows on a response.
    Decision(String),
}

impl Mirrored {
    /// `None` for an id the marker could not carry (see [`super::writable_id`]): such an item
    /// cannot be found again, so it is not written at all.
    pub fn render(&self) -> Option<String> {
        let (kind, id) = self.parts();
        writable_id(id).then(|| format!("[MDR {kind} {id}]"))
    }

    /// The marker a log ends with: its last line, whole. A marker inside the quoted MDR text
    /// above it (a comment quoting another) is not one.
    pub fn closing(message: &str) -> Option<Mirrored> {
        let inner = last_line(message)?.strip_prefix("[MDR ")?.strip_suffix(']')?;
        let (kind, id) = inner.split_once(' ')?;
        let id = id.to_owned();
        if !writable_id(&id) {
            return None;
        }
        match kind {
            "comment" => Some(Mirrored::Comment(id)),
            "attachment" => Some(Mirrored::Attachment(id)),
            "decision" => Some(Mirrored::Decision(id)),
            _ => None,
        }
    }

    fn parts(&self) -> (&'static str, &str) {
        match self {
            Mirrored::Comment(id) => ("comment", id),
            Mirrored::Attachment(id) => ("attachment", id),
            Mirrored::Decision(id) => ("decision", id),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn each_marker_reads_back() {
        for item in
            [Mirrored::Comment("c1".into()), Mirrored::Attachment("-Nz_a".into()), Mirrored::Decision("MDR_1".into())]
        {
            let marker = item.render().unwrap();
            assert_eq!(Mirrored::closing(&format!("SOC wrote:\n> hi\n\n{marker}\n")), Some(item));
        }
        assert_eq!(Mirrored::Comment("c1".into()).render().unwrap(), "[MDR comment c1]");
        assert_eq!(Mirrored::Comment("c]1".into()).render(), None);
        assert_eq!(Mirrored::Decision("a b".into()).render(), None);
    }

    #[test]
    fn only_the_last_line_counts() {
        for message in [
            "SOC wrote:\n> [MDR comment c2]\n\n[MDR comment c1] and more",
            "SOC wrote:\n> [MDR comment c2]",
            "[MDR comment c2]\n\ntext",
            "[MDR note c2]",
            "[MDR comment c 2]",
            "[MDR comment ]",
        ] {
            assert_eq!(Mirrored::closing(message), None, "{message:?}");
        }
        assert_eq!(
            Mirrored::closing("SOC wrote:\n> [MDR comment c2]\n\n[MDR comment c1]"),
            Some(Mirrored::Comment("c1".into()))
        );
    }
}
