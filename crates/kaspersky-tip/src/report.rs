//! Turning a TIP/OpenTIP answer into the Cortex analyzer report: `full`, taxonomies, tags, artifacts.

use cortex_worker::{AnalyzerReport, Artifact, Operation, Taxonomy, TaxonomyLevel};
use serde_json::{Map, Value, json};

use crate::client::Answer;
use crate::config::{Backend, Settings};
use crate::observable::{Kind, Observable, percent_encode};
use crate::zone::Zone;

/// Taxonomy namespace, as the Python analyzer.
pub const NAMESPACE: &str = "KTIP";
/// Categories shown in the summary badge before "+N more".
const SUMMARY_CATEGORIES: usize = 3;

/// A top-level key looked up case-insensitively (the API spells `IpWhoIs` and `IpWHOIS`).
pub fn section<'a>(object: Option<&'a Map<String, Value>>, name: &str) -> Option<&'a Value> {
    let object = object?;
    object
        .get(name)
        .or_else(|| object.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value))
        .filter(|value| !value.is_null())
}

/// The object's page on the public portal (the service host, not `api_url`).
pub fn portal_url(backend: Backend, value: &str) -> String {
    match backend {
        Backend::Tip => format!("https://tip.kaspersky.com/search?searchString={}", percent_encode(value)),
        Backend::OpenTip => format!("https://opentip.kaspersky.com/{}/", percent_encode(value)),
    }
}

fn general_info_key(kind: Kind) -> &'static str {
    match kind {
        Kind::Hash => "FileGeneralInfo",
        Kind::Ip => "IpGeneralInfo",
        Kind::Domain => "DomainGeneralInfo",
        Kind::Url => "UrlGeneralInfo",
    }
}

fn whois_keys(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Hash => &[],
        Kind::Ip => &["IpWhoIs"],
        Kind::Domain => &["DomainWhoIsInfo", "DomainWhoIs"],
        Kind::Url => &["UrlDomainWhoIs", "DomainWhoIsInfo"],
    }
}

/// `CATEGORY_PHISHING_SITE` → `PHISHING SITE`, as the OpenCTI connector makes labels.
fn category_label(name: &str) -> String {
    name.strip_prefix("CATEGORY_").unwrap_or(name).replace('_', " ")
}

