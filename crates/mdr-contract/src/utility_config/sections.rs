//! The `mdr_sync` and `thehive` sections, as `mdr-sync` reads them: the utility's keys (also those
//! only the utility uses, accepted as [`Unread`]) and `mdr-sync`'s own. A key these structs do not
//! declare is refused (see `strict`), so each struct is the full list of what its section may hold.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use serde_yaml::Value as Yaml;

use super::scalar::{CaSetting, Switch, Text, TextList, Unread, Whole};
use super::strict::{UnknownKey, check_keys, fields_of};

/// The sections of `config.yml` `mdr-sync` owns.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct SyncSections {
    #[serde(default)]
    pub(crate) mdr_sync: Option<SyncSection>,
    #[serde(default)]
    pub(crate) thehive: Option<HiveSection>,
}

/// `mdr_sync`: the utility's incident import settings (v1.0 layout), and ours.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(expecting = "a section of keys")]
pub struct SyncSection {
    /// The utility's pass interval; `mdr-sync` takes `--interval` instead.
    pub period: Option<Unread>,
    pub max_incidents_at_time: Option<Whole>,
    pub download_attachments_size_limit: Option<Whole>,
    pub exclude_author: Option<Text>,
    pub filter: Option<FilterSection>,
    /// The later layout: `modules.incident` holds the import settings.
    pub modules: Option<SyncModules>,
    pub console_url: Option<Text>,
    pub state_file: Option<Text>,
    pub start_time: Option<Whole>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(expecting = "a section of keys")]
pub struct SyncModules {
    pub incident: Option<IncidentModule>,
    /// The utility's asset export: not ours, any content.
    pub asset: Option<Unread>,
}

/// `mdr_sync.modules.incident` (later utility versions).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(expecting = "a section of keys")]
pub struct IncidentModule {
    pub enable: Option<Unread>,
    pub timeout: Option<Unread>,
    pub max_incidents_at_time: Option<Whole>,
    pub download_attachments_size_limit: Option<Whole>,
    pub exclude_author: Option<Text>,
    pub filter: Option<FilterSection>,
}

/// `filter`: `incidents: {...}` (v1.0) or the filters themselves (later versions).
pub type FilterSection = IncidentFilter;

/// The `incidents/list` filters MDR documents (the utility's `get_incidents_list`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(expecting = "a section of keys")]
pub struct IncidentFilter {
    /// The v1.0 layout: the filters one level down.
    #[serde(skip_serializing)]
    pub incidents: Option<Box<IncidentFilter>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statuses: Option<TextList>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priorities: Option<TextList>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolutions: Option<TextList>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub affected_hosts: Option<TextList>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asset_ids: Option<TextList>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detection_technologies: Option<TextList>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mitre_tactics: Option<TextList>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mitre_techniques: Option<TextList>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_statuses: Option<TextList>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_types: Option<TextList>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenants_names: Option<TextList>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_creation_time: Option<Whole>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_creation_time: Option<Whole>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_update_time: Option<Whole>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub search_phrase: Option<Text>,
    /// Paging and order are the sync's own (it reads by update time): accepted, never sent.
    #[serde(skip_serializing)]
    pub min_update_time: Option<Unread>,
    #[serde(skip_serializing)]
    pub page: Option<Unread>,
    #[serde(skip_serializing)]
    pub page_size: Option<Unread>,
    #[serde(skip_serializing)]
    pub sort: Option<Unread>,
}

impl IncidentFilter {
    /// The filters to send, whichever layout holds them.
    pub fn to_request(&self) -> Map<String, Value> {
        let filter = self.incidents.as_deref().unwrap_or(self);
        match serde_json::to_value(filter) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        }
    }
}

/// `thehive`: the utility's keys and ours.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(expecting = "a section of keys")]
pub struct HiveSection {
    pub api_url: Option<Text>,
    pub api_key: Option<Text>,
    pub ssl_cert: Option<CaSetting>,
    /// The utility's own TheHive module settings: not ours, any content.
    pub period: Option<Unread>,
    pub modules: Option<Unread>,
    pub version: Option<Text>,
    pub organisation: Option<Text>,
    pub case_tlp: Option<Whole>,
    pub case_pap: Option<Whole>,
    pub resolve_cases: Option<Switch>,
    pub resolved_status: Option<ResolvedStatus>,
    /// Must match the responders' `incident_custom_field` item.
    pub incident_custom_field: Option<Text>,
    /// Must match the responders' `response_task_group` item.
    pub response_task_group: Option<Text>,
}

/// `thehive.resolved_status`: TheHive 5 case status per MDR resolution.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(expecting = "a section of keys")]
pub struct ResolvedStatus {
    pub true_positive: Option<Text>,
    pub false_positive: Option<Text>,
    pub other: Option<Text>,
}

/// Every key of the two sections known where it stands.
pub(crate) fn check_sections(root: &Yaml) -> Result<(), UnknownKey> {
    if let Some(sync) = root.get("mdr_sync") {
        check_keys(sync, "mdr_sync", fields_of::<SyncSection>())?;
        check_filter(sync.get("filter"), "mdr_sync.filter")?;
        if let Some(modules) = sync.get("modules") {
            check_keys(modules, "mdr_sync.modules", fields_of::<SyncModules>())?;
            if let Some(incident) = modules.get("incident") {
                check_keys(incident, "mdr_sync.modules.incident", fields_of::<IncidentModule>())?;
                check_filter(incident.get("filter"), "mdr_sync.modules.incident.filter")?;
            }
        }
    }
    if let Some(hive) = root.get("thehive") {
        check_keys(hive, "thehive", fields_of::<HiveSection>())?;
        if let Some(resolved) = hive.get("resolved_status") {
            check_keys(resolved, "thehive.resolved_status", fields_of::<ResolvedStatus>())?;
        }
    }
    Ok(())
}

/// `incidents` holds the filters (v1.0), else the filters stand in `filter` itself.
fn check_filter(filter: Option<&Yaml>, path: &str) -> Result<(), UnknownKey> {
    let Some(filter) = filter else { return Ok(()) };
    match filter.get("incidents") {
        Some(incidents) => {
            check_keys(filter, path, &["incidents"])?;
            let filters: Vec<&str> =
                fields_of::<IncidentFilter>().iter().copied().filter(|k| *k != "incidents").collect();
            check_keys(incidents, &format!("{path}.incidents"), &filters)
        }
        None => check_keys(filter, path, fields_of::<IncidentFilter>()),
    }
}
