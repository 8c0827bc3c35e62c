//! Every data type on both backends, run as Cortex runs the analyzer, against the stand-in.

use serde_json::{Value, json};

use crate::common::{BACKENDS, Backend, OPENTIP_KEY, StandIn, TIP_TOKEN, config, input, run};

const MD5: &str = "44d88612fea8a8f36de82e1278abb02f";
const SHA1: &str = "3395856ce81f2b7382dee72602f798b642f14140";
const SHA256: &str = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f";
const URL: &str = "http://phish.example.test/login?a=1&b=2#top";
const URL_ENCODED: &str = "http%3A%2F%2Fphish.example.test%2Flogin%3Fa%3D1%26b%3D2%23top";

struct Case {
    data_type: &'static str,
    data: &'static str,
    /// The value the service should receive.
    sent: &'static str,
    kind: &'static str,
    zone: &'static str,
    score: u64,
    level: &'static str,
}

const CASES: [Case; 9] = [
    Case { data_type: "hash", data: MD5, sent: MD5, kind: "hash", zone: "Red", score: 100, level: "malicious" },
    Case {
        data_type: "hash",
        data: "0x3395856CE81F2B7382DEE72602F798B642F14140",
        sent: SHA1,
        kind: "hash",
        zone: "Red",
        score: 100,
        level: "malicious",
    },
    Case { data_type: "hash", data: SHA256, sent: SHA256, kind: "hash", zone: "Red", score: 100, level: "malicious" },
    Case {
        data_type: "ip",
        data: "198.51.100.7",
        sent: "198.51.100.7",
        kind: "ip",
        zone: "Orange",
        score: 80,
        level: "malicious",
    },
    Case {
        data_type: "ip",
        data: "2001:DB8:0::7",
        sent: "2001:db8::7",
        kind: "ip",
        zone: "Green",
        score: 0,
        level: "safe",
    },
    Case {
        data_type: "ip",
        data: "192.0.2.50",
        sent: "192.0.2.50",
        kind: "ip",
        zone: "Grey",
        score: 20,
        level: "info",
    },
    Case {
        data_type: "domain",
        data: "Bad.Example.Test",
        sent: "bad.example.test",
        kind: "domain",
        zone: "Yellow",
        score: 60,
        level: "suspicious",
    },
    Case {
        data_type: "fqdn",
        data: "www.safe.example.test.",
        sent: "www.safe.example.test",
        kind: "domain",
        zone: "Green",
        score: 0,
        level: "safe",
    },
    Case { data_type: "url", data: URL, sent: URL, kind: "url", zone: "Red", score: 100, level: "malicious" },
];

fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[test]
fn every_data_type_gives_zone_score_taxonomy_and_portal_link_on_both_backends() {
    for backend in BACKENDS {
        let standin = StandIn::start();
        for (index, case) in CASES.iter().enumerate() {
            let outcome = run(&input(case.data_type, case.data, 2, config(&standin, backend)));
            let label = format!("{backend:?} {} {}", case.data_type, case.data);
            assert_eq!(outcome.code, 0, "{label}: {}", outcome.raw);
            assert!(outcome.stdout.is_empty() && outcome.stderr.is_empty(), "{label}: {}", outcome.stderr);
            let full = outcome.full();
            assert_eq!(full["found"], json!(true), "{label}");
            assert_eq!(full["zone"], json!(case.zone), "{label}");
            assert_eq!(full["score"], json!(case.score), "{label}");
            assert_eq!(full["level"], json!(case.level), "{label}");
            assert_eq!(full["data"], json!(case.sent), "{label}");
            let portal = match backend {
                Backend::Tip => format!("https://tip.kaspersky.com/search?searchString={}", encode(case.sent)),
                Backend::OpenTip => format!("https://opentip.kaspersky.com/{}/", encode(case.sent)),
            };
            assert_eq!(full["portal_url"], json!(portal), "{label}");
            let taxonomies = outcome.taxonomies();
            assert_eq!(taxonomies[0], (case.level.to_owned(), "Zone".to_owned(), case.zone.to_owned()), "{label}");
            assert_eq!(outcome.output["artifacts"], json!([]), "{label}: artifacts are off by default");
            assert_eq!(outcome.output["operations"], json!([]), "{label}: tags are off by default");
            let keys: Vec<&String> = outcome.output.as_object().expect("object").keys().collect();
            assert_eq!(keys, ["success", "summary", "artifacts", "operations", "full"]);

            let requests = standin.requests();
            assert_eq!(requests.len(), index + 1, "{label}: exactly one request per job");
            let request = &requests[index];
            assert_eq!((request.service.as_str(), request.kind.as_str()), (backend.name(), case.kind), "{label}");
            assert_eq!(request.object, case.sent, "{label}");
            match backend {
                Backend::Tip => {
                    assert_eq!(request.header("authorization"), Some(format!("Bearer {TIP_TOKEN}").as_str()));
                    assert_eq!(request.header("x-api-key"), None);
                    assert_eq!(request.query("format"), Some("json"), "{label}");
                    assert_eq!(request.query("count"), Some("100"), "{label}: a sensible count, not 1");
                    let sections = request.query("sections").expect("sections");
                    assert!(sections.starts_with("LicenseInfo,Zone,"), "{label}: {sections}");
                    assert!(
                        request.target.starts_with(&format!("/api/{}/{}?", case.kind, encode(case.sent))),
                        "{label}: {}",
                        request.target
                    );
                }
                Backend::OpenTip => {
                    assert_eq!(request.header("x-api-key"), Some(OPENTIP_KEY));
                    assert_eq!(request.header("authorization"), None);
                    assert_eq!(
                        request.target,
                        format!("/api/v1/search/{}?request={}", case.kind, encode(case.sent)),
                        "{label}"
                    );
                }
            }
        }
    }
}

