//! Incidents, comments, responses, assets and attachments over real HTTP.
#![allow(clippy::unwrap_used)]

use reqwest::blocking::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::common::{Api, CLOSED, CONFIRMED_RESPONSE, HOST1_ID, INCIDENT, INCIDENT2, PENDING_RESPONSE, split};

#[test]
fn incident_lists_page_project_filter_and_count() {
    let api = Api::new();
    let (status, all) = api.post("incidents/list", json!({}));
    assert_eq!(status, 200);
    assert_eq!(all.as_array().unwrap().len(), 3);
    let (_, page2) = api.post("incidents/list", json!({"page": 2, "page_size": 2}));
    assert_eq!(page2.as_array().unwrap().len(), 1);
    let (_, past) = api.post("incidents/list", json!({"page": 3, "page_size": 2}));
    assert_eq!(past, json!([]));
    // No page_size: a default of 10 per page, so more than 10 comments take two pages.
    for n in 0..12 {
        assert_eq!(api.post("comments/create", json!({"incident_id": INCIDENT, "text": format!("n{n}")})).0, 200);
    }
    let (_, first) = api.post("comments/list", json!({"incident_id": INCIDENT}));
    assert_eq!(first.as_array().unwrap().len(), 10);
    let (_, second) = api.post("comments/list", json!({"incident_id": INCIDENT, "page": 2}));
    assert!(matches!(second.as_array().map(Vec::len), Some(1..10)), "{second}");
    let (_, projected) = api.post(
        "incidents/list",
        json!({"fields": ["incident_id", "status"], "statuses": ["Open"], "sort": "creation_time:asc"}),
    );
    assert_eq!(
        projected,
        json!([
            {"incident_id": INCIDENT, "status": "Open"},
            {"incident_id": INCIDENT2, "status": "Open"},
        ])
    );
    assert_eq!(api.post("incidents/count", json!({"statuses": ["Closed"]})).1, json!({"count": 1}));
    assert_eq!(api.post("incidents/count", json!({})).1, json!({"count": 3}));
    assert_eq!(api.post("incidents/count", json!({"statuses": ["Bogus"]})).0, 400);
    assert_eq!(api.post("incidents/list", json!({"page": 0})).0, 400);
    let (status, details) = api.post("incidents/details", json!({"incident_id": INCIDENT}));
    assert_eq!(status, 200);
    assert_eq!(details["incident_number"], 1234567);
    assert_eq!(details["priority"], "HIGH");
    assert_eq!(api.post("incidents/details", json!({"incident_id": "nope"})).0, 404);
}

#[test]
fn comment_create_list_history_and_journal() {
    let api = Api::new();
    let before = api.sandbox.incident(INCIDENT).unwrap()["update_time"].as_i64().unwrap();
    let body = json!({"incident_id": INCIDENT, "text": "alice wrote:\n>it was me", "markdown_to_html": true});
    let (status, comment) = api.post("comments/create", body.clone());
    assert_eq!(status, 200);
    let keys: Vec<&str> = comment.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["comment_id", "author_name", "text", "creation_time", "origin", "was_read"]);
    assert_eq!(comment["author_name"], "TheHive (API)");
    assert_eq!(comment["text"], "<p>alice wrote:</p>\n<blockquote>\n<p>it was me</p>\n</blockquote>");

    let (_, list) = api.post("comments/list", json!({"incident_id": INCIDENT}));
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[1], comment);
    let inc = api.sandbox.incident(INCIDENT).unwrap();
    assert!(inc["update_time"].as_i64().unwrap() > before);
    assert_eq!(inc["comments"][1], comment);

    let calls = api.sandbox.calls("comments/create");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].body, body, "journal keeps the raw request body");
    assert_eq!(calls[0].status, 200);

    let (_, history) =
        api.post("incidents/history", json!({"incident_id": INCIDENT, "min_record_time": comment["creation_time"]}));
    let history = history.as_array().unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0]["operation"], "create");
    assert_eq!(history[0]["entity"]["incident_comment"], comment);
    assert_eq!(history[1]["operation"], "update");
    assert!(history[1]["entity"]["incident_details"].is_object());
    let (_, own) = api.post("incidents/history", json!({"incident_id": INCIDENT, "ignore_self": true}));
    assert!(own.as_array().unwrap().iter().all(|r| r["changed_by"] != "TheHive (API)"));
    // A page far past the end is empty, not an arithmetic overflow that drops the connection.
    let far = json!({"incident_id": INCIDENT, "page": i64::MAX, "entity_type_page_size": 2});
    assert_eq!(api.post("incidents/history", far), (200, json!([])));

    // Plain text stays as sent.
    let (_, plain) = api.post("comments/create", json!({"incident_id": INCIDENT, "text": "a <b>"}));
    assert_eq!(plain["text"], "a <b>");
    // Validation.
    assert_eq!(api.post("comments/create", json!({"incident_id": INCIDENT})).0, 400);
    assert_eq!(api.post("comments/create", json!({"incident_id": INCIDENT, "text": ""})).0, 400);
    assert_eq!(api.post("comments/create", json!({"incident_id": INCIDENT, "text": 5})).0, 400);
    assert_eq!(api.post("comments/create", json!({"incident_id": "nope", "text": "x"})).0, 404);
    // Delete.
    assert_eq!(api.post("comments/delete", json!({"comment_id": comment["comment_id"]})).0, 200);
    assert_eq!(api.post("comments/delete", json!({"comment_id": comment["comment_id"]})).0, 404);
    assert_eq!(api.sandbox.incident(INCIDENT).unwrap()["comments"].as_array().unwrap().len(), 2);
}

