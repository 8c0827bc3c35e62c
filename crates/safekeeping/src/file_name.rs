//! File names from elsewhere (MDR, TheHive) made safe to send in a multipart `Content-Disposition`
//! and to show: the receiver must not read a path, a header break or the end of a quoted string
//! into a name.

/// Longest name kept, in bytes: the usual file system limit.
const MAX_BYTES: usize = 255;
/// The name used when nothing usable is left.
pub const FALLBACK: &str = "attachment";

/// `name` as a plain file name: its last path component (after `/` or `\`), with control
/// characters (CR and LF included) and quotes replaced by `_`, trimmed, and at most 255 bytes
/// (cut on a character boundary, the extension kept when it is short). `.`, `..` and an empty
/// result become [`FALLBACK`].
pub fn plain_file_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).find(|part| !part.trim().is_empty()).unwrap_or("");
    let cleaned: String = last.chars().map(|c| if c.is_control() || c == '"' || c == '\'' { '_' } else { c }).collect();
    let cleaned = cleaned.trim();
    if cleaned.is_empty() || cleaned.chars().all(|c| c == '.') {
        return FALLBACK.to_owned();
    }
    shorten(cleaned)
}

/// At most [`MAX_BYTES`], keeping an extension of up to 16 bytes.
fn shorten(name: &str) -> String {
    if name.len() <= MAX_BYTES {
        return name.to_owned();
    }
    let extension = name.rfind('.').map(|dot| &name[dot..]).filter(|e| e.len() <= 16).unwrap_or("");
    let mut stem_end = MAX_BYTES - extension.len();
    while !name.is_char_boundary(stem_end) {
        stem_end -= 1;
    }
    format!("{}{extension}", &name[..stem_end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_become_their_last_component() {
        assert_eq!(plain_file_name("../../etc/passwd"), "passwd");
        assert_eq!(plain_file_name("C:\\Users\\ana\\report.docx"), "report.docx");
        assert_eq!(plain_file_name("dir/"), "dir");
        assert_eq!(plain_file_name(".."), FALLBACK);
        assert_eq!(plain_file_name("a/.."), FALLBACK);
        assert_eq!(plain_file_name(""), FALLBACK);
        assert_eq!(plain_file_name(" / "), FALLBACK);
    }

    #[test]
    fn header_breaks_and_quotes_are_replaced() {
        assert_eq!(plain_file_name("a\r\nX-Injected: yes\r\n\r\nx.txt"), "a__X-Injected: yes____x.txt");
        assert_eq!(plain_file_name("say \"hi\".txt"), "say _hi_.txt");
        assert_eq!(plain_file_name("it's.log"), "it_s.log");
        assert_eq!(plain_file_name("tab\there\0.bin"), "tab_here_.bin");
        assert_eq!(plain_file_name("отчёт.pdf"), "отчёт.pdf");
        assert_eq!(plain_file_name(".bashrc"), ".bashrc");
    }

    #[test]
    fn long_names_keep_their_extension_and_characters_whole() {
        let long = format!("{}.evtx", "ж".repeat(300));
        let short = plain_file_name(&long);
        assert!(short.len() <= MAX_BYTES && short.ends_with(".evtx"), "{short}");
        assert!(short.starts_with('ж'));
    }
}