/// Builds the whole report for one answer.
pub fn build(settings: &Settings, observable: &Observable, answer: &Answer, auto_extract: bool) -> AnalyzerReport {
    let backend = settings.service.backend;
    let portal = portal_url(backend, &observable.value);
    let response = match answer {
        Answer::Found(map) => map,
        Answer::NotFound => return not_found(settings, observable, portal),
    };
    let raw_zone = section(Some(response), "Zone").and_then(Value::as_str);
    let zone = raw_zone.and_then(Zone::parse);
    let level = zone.map_or(TaxonomyLevel::Info, Zone::level);
    let general = section(Some(response), general_info_key(observable.kind));
    let general_map = general.and_then(Value::as_object);
    let categories = categories(general_map);
    let detections: Vec<Value> =
        section(Some(response), "DetectionsInfo").and_then(Value::as_array).cloned().unwrap_or_default();
    let whois = whois_keys(observable.kind).iter().find_map(|key| section(Some(response), key));
    let license = section(Some(response), "LicenseInfo");

    let special = ["Zone", "LicenseInfo", "DetectionsInfo", general_info_key(observable.kind)];
    let mut related = Map::new();
    let mut other = Map::new();
    for (key, value) in response {
        let is_special = special.iter().any(|name| name.eq_ignore_ascii_case(key))
            || whois_keys(observable.kind).iter().any(|name| name.eq_ignore_ascii_case(key));
        match value {
            _ if is_special => {}
            Value::Array(items) if !items.is_empty() => {
                related.insert(key.clone(), value.clone());
            }
            Value::Object(_) => {
                other.insert(key.clone(), value.clone());
            }
            _ => {}
        }
    }

    let mut full = Map::new();
    full.insert("service".into(), json!(backend.service()));
    full.insert("found".into(), json!(true));
    full.insert("dataType".into(), json!(observable.data_type));
    full.insert("data".into(), json!(observable.value));
    full.insert("zone".into(), json!(zone.map(Zone::name).or(raw_zone)));
    full.insert("level".into(), json!(level.as_str()));
    full.insert("score".into(), json!(zone.map(|zone| settings.zone_scores.score(zone))));
    full.insert("portal_url".into(), json!(portal));
    full.insert("general_info".into(), general.cloned().unwrap_or(Value::Null));
    full.insert("categories".into(), Value::Array(categories.clone()));
    full.insert("detections".into(), Value::Array(detections.clone()));
    full.insert("whois".into(), whois.cloned().unwrap_or(Value::Null));
    full.insert("related".into(), Value::Object(related.clone()));
    full.insert("other".into(), Value::Object(other));
    full.insert("license".into(), license.cloned().unwrap_or(Value::Null));
    full.insert("response".into(), Value::Object(response.clone()));

    let mut report = AnalyzerReport::new(full).with_taxonomy(Taxonomy::new(
        level,
        NAMESPACE,
        "Zone",
        zone.map(Zone::name).or(raw_zone).unwrap_or("None"),
    ));
    if let Some(status) = section(general_map, "FileStatus").and_then(Value::as_str) {
        report.push_taxonomy(Taxonomy::new(level, NAMESPACE, "FileStatus", status));
    }
    if !detections.is_empty() {
        let detection_level = level.max(TaxonomyLevel::Suspicious);
        report.push_taxonomy(Taxonomy::new(detection_level, NAMESPACE, "Detections", detections.len().to_string()));
    }
    let labels: Vec<&str> = categories.iter().filter_map(|category| category["label"].as_str()).collect();
    if !labels.is_empty() {
        let mut value = labels.iter().take(SUMMARY_CATEGORIES).copied().collect::<Vec<_>>().join(", ");
        if labels.len() > SUMMARY_CATEGORIES {
            value.push_str(&format!(" +{} more", labels.len() - SUMMARY_CATEGORIES));
        }
        report.push_taxonomy(Taxonomy::new(TaxonomyLevel::Info, NAMESPACE, "Categories", value));
    }
    if settings.add_tags {
        if let Some(zone) = zone {
            report.push_operation(Operation::AddTagToArtifact {
                tag: format!("{NAMESPACE}:zone={}", zone.name().to_ascii_lowercase()),
            });
        }
        for label in &labels {
            report.push_operation(Operation::AddTagToArtifact { tag: format!("{NAMESPACE}:category={label}") });
        }
    }
    if settings.extract_artifacts && auto_extract {
        for artifact in artifacts(backend, observable, general_map, &related) {
            report.push_artifact(artifact);
        }
    }
    report
}

/// `[{name, label, zone}]` from `Categories` (strings) and `CategoriesWithZone` (`{Name, Zone}`).
fn categories(general: Option<&Map<String, Value>>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    let with_zone = section(general, "CategoriesWithZone").and_then(Value::as_array);
    for item in with_zone.into_iter().flatten() {
        if let Some(name) = section(item.as_object(), "Name").and_then(Value::as_str) {
            let zone = section(item.as_object(), "Zone").and_then(Value::as_str);
            out.push(json!({"name": name, "label": category_label(name), "zone": zone}));
        }
    }
    let plain = section(general, "Categories").and_then(Value::as_array);
    for name in plain.into_iter().flatten().filter_map(Value::as_str) {
        if !out.iter().any(|known| known["name"] == name) {
            out.push(json!({"name": name, "label": category_label(name), "zone": null}));
        }
    }
    out
}

