//! From one TIP answer to the enriched entity and the new STIX objects, section by section in the
//! Python connector's order (the order of the bundle). Fields missing or malformed in the answer
//! are skipped with a warning where the Python connector would stop with a KeyError.

use std::net::{Ipv4Addr, Ipv6Addr};

use kaspersky_tip::report::section;
use serde_json::{Map, Value, json};

use super::EnrichError;
use crate::kaspersky::ZoneScores;
use crate::stix::objects::{Builder, OCTI_SCO_EXTENSION};
use crate::stix::timestamp::Timestamp;

pub(super) struct Context<'a> {
    pub entity_type: &'a str,
    pub zone_scores: &'a ZoneScores,
    pub now: Timestamp,
}

pub(super) struct Outcome {
    /// The enriched entity (score, hashes, labels, names).
    pub entity: Value,
    /// Author, markings and the new objects, in the Python connector's order.
    pub objects: Vec<Value>,
    pub warnings: Vec<String>,
    /// TIP's zone was Grey: it knows nothing about the object.
    pub nothing_known: bool,
}

/// The state of one enrichment while the sections are read.
struct Work<'a> {
    context: &'a Context<'a>,
    build: Builder,
    entity: Map<String, Value>,
    entity_id: String,
    objects: Vec<Value>,
    warnings: Vec<String>,
}

pub(super) fn enrich(
    context: &Context<'_>,
    stix_entity: &Map<String, Value>,
    answer: &Map<String, Value>,
) -> Result<Outcome, EnrichError> {
    let entity_id = stix_entity
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| EnrichError::BadInput("the stix_entity has no id".to_owned()))?
        .to_owned();
    let build = Builder::new(context.now);
    let mut work =
        Work { context, build, entity: stix_entity.clone(), entity_id, objects: Vec::new(), warnings: Vec::new() };
    if let Some(license) = section(Some(answer), "LicenseInfo").and_then(Value::as_object) {
        work.check_quota(license);
    }
    work.objects.extend([build.author(), build.tlp_clear(), build.tlp_amber()]);
    let zone = section(Some(answer), "Zone").filter(|zone| truthy(zone)).and_then(Value::as_str);
    if let Some(zone) = zone
        && let Some(score) = work.score(zone, "the observable")
    {
        work.set_score(score);
    }
    let nothing_known = zone.is_some_and(|zone| zone.eq_ignore_ascii_case("grey") || zone.eq_ignore_ascii_case("gray"));
    match context.entity_type {
        "StixFile" | "Artifact" => work.file(answer),
        "IPv4-Addr" => work.ipv4(answer),
        "Domain-Name" | "Hostname" => work.domain(answer),
        "Url" => work.url(answer),
        other => return Err(EnrichError::BadInput(format!("Entity type is not supported: {other}"))),
    }
    if let Some(industries) = list(answer, "Industries") {
        work.industries(industries);
    }
    Ok(Outcome { entity: Value::Object(work.entity), objects: work.objects, warnings: work.warnings, nothing_known })
}