#[test]
fn close_incident_and_already_closed() {
    let api = Api::new();
    let body =
        json!({"incident_id": INCIDENT, "resolution_status": "FALSE_POSITIVE", "summary": "benign admin script"});
    let (status, inc) = api.post("incidents/close", body.clone());
    assert_eq!(status, 200);
    assert_eq!(inc["status"], "Closed");
    assert_eq!(inc["resolution"], "False positive");
    assert_eq!(inc["status_description"], "benign admin script");
    assert_eq!(api.sandbox.incident(INCIDENT).unwrap()["status"], "Closed");
    assert_eq!(api.post("incidents/close", body).1, json!({"message": "incident is already closed"}));
    assert_eq!(api.sandbox.calls("incidents/close")[1].status, 409);
    let closed = json!({"incident_id": CLOSED, "resolution_status": "TRUE_POSITIVE", "summary": "x"});
    assert_eq!(api.post("incidents/close", closed).0, 409);
    let (status, _) = api.post(
        "incidents/close",
        json!({"incident_id": INCIDENT2, "resolution_status": "TruePositive", "summary": "x"}),
    );
    assert_eq!(status, 400);
    assert_eq!(
        api.post("incidents/close", json!({"incident_id": INCIDENT2, "resolution_status": "TRUE_POSITIVE"})).0,
        400
    );
    assert_eq!(
        api.post(
            "incidents/close",
            json!({"incident_id": "nope", "resolution_status": "TRUE_POSITIVE", "summary": "x"})
        )
        .0,
        404
    );
    let (_, inc2) = api.post(
        "incidents/close",
        json!({"incident_id": INCIDENT2, "resolution_status": "TRUE_POSITIVE", "summary": "done"}),
    );
    assert_eq!(inc2["resolution"], "True positive");
}

#[test]
fn create_incident_validates_and_creates() {
    let api = Api::new();
    let host = format!("HOST-01:{HOST1_ID}");
    let good = json!({"summary": "s", "client_description": "d", "affected_hosts": [host]});
    for (field, bad) in [
        ("summary", Value::Null),
        ("client_description", json!(3)),
        ("affected_hosts", json!("HOST-01")),
        ("affected_hosts", json!(["HOST-09:0xDEAD"])),
        ("priority", json!("MEDIUM")),
    ] {
        let mut body = good.clone();
        body[field] = bad.clone();
        let (status, err) = api.post("incidents/create", body);
        assert_eq!(status, 400, "{field}={bad}");
        assert!(err["message"].is_string());
    }
    let mut body = good.clone();
    body["affected_hosts"] = json!(["HOST-09:0xDEAD"]);
    assert!(api.post("incidents/create", body).1["message"].as_str().unwrap().contains("HOST-09:0xDEAD"));

    let (status, inc) = api.post("incidents/create", good);
    assert_eq!(status, 200);
    assert_eq!(inc["status"], "Open");
    assert_eq!(inc["resolution"], "");
    assert_eq!(inc["priority"], "HIGH");
    assert_eq!(inc["origin"], "Client");
    assert_eq!(inc["incident_number"], 1234569);
    assert_eq!(inc["creation_time"], inc["update_time"]);
    let id = inc["incident_id"].as_str().unwrap();
    assert_eq!(api.post("incidents/details", json!({"incident_id": id})).1, inc);
    assert_eq!(api.post("incidents/count", json!({})).1["count"], 4);
}

#[test]
fn response_update_only_while_pending() {
    let api = Api::new();
    let (status, list) = api.post("responses/list", json!({"incident_id": INCIDENT}));
    assert_eq!(status, 200);
    assert_eq!(list[0]["response_id"], PENDING_RESPONSE);
    assert_eq!(list[0]["status"], "New");
    assert_eq!(api.post("responses/list", json!({})).0, 400);

    assert_eq!(
        api.post("response/update", json!({"response_id": PENDING_RESPONSE, "status": "Approved", "comment": "x"})).0,
        400
    );
    assert_eq!(api.post("response/update", json!({"response_id": PENDING_RESPONSE, "status": "Confirmed"})).0, 400);
    assert_eq!(
        api.post("response/update", json!({"response_id": "MDR_nope", "status": "Confirmed", "comment": "x"})).0,
        404
    );
    let (status, resp) = api.post(
        "response/update",
        json!({"response_id": PENDING_RESPONSE, "status": "Confirmed", "comment": "go ahead"}),
    );
    assert_eq!(status, 200);
    assert_eq!(resp["status"], "Confirmed");
    assert_eq!(resp["comment"], "go ahead");
    assert_eq!(api.sandbox.response(PENDING_RESPONSE).unwrap(), resp);
    let again =
        api.post("response/update", json!({"response_id": PENDING_RESPONSE, "status": "Declined", "comment": "x"}));
    assert_eq!(again, (409, json!({"message": "response is not pending"})));
    let bulk = api
        .post("responses/update", json!({"responses_ids": [CONFIRMED_RESPONSE], "status": "Declined", "comment": "x"}));
    assert_eq!(bulk.0, 409);
    assert_eq!(api.sandbox.response(CONFIRMED_RESPONSE).unwrap()["status"], "Confirmed");
}

