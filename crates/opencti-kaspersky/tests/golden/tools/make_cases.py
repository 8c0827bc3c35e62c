"""Our golden inputs: one OpenCTI entity (GraphQL shape) and one TIP answer per case."""
import json
import stix2

LICENSE = {"AccessType": "Commercial", "DayRequests": 41, "DayQuota": 2000, "TokenExpirationDate": "2027-06-30T00:00Z"}
GREEN = [{"id": "m-green", "standard_id": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb", "entity_type": "Marking-Definition", "definition_type": "TLP", "definition": "TLP:GREEN", "x_opencti_order": 1, "x_opencti_color": "#2e7d32", "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z"}]

def entity(kind, internal_id, standard_id, extra, markings=GREEN):
    base = {"id": internal_id, "standard_id": standard_id, "entity_type": kind, "parent_types": ["Basic-Object", "Stix-Object", "Stix-Core-Object", "Stix-Cyber-Observable"],
            "spec_version": "2.1", "created_at": "2026-11-30T09:00:00.000Z", "updated_at": "2026-11-30T09:00:00.000Z",
            "x_opencti_score": 50, "x_opencti_description": None, "observable_value": extra.get("value") or extra.get("hashes", [{}])[0].get("hash"),
            "createdBy": None, "objectMarking": markings, "objectLabel": [], "externalReferences": [], "importFiles": [], "indicators": []}
    base.update(extra)
    return base

cases = {}
md5 = "44d88612fea8a8f36de82e1278abb02f"
file_id = stix2.File(hashes={"MD5": md5}).id
cases["file"] = {
  "entity": entity("StixFile", "11111111-0000-4000-8000-000000000001", file_id, {"hashes": [{"algorithm": "MD5", "hash": md5}], "name": None, "size": None}),
  "tip": {"kind": "hash", "value": md5, "answer": {
    "LicenseInfo": LICENSE, "Zone": "Red",
    "FileGeneralInfo": {"FileStatus": "Malware", "Md5": md5, "Sha1": "3395856ce81f2b7382dee72602f798b642f14140",
      "Sha256": "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f", "FirstSeen": "2013-01-14T17:32Z", "LastSeen": "2026-11-28T06:41Z",
      "Size": 68, "Type": "COM", "Packer": None, "Signer": None, "HitsCount": 100000, "Categories": ["CATEGORY_TEST_FILE"], "HasApt": False, "RelatedAptReports": []},
    "DetectionsInfo": [
      {"LastDetectDate": "2026-11-28T06:41Z", "DetectionName": "EICAR-Test-File", "DetectionMethod": "Signature", "DescriptionUrl": "https://threats.kaspersky.com/en/threat/EICAR-Test-File/", "Zone": "Red"},
      {"LastDetectDate": "2026-10-02T11:05Z", "DetectionName": "HEUR:Trojan.Script.Generic", "DetectionMethod": "Heuristic", "DescriptionUrl": "https://threats.kaspersky.com/en/threat/Trojan.Script.Generic/", "Zone": "Red"}],
    "FileDownloadedFromUrls": [{"Url": "http://example.test/eicar.com", "Zone": "Red"}, {"Url": "https://mirror.example.org/files/eicar.txt", "Zone": "Grey"}],
    "FileNames": [{"FileName": "eicar.com"}, {"FileName": "eicar_test.txt"}],
    "Industries": ["Finance", "Telecommunications"]}}}

ip = "198.51.100.7"
cases["ipv4"] = {
  "entity": entity("IPv4-Addr", "11111111-0000-4000-8000-000000000002", stix2.IPv4Address(value=ip).id, {"value": ip}),
  "tip": {"kind": "ip", "value": ip, "answer": {
    "LicenseInfo": LICENSE, "Zone": "Orange",
    "IpGeneralInfo": {"Ip": ip, "Status": "known", "CountryCode": "NL", "HitsCount": 1000, "FirstSeen": "2025-03-04T12:00Z", "ThreatScore": 62,
      "Categories": ["CATEGORY_MALWARE", "CATEGORY_BOTNET_CNC"], "HasApt": False, "RelatedAptReports": []},
    "FilesDownloadedFromIp": [{"Md5": "0cc175b9c0f1b6a831c399e269772661", "Zone": "Red", "FirstSeen": "2026-02-01T08:15Z", "LastSeen": "2026-02-01T08:15Z"}],
    "HostedUrls": [{"Url": "http://198.51.100.7/gate.php", "Zone": "Yellow", "FirstSeen": "2025-12-24T23:59Z", "LastSeen": "2026-11-01T10:30Z"}],
    "IpWhoIs": {"Asn": [{"Number": 64500, "Description": ["EXAMPLE-AS Example Hosting B.V."]}], "Net": {"RangeStart": "198.51.100.0", "RangeEnd": "198.51.100.255", "Created": "2010-05-05T00:00Z", "Changed": "2024-01-01T00:00Z", "Name": "EXAMPLE-NET", "Description": "Example Hosting"}},
    "IpDnsResolutions": [{"Domain": "c2.malicious.example", "Zone": "Grey", "FirstSeen": "2026-01-10T00:00Z", "LastSeen": "2026-03-10T13:45Z"}],
    "Industries": ["Finance"]}}}

domain = "malicious.example"
cases["domain"] = {
  "entity": entity("Domain-Name", "11111111-0000-4000-8000-000000000003", stix2.DomainName(value=domain).id, {"value": domain}, markings=[]),
  "tip": {"kind": "domain", "value": domain, "answer": {
    "LicenseInfo": LICENSE, "Zone": "Yellow",
    "DomainGeneralInfo": {"Domain": domain, "FilesCount": 3, "UrlsCount": 12, "HitsCount": 100, "Ipv4Count": 2, "Categories": ["CATEGORY_PHISHING"], "HasApt": False, "RelatedAptReports": []},
    "DomainDnsResolutions": [{"Ip": "203.0.113.10", "Zone": "Orange", "FirstSeen": "2026-04-01T00:00Z", "LastSeen": "2026-05-01T00:00Z", "HitsCount": 10}],
    "FilesDownloaded": [{"Md5": "92eb5ffee6ae2fec3ad71c777531578f", "Url": "http://malicious.example/dl/setup.exe", "Zone": "Red", "FirstSeen": "2026-06-01T10:00Z", "LastSeen": "2026-06-02T10:00Z"}],
    "FilesAccessed": [{"Md5": "4a8a08f09d37b73795649038408b5f33", "Zone": "Orange", "FirstSeen": "2026-07-07T07:07Z", "LastSeen": "2026-07-07T07:07Z"}],
    "Industries": ["Retail"]}}}

host = "cdn.malicious.example"
cases["hostname"] = {
  "entity": entity("Hostname", "11111111-0000-4000-8000-000000000004", "hostname--" + str(__import__("uuid").uuid5(__import__("uuid").UUID("00abedb4-aa42-466c-9c01-fed23315a9b7"), json.dumps({"value": host}, separators=(",", ":")))), {"value": host}),
  "tip": {"kind": "domain", "value": host, "answer": {
    "LicenseInfo": LICENSE, "Zone": "Green",
    "DomainGeneralInfo": {"Domain": host, "FilesCount": 1, "UrlsCount": 1, "HitsCount": 10, "Ipv4Count": 1, "Categories": [], "HasApt": False, "RelatedAptReports": []},
    "DomainDnsResolutions": [{"Ip": "203.0.113.11", "Zone": "Green", "FirstSeen": "2026-04-01T00:00Z", "LastSeen": "2026-05-01T00:00Z"}],
    "FilesAccessed": [{"Md5": "8277e0910d750195b448797616e091ad", "Zone": "Green", "FirstSeen": "2026-08-01T00:00Z", "LastSeen": "2026-08-02T00:00Z"}]}}}

url = "http://malicious.example/dl/payload.exe"
cases["url"] = {
  "entity": entity("Url", "11111111-0000-4000-8000-000000000005", stix2.URL(value=url).id, {"value": url}),
  "tip": {"kind": "url", "value": url, "answer": {
    "LicenseInfo": LICENSE, "Zone": "Red",
    "UrlGeneralInfo": {"Url": url, "Host": "malicious.example", "Ipv4Count": 1, "FilesCount": 2, "Categories": ["CATEGORY_MALWARE"], "HasApt": False, "RelatedAptReports": []},
    "FilesDownloaded": [{"Md5": "e1671797c52e15f763380b45e841ec32", "Url": url, "Zone": "Red", "FirstSeen": "2026-09-09T09:09Z", "LastSeen": "2026-09-10T09:09Z"}],
    "FilesAccessed": [{"Md5": "8fa14cdd754f91cc6554c9e71929cce7", "Zone": "Yellow", "FirstSeen": "2026-09-11T00:00Z", "LastSeen": "2026-09-11T00:00Z"}],
    "Industries": ["Finance", "Government"]}}}

grey_md5 = "d41d8cd98f00b204e9800998ecf8427e"
cases["file_grey"] = {
  "entity": entity("StixFile", "11111111-0000-4000-8000-000000000006", stix2.File(hashes={"MD5": grey_md5}).id, {"hashes": [{"algorithm": "MD5", "hash": grey_md5}], "name": "empty.bin", "size": None}, markings=[]),
  "tip": {"kind": "hash", "value": grey_md5, "answer": {"LicenseInfo": LICENSE, "Zone": "Grey",
    "FileGeneralInfo": {"FileStatus": "Not categorized", "Md5": grey_md5, "HitsCount": 0}}}}

json.dump(cases, open("cases.json", "w"), indent=1)
# One enrichment message per case, as the platform queues them (manual enrichment, resolution "none").
messages = [{"internal": {"work_id": f"work-{name}", "applicant_id": None, "draft_id": None, "trigger": "update", "mode": "manual"},
             "event": {"event_type": "INTERNAL_ENRICHMENT", "entity_id": c["entity"]["standard_id"], "entity_type": c["entity"]["entity_type"],
                       "stix_entity": None, "stix_objects": None}} for name, c in cases.items()]
json.dump(messages, open("messages.json", "w"), indent=1)
print({k: v["entity"]["standard_id"] for k, v in cases.items()})