impl Work<'_> {
    fn check_quota(&mut self, license: &Map<String, Value>) {
        let number = |name: &str| license.get(name).and_then(Value::as_i64);
        if let (Some(used), Some(quota)) = (number("DayRequests"), number("DayQuota"))
            && used >= quota
        {
            self.warnings.push(format!("The daily quota has been exceeded ({used} of {quota} requests)"));
        }
    }

    /// The configured score of a zone; a zone the mapping lacks is reported, not fatal.
    fn score(&mut self, zone: &str, of: &str) -> Option<i64> {
        let score = self.context.zone_scores.score(zone);
        if score.is_none() {
            self.warnings
                .push(format!("Zone `{zone}` of {of} is not in KASPERSKY_ZONE_OCTI_SCORE_MAPPING: no score set"));
        }
        score
    }

    fn item_score(&mut self, item: &Map<String, Value>, of: &str) -> Option<i64> {
        item.get("Zone").and_then(Value::as_str).and_then(|zone| self.score(zone, of))
    }

    /// As pycti's `put_attribute_in_extension`: the top-level score goes, the extension gets it.
    fn set_score(&mut self, score: i64) {
        self.entity.remove("x_opencti_score");
        self.entity.remove("x_mitre_score");
        let extensions = self.entity.entry("extensions").or_insert_with(|| json!({}));
        if !extensions.is_object() {
            *extensions = json!({});
        }
        let extension = &mut extensions[OCTI_SCO_EXTENSION];
        if !extension.is_object() {
            *extension = json!({});
        }
        extension["score"] = json!(score);
    }

    /// `labels` becomes `x_opencti_labels` (or nothing) plus each category without `CATEGORY_`,
    /// `_` written as a space; Python edits that one list, so `x_opencti_labels` follows.
    fn labels(&mut self, general_info: Option<&Value>) {
        let Some(categories) =
            general_info.and_then(|info| section(info.as_object(), "Categories")).filter(|c| truthy(c))
        else {
            return;
        };
        self.extend_list(
            "labels",
            "x_opencti_labels",
            categories.as_array().into_iter().flatten().filter_map(Value::as_str).map(pretty_label),
        );
    }

    fn extend_list(&mut self, key: &str, source_key: &str, items: impl Iterator<Item = String>) {
        let mut list: Vec<Value> = self.entity.get(source_key).and_then(Value::as_array).cloned().unwrap_or_default();
        for item in items {
            if !list.iter().any(|known| known.as_str() == Some(item.as_str())) {
                list.push(json!(item));
            }
        }
        if self.entity.contains_key(source_key) {
            self.entity.insert(source_key.to_owned(), json!(list.clone()));
        }
        self.entity.insert(key.to_owned(), json!(list));
    }

    fn file(&mut self, answer: &Map<String, Value>) {
        let info = section(Some(answer), "FileGeneralInfo");
        let info_map = info.and_then(Value::as_object);
        for (key, algorithm) in [("Md5", "MD5"), ("Sha1", "SHA-1"), ("Sha256", "SHA-256")] {
            if let Some(hash) = info_map.and_then(|info| info.get(key)).filter(|v| truthy(v)) {
                let hashes = self.entity.entry("hashes").or_insert_with(|| json!({}));
                if hashes.is_object() {
                    hashes[algorithm] = hash.clone();
                }
            }
        }
        for (key, field) in [("Size", "size"), ("Type", "mime_type")] {
            if let Some(value) = info_map.and_then(|info| info.get(key)).filter(|v| truthy(v)) {
                self.entity.insert(field.to_owned(), value.clone());
            }
        }
        self.labels(info);
        if let Some(names) = list(answer, "FileNames") {
            let names: Vec<String> =
                names.iter().filter_map(|n| n.get("FileName").and_then(Value::as_str)).map(str::to_owned).collect();
            self.extend_list("additional_names", "x_opencti_additional_names", names.into_iter());
        }
        if let Some(detections) = list(answer, "DetectionsInfo") {
            let mut content = String::from("| Detection Date | Detection Name | Detection Method |\n");
            content.push_str("|----------------|----------------|------------------|\n");
            for detection in detections {
                let field = |name: &str| python_str(detection.get(name));
                content.push_str(&format!(
                    "| {} | [{}]({}) | {} |\n",
                    field("LastDetectDate"),
                    field("DetectionName"),
                    field("DescriptionUrl"),
                    field("DetectionMethod")
                ));
            }
            let note = self.build.note(&self.entity_id, &content);
            self.objects.push(note);
        }
        if let Some(urls) = list(answer, "FileDownloadedFromUrls") {
            for item in objects_of(urls) {
                let Some(url) = self.required_text(item, "Url", "FileDownloadedFromUrls") else { continue };
                let score = self.item_score(item, "a downloading URL");
                let object = self.build.value_observable("url", &url, score);
                self.link_from_entity("related-to", object, None);
            }
        }
    }

    fn ipv4(&mut self, answer: &Map<String, Value>) {
        let info = section(Some(answer), "IpGeneralInfo");
        self.labels(info);
        if let Some(country) =
            info.and_then(|info| section(info.as_object(), "CountryCode")).filter(|v| truthy(v)).and_then(Value::as_str)
        {
            let object = self.build.country(country);
            self.link_from_entity("located-at", object, None);
        }
        if let Some(files) = list(answer, "FilesDownloadedFromIp") {
            self.files(files, "FilesDownloadedFromIp");
        }
        if let Some(urls) = list(answer, "HostedUrls") {
            for item in objects_of(urls) {
                let Some(url) = self.required_text(item, "Url", "HostedUrls") else { continue };
                let score = self.item_score(item, "a hosted URL");
                let times = self.times(item, "HostedUrls");
                let object = self.build.value_observable("url", &url, score);
                self.link_from_entity("related-to", object, times);
            }
        }
        let asns =
            section(Some(answer), "IpWhoIs").and_then(|whois| section(whois.as_object(), "Asn")).filter(|v| truthy(v));
        for item in objects_of(asns.and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default()) {
            match item.get("Number").and_then(as_integer) {
                Some(number) => {
                    let object = self.build.autonomous_system(number);
                    self.link_from_entity("belongs-to", object, None);
                }
                None => self.warnings.push("IpWhoIs.Asn: an entry without a numeric Number was skipped".to_owned()),
            }
        }
        if let Some(resolutions) = list(answer, "IpDnsResolutions") {
            for item in objects_of(resolutions) {
                let Some(domain) = self.required_text(item, "Domain", "IpDnsResolutions") else { continue };
                let score = self.item_score(item, "a resolving domain");
                let times = self.times(item, "IpDnsResolutions");
                let object = self.build.value_observable("domain-name", &domain, score);
                self.link_to_entity("resolves-to", object, times);
            }
        }
    }

    fn domain(&mut self, answer: &Map<String, Value>) {
        self.labels(section(Some(answer), "DomainGeneralInfo"));
        if let Some(resolutions) = list(answer, "DomainDnsResolutions") {
            for item in objects_of(resolutions) {
                let Some(ip) = self.required_text(item, "Ip", "DomainDnsResolutions") else { continue };
                let object = self.build.value_observable("ipv4-addr", &ip, None);
                self.link_from_entity("resolves-to", object, None);
            }
        }
        if let Some(downloaded) = list(answer, "FilesDownloaded") {
            self.files(downloaded, "FilesDownloaded");
            for item in objects_of(downloaded) {
                let Some(url) = self.required_text(item, "Url", "FilesDownloaded") else { continue };
                let score = self.item_score(item, "a download URL");
                let times = self.times(item, "FilesDownloaded");
                let object = self.build.value_observable("url", &url, score);
                self.link_from_entity("related-to", object, times);
            }
        }
        if let Some(accessed) = list(answer, "FilesAccessed") {
            // The Python connector decides on x_opencti_type; the entity type says the same.
            let kind = if self.context.entity_type == "Domain-Name" { "communicates-with" } else { "related-to" };
            for item in objects_of(accessed) {
                let Some(md5) = self.required_text(item, "Md5", "FilesAccessed") else { continue };
                let score = self.item_score(item, "an accessing file");
                let times = self.times(item, "FilesAccessed");
                let object = self.build.file_md5(&md5, score);
                self.link_to_entity(kind, object, times);
            }
        }
    }

    fn url(&mut self, answer: &Map<String, Value>) {
        let info = section(Some(answer), "UrlGeneralInfo");
        let has_categories = info.and_then(|info| section(info.as_object(), "Categories")).is_some_and(truthy);
        // As in the Python connector, the host is only read when the URL has categories.
        if has_categories {
            self.labels(info);
            let host =
                info.and_then(|info| section(info.as_object(), "Host")).filter(|v| truthy(v)).and_then(Value::as_str);
            if let Some(kind) = host.and_then(host_kind) {
                let object = self.build.value_observable(kind, host.unwrap_or_default(), None);
                self.link_from_entity("related-to", object, None);
            }
        }
        for name in ["FilesDownloaded", "FilesAccessed"] {
            if let Some(files) = list(answer, name) {
                self.files(files, name);
            }
        }
    }

    /// Files known by MD5 (scored), each `related-to` from the entity with first/last seen.
    fn files(&mut self, files: &[Value], section_name: &str) {
        for item in objects_of(files) {
            let Some(md5) = self.required_text(item, "Md5", section_name) else { continue };
            let score = self.item_score(item, "a related file");
            let object = self.build.file_md5(&md5, score);
            let times = self.times(item, section_name);
            self.link_from_entity("related-to", object, times);
        }
    }

    fn industries(&mut self, industries: &[Value]) {
        for name in industries.iter().filter_map(Value::as_str) {
            let object = self.build.sector(name);
            self.link_from_entity("related-to", object, None);
        }
    }

    fn link_from_entity(&mut self, kind: &str, object: Value, times: Option<(Timestamp, Timestamp)>) {
        let target = object["id"].as_str().unwrap_or_default().to_owned();
        let relationship = self.build.relationship(kind, &self.entity_id, &target, times);
        self.objects.extend([object, relationship]);
    }

    fn link_to_entity(&mut self, kind: &str, object: Value, times: Option<(Timestamp, Timestamp)>) {
        let source = object["id"].as_str().unwrap_or_default().to_owned();
        let relationship = self.build.relationship(kind, &source, &self.entity_id, times);
        self.objects.extend([object, relationship]);
    }

    fn required_text(&mut self, item: &Map<String, Value>, key: &str, section_name: &str) -> Option<String> {
        let text = item.get(key).and_then(Value::as_str).map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned);
        if text.is_none() {
            self.warnings.push(format!("{section_name}: an entry without {key} was skipped"));
        }
        text
    }

    /// First/last seen at minute precision; equal times get one more minute at the end.
    fn times(&mut self, item: &Map<String, Value>, section_name: &str) -> Option<(Timestamp, Timestamp)> {
        let parse = |key: &str| item.get(key).and_then(Value::as_str).and_then(Timestamp::parse_tip);
        match (parse("FirstSeen"), parse("LastSeen")) {
            (Some(first), Some(last)) => Some((first, if first == last { last.plus_minutes(1) } else { last })),
            _ => {
                self.warnings.push(format!(
                    "{section_name}: FirstSeen/LastSeen missing or not YYYY-MM-DDTHH:MMZ; relationship without times"
                ));
                None
            }
        }
    }
}