#[test]
fn assets_filter_page_count_details() {
    let api = Api::new();
    let (status, hosts) = api.post("assets/list", json!({"host_names": ["HOST-01"]}));
    assert_eq!(status, 200);
    let hosts = hosts.as_array().unwrap();
    assert_eq!(hosts.len(), 1);
    assert_eq!(hosts[0]["asset_id"], HOST1_ID);
    assert_eq!(api.post("assets/list", json!({"host_names": ["HOST-77"]})).1, json!([]));
    assert_eq!(
        api.post("assets/list", json!({"page": 2, "page_size": 1, "fields": ["host_name"]})).1,
        json!([{"host_name": "HOST-02"}])
    );
    assert_eq!(api.post("assets/list", json!({"page": 3, "page_size": 1})).1, json!([]));
    assert_eq!(api.post("assets/count", json!({})).1, json!({"count": 2}));
    assert_eq!(api.post("assets/count", json!({"statuses": ["WARNING"]})).1, json!({"count": 1}));
    assert_eq!(api.post("assets/count", json!({"statuses": ["BLOCKED"]})).0, 400);
    assert_eq!(api.post("assets/details", json!({"asset_id": HOST1_ID})).1["host_name"], "HOST-01");
    assert_eq!(api.post("assets/details", json!({"asset_id": "0x00"})).0, 404);
}

#[test]
fn upload_then_download_same_bytes() {
    let api = Api::new();
    let bytes: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let form = Form::new()
        .text("meta", json!({"incident_id": INCIDENT, "caption": "memory dump"}).to_string())
        .part("file", Part::bytes(bytes.clone()).file_name("dump.bin").mime_str("application/octet-stream").unwrap());
    let resp = api.client.post(api.url("attachments/upload")).bearer_auth(&api.token).multipart(form).send().unwrap();
    let (status, att) = split(resp);
    assert_eq!(status, 200, "{att}");
    assert_eq!(att["full_name"], "dump.bin");
    assert_eq!(att["file_size"], 70_000);
    assert_eq!(att["caption"], "memory dump");
    let id = att["attachment_id"].as_str().unwrap();
    assert_eq!(api.sandbox.attachment_bytes(id).unwrap(), bytes);
    let journal = &api.sandbox.calls("attachments/upload")[0];
    assert_eq!(
        journal.body,
        json!({
            "meta": {"incident_id": INCIDENT, "caption": "memory dump"},
            "file": {"name": "dump.bin", "size": 70_000},
            "parts": ["meta", "file"],
        })
    );

    let resp = api
        .client
        .post(api.url("attachments/download"))
        .bearer_auth(&api.token)
        .json(&json!({"attachment_id": id}))
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()["content-type"], "application/octet-stream");
    assert_eq!(resp.bytes().unwrap().to_vec(), bytes);
    let (_, list) = api.post("attachments/list", json!({"incident_id": INCIDENT}));
    assert!(list.as_array().unwrap().iter().any(|a| a["attachment_id"] == id));
    assert_eq!(api.post("attachments/download", json!({"attachment_id": "nope"})).0, 404);

    // Missing meta / unknown incident.
    let form = Form::new().part("file", Part::bytes(vec![1]).file_name("a"));
    let resp = api.client.post(api.url("attachments/upload")).bearer_auth(&api.token).multipart(form).send().unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let form = Form::new().text("meta", r#"{"incident_id": "nope"}"#).part("file", Part::bytes(vec![1]).file_name("a"));
    let resp = api.client.post(api.url("attachments/upload")).bearer_auth(&api.token).multipart(form).send().unwrap();
    assert_eq!(resp.status().as_u16(), 404);
}

#[test]
fn seeded_attachment_downloads() {
    let api = Api::new();
    let resp = api
        .client
        .post(api.url("attachments/download"))
        .bearer_auth(&api.token)
        .json(&json!({"attachment_id": "-NzSeedAttachment001"}))
        .send()
        .unwrap();
    let size = api.sandbox.incident(INCIDENT).unwrap()["attachments"][0]["file_size"].as_u64().unwrap();
    assert_eq!(resp.bytes().unwrap().len() as u64, size);
}

#[test]
fn seed_loads_from_file_and_rejects_bad_shapes() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/sandbox/seed.json");
    assert!(test_support::Seed::from_file(&path).is_ok());
    assert!(test_support::Seed::from_file(std::path::Path::new("/nonexistent/seed.json")).is_err());
    assert!(test_support::Seed::from_json(json!({"incidents": [{"incident_number": 1}]})).is_err());
    assert!(test_support::Seed::from_json(json!([])).is_err());
}