fn not_found(settings: &Settings, observable: &Observable, portal: String) -> AnalyzerReport {
    let service = settings.service.backend.service();
    let zone = Zone::Grey;
    let full = json!({
        "service": service,
        "found": false,
        "dataType": observable.data_type,
        "data": observable.value,
        "message": format!("The {} `{}` is unknown to Kaspersky ({service} answered 404 Not Found).", observable.data_type, observable.value),
        "zone": zone.name(),
        "level": zone.level().as_str(),
        "score": settings.zone_scores.score(zone),
        "portal_url": portal,
    });
    AnalyzerReport::from_value(full).with_taxonomy(Taxonomy::new(zone.level(), NAMESPACE, "Zone", zone.name()))
}

/// Related observables: other hashes of the file, URLs, hashes, IPs and domains in the list sections.
fn artifacts(
    backend: Backend,
    observable: &Observable,
    general: Option<&Map<String, Value>>,
    related: &Map<String, Value>,
) -> Vec<Artifact> {
    let service = backend.service();
    let mut found: Vec<Artifact> = Vec::new();
    let mut add = |data_type: &str, data: &str, message: String| {
        let data = data.trim();
        let duplicate =
            found.iter().any(|artifact| artifact.data_type == data_type && artifact.data.eq_ignore_ascii_case(data));
        if !data.is_empty() && !data.eq_ignore_ascii_case(&observable.value) && !duplicate {
            found.push(Artifact::new(data_type, data).with_message(message));
        }
    };
    if observable.kind == Kind::Hash {
        for key in ["Md5", "Sha1", "Sha256"] {
            if let Some(hash) = section(general, key).and_then(Value::as_str) {
                add("hash", hash, format!("{service}: {key} of {}", observable.value));
            }
        }
    }
    if observable.kind == Kind::Url
        && let Some(host) = section(general, "Host").and_then(Value::as_str)
    {
        let data_type = if host.parse::<std::net::IpAddr>().is_ok() { "ip" } else { "domain" };
        add(data_type, host, format!("{service}: host of {}", observable.value));
    }
    for (name, items) in related {
        for item in items.as_array().into_iter().flatten() {
            let item = item.as_object();
            let zone = section(item, "Zone").and_then(Value::as_str);
            let message = match zone {
                Some(zone) => format!("{service}: {name} (zone {zone})"),
                None => format!("{service}: {name}"),
            };
            for (key, data_type) in [
                ("Url", "url"),
                ("Md5", "hash"),
                ("Sha1", "hash"),
                ("Sha256", "hash"),
                ("Ip", "ip"),
                ("Domain", "domain"),
            ] {
                if let Some(data) = section(item, key).and_then(Value::as_str) {
                    add(data_type, data, message.clone());
                }
            }
        }
    }
    found
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sections_match_case_insensitively_and_skip_null() {
        let map = json!({"IpWHOIS": {"a": 1}, "Zone": null}).as_object().cloned().unwrap();
        assert_eq!(section(Some(&map), "IpWhoIs"), Some(&json!({"a": 1})));
        assert_eq!(section(Some(&map), "Zone"), None);
        assert_eq!(section(None, "Zone"), None);
    }

    #[test]
    fn portal_links() {
        assert_eq!(
            portal_url(Backend::Tip, "http://x.test/?a=1"),
            "https://tip.kaspersky.com/search?searchString=http%3A%2F%2Fx.test%2F%3Fa%3D1"
        );
        assert_eq!(portal_url(Backend::OpenTip, "192.0.2.1"), "https://opentip.kaspersky.com/192.0.2.1/");
    }

    #[test]
    fn categories_merge_both_shapes() {
        let general = json!({"Categories": ["CATEGORY_PHISHING", "General"],
                             "CategoriesWithZone": [{"Name": "CATEGORY_PHISHING", "Zone": "Red"}]});
        let categories = categories(general.as_object());
        assert_eq!(
            Value::Array(categories),
            json!([{"name": "CATEGORY_PHISHING", "label": "PHISHING", "zone": "Red"},
                   {"name": "General", "label": "General", "zone": null}])
        );
    }
}