#[test]
fn url_is_percent_encoded_in_the_tip_path() {
    let standin = StandIn::start();
    let outcome = run(&input("url", URL, 2, config(&standin, Backend::Tip)));
    assert_eq!(outcome.code, 0, "{}", outcome.raw);
    let request = &standin.requests()[0];
    assert!(request.target.starts_with(&format!("/api/url/{URL_ENCODED}?sections=")), "{}", request.target);
}

#[test]
fn hash_report_has_general_info_detections_quota_and_taxonomies() {
    let standin = StandIn::start();
    let tip = run(&input("hash", MD5, 2, config(&standin, Backend::Tip)));
    let full = tip.full();
    assert_eq!(full["service"], "Kaspersky TIP");
    assert_eq!(full["general_info"]["Sha256"], SHA256);
    assert_eq!(full["detections"].as_array().map(Vec::len), Some(2));
    assert_eq!(full["detections"][0]["DetectionName"], "EICAR-Test-File");
    assert_eq!(full["license"]["DayQuota"], 1000);
    assert_eq!(full["categories"], json!([{"name": "CATEGORY_TEST_FILE", "label": "TEST FILE", "zone": null}]));
    assert_eq!(full["related"]["FileDownloadedFromUrls"][0]["Url"], "http://dl.example.test/eicar.com");
    assert_eq!(
        tip.taxonomies(),
        [
            ("malicious".into(), "Zone".into(), "Red".into()),
            ("malicious".into(), "Detections".into(), "2".into()),
            ("info".into(), "Categories".into(), "TEST FILE".into()),
        ]
    );

    let opentip = run(&input("hash", MD5, 2, config(&standin, Backend::OpenTip)));
    let full = opentip.full();
    assert_eq!(full["service"], "Kaspersky OpenTIP");
    assert_eq!(full["license"], Value::Null, "OpenTIP has no LicenseInfo");
    assert_eq!(
        opentip.taxonomies(),
        [
            ("malicious".into(), "Zone".into(), "Red".into()),
            ("malicious".into(), "FileStatus".into(), "Malware".into()),
            ("malicious".into(), "Detections".into(), "1".into()),
        ]
    );
}