/// A list section when present and not empty.
fn list<'a>(answer: &'a Map<String, Value>, name: &str) -> Option<&'a [Value]> {
    section(Some(answer), name).filter(|value| truthy(value)).and_then(Value::as_array).map(Vec::as_slice)
}

fn objects_of(items: &[Value]) -> impl Iterator<Item = &Map<String, Value>> {
    items.iter().filter_map(Value::as_object)
}

/// Python's truth value of a JSON value.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(flag) => *flag,
        Value::Number(number) => number.as_f64() != Some(0.0),
        Value::String(text) => !text.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(map) => !map.is_empty(),
    }
}

/// How Python's f-string writes a JSON value.
fn python_str(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "None".to_owned(),
        Some(Value::String(text)) => text.clone(),
        Some(Value::Bool(true)) => "True".to_owned(),
        Some(Value::Bool(false)) => "False".to_owned(),
        Some(other) => other.to_string(),
    }
}

fn pretty_label(category: &str) -> String {
    category.replace("CATEGORY_", "").replace('_', " ")
}

fn as_integer(value: &Value) -> Option<i64> {
    value.as_i64().or_else(|| value.as_str().and_then(|text| text.trim().parse().ok()))
}

/// The observable type of a URL's host, checked in the Python connector's order: domain, IPv4, IPv6.
fn host_kind(host: &str) -> Option<&'static str> {
    if is_domain(host) {
        Some("domain-name")
    } else if host.parse::<Ipv4Addr>().is_ok() {
        Some("ipv4-addr")
    } else if host.parse::<Ipv6Addr>().is_ok() {
        Some("ipv6-addr")
    } else {
        None
    }
}

/// A domain as the `validators` package accepts it: dot-separated labels of letters, digits and
/// inner hyphens (at most 63 characters each), a top-level label that is not all digits, 253 in all.
fn is_domain(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    let labels: Vec<&str> = host.split('.').collect();
    let label_ok = |label: &&str| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '_')
    };
    host.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(label_ok)
        && labels.last().is_some_and(|tld| tld.chars().any(char::is_alphabetic))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_labels() {
        assert_eq!(host_kind("malicious.example"), Some("domain-name"));
        assert_eq!(host_kind("198.51.100.7"), Some("ipv4-addr"));
        assert_eq!(host_kind("2001:db8::1"), Some("ipv6-addr"));
        assert_eq!(host_kind("localhost"), None);
        assert_eq!(pretty_label("CATEGORY_BOTNET_CNC"), "BOTNET CNC");
        assert_eq!(python_str(Some(&json!(null))), "None");
        assert!(!truthy(&json!(0)) && !truthy(&json!([])) && truthy(&json!("x")));
    }
}