#[test]
fn whois_and_categories_for_ip_domain_and_url() {
    let standin = StandIn::start();
    let ip = run(&input("ip", "198.51.100.7", 2, config(&standin, Backend::Tip)));
    assert_eq!(ip.full()["whois"]["Net"]["Name"], "EXAMPLE-NET");
    assert_eq!(ip.full()["related"]["IpDnsResolutions"][0]["Domain"], "cnc.example.test");
    assert_eq!(ip.taxonomies()[1], ("info".into(), "Categories".into(), "MALWARE, BOTNET CNC".into()));

    let domain = run(&input("domain", "bad.example.test", 2, config(&standin, Backend::OpenTip)));
    assert_eq!(domain.full()["whois"]["RegistrationOrganization"], "Example Registrant");
    assert_eq!(domain.full()["categories"][0]["zone"], "Yellow");

    let many = run(&input("domain", "bad.example.test", 2, config(&standin, Backend::Tip)));
    assert_eq!(
        many.taxonomies()[1].2,
        "ADVERTISEMENT, PORN, GAMBLING +1 more",
        "long category lists are shortened in the badge"
    );

    let url = run(&input("url", URL, 2, config(&standin, Backend::OpenTip)));
    assert_eq!(url.full()["whois"]["DomainName"], "example.test");
    assert_eq!(url.full()["general_info"]["Host"], "phish.example.test");
}

#[test]
fn configured_sections_and_count_are_sent_and_respected() {
    let standin = StandIn::start();
    let mut config = config(&standin, Backend::Tip);
    config["sections_ip"] = json!("ipwhois, HostedUrls");
    config["count"] = json!(5);
    let outcome = run(&input("ip", "198.51.100.7", 2, config));
    let request = &standin.requests()[0];
    assert_eq!(request.query("sections"), Some("LicenseInfo,Zone,IpGeneralInfo,IpWhoIs,HostedUrls"));
    assert_eq!(request.query("count"), Some("5"));
    let full = outcome.full();
    assert!(full["related"].get("IpDnsResolutions").is_none(), "a section not asked for is not shown");
    assert_eq!(full["related"]["HostedUrls"][0]["Url"], "http://198.51.100.7/payload.bin");
}

#[test]
fn custom_zone_scores_apply() {
    let standin = StandIn::start();
    let mut config = config(&standin, Backend::OpenTip);
    config["zone_scores"] = json!("orange:95, GRAY:10");
    let orange = run(&input("ip", "198.51.100.7", 2, config.clone()));
    assert_eq!(orange.full()["score"], 95);
    let grey = run(&input("ip", "192.0.2.50", 2, config));
    assert_eq!(grey.full()["score"], 10);
}

#[test]
fn tags_and_artifacts_when_enabled() {
    let standin = StandIn::start();
    let mut config = config(&standin, Backend::Tip);
    config["add_tags"] = json!(true);
    config["extract_artifacts"] = json!(true);
    let outcome = run(&input("ip", "198.51.100.7", 2, config.clone()));
    assert_eq!(
        outcome.output["operations"],
        json!([
            {"type": "AddTagToArtifact", "tag": "KTIP:zone=orange"},
            {"type": "AddTagToArtifact", "tag": "KTIP:category=MALWARE"},
            {"type": "AddTagToArtifact", "tag": "KTIP:category=BOTNET CNC"}
        ])
    );
    let artifacts: Vec<(String, String)> = outcome.output["artifacts"]
        .as_array()
        .expect("artifacts")
        .iter()
        .map(|a| (a["dataType"].as_str().expect("type").to_owned(), a["data"].as_str().expect("data").to_owned()))
        .collect();
    for expected in [
        ("url", "http://198.51.100.7/payload.bin"),
        ("hash", "0123456789abcdef0123456789abcdef"),
        ("domain", "cnc.example.test"),
    ] {
        assert!(artifacts.contains(&(expected.0.to_owned(), expected.1.to_owned())), "{expected:?} in {artifacts:?}");
    }
    assert_eq!(outcome.output["artifacts"][0]["message"], "Kaspersky TIP: HostedUrls (zone Red)");

    let hash = run(&input("hash", MD5, 2, config.clone()));
    let hashes: Vec<&str> = hash.output["artifacts"]
        .as_array()
        .expect("artifacts")
        .iter()
        .filter(|a| a["dataType"] == "hash")
        .map(|a| a["data"].as_str().expect("data"))
        .collect();
    assert_eq!(hashes, [SHA1, SHA256], "the other hashes of the file, not the one looked up");

    // Cortex's auto_extract=false wins over extract_artifacts.
    config["auto_extract"] = json!(false);
    let quiet = run(&input("ip", "198.51.100.7", 2, config));
    assert_eq!(quiet.output["artifacts"], json!([]));
}
