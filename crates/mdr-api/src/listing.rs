//! The MDR calls of the MDR -> TheHive synchronisation (`mdr-sync`) beyond the client's lists:
//! the incidents changed since its cursor, and an attachment's bytes (at most the limit plus one
//! byte read, whatever size MDR announced: [`Download`]).
//!
//! `incidents/list` sorts by one field and leaves the order of ties unspecified, and a page is an
//! offset into the answer as it stands when that page is asked for. An incident updated while
//! later pages are read leaves its place (its `update_time` becomes the newest), every incident
//! after it moves up one place, and the next offset page skips one of them. So the changed
//! incidents are read by keyset instead: every request is page 1 from the `update_time` the
//! previous page ended on. One answer is one consistent view, sorted, so everything older than
//! its last `update_time` is in it, whatever changed between two requests; only the incidents at
//! that last time may continue on the next request, which starts again at that time.
//!
//! The one case keyset reading cannot move through is a page holding a single `update_time` (a
//! bulk change): that group is read whole with offset pages, and trusted only when MDR counts
//! the same number of incidents at that time before and after, all of them seen. Otherwise the
//! group is kept for the next pass and nothing newer is taken, so the cursor cannot pass an
//! incident a moving page skipped. Once such a group at the cursor's own time is read whole and
//! all mirrored, the listing says so ([`Changes::settled_below`]), so that the passes after it
//! start past the group and a quiet pass stays one request.
//!
//! Paging as MDR documents it (or not): docs/mdr-api.md#lists-and-paging.

use std::collections::HashSet;
use std::io::Read;

use serde_json::{Map, Value, json};

use cortex_http::Call;

use crate::client::{Body, Incident, MdrClient, MdrError, PAGE_SIZE, server_message, status_error};

/// What an attachment download gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Download {
    /// The whole file, no larger than the limit.
    File(Vec<u8>),
    /// The file is larger than the limit (whatever size MDR announced, or none): only the limit
    /// plus one byte was read, and nothing is kept.
    TooLarge,
}

/// Keyset requests made at most in one listing: each one after the first brings a new incident.
const MAX_REQUESTS: usize = 100;

/// Where the synchronisation stands: every matching incident updated before `time` is mirrored,
/// and so are the incidents named in `done`, whose `update_time` is exactly `time`.
#[derive(Debug, Clone, Copy)]
pub struct Cursor<'a> {
    pub time: i64,
    pub done: &'a [String],
}

impl Cursor<'_> {
    fn covers(&self, incident: &Incident) -> bool {
        incident.update_time < self.time
            || (incident.update_time == self.time && self.done.contains(&incident.incident_id))
    }
}

/// The three `incidents/list` and `incidents/count` requests the listing makes, apart from the
/// network so the listing can be tested against a server that changes between requests.
pub trait IncidentPages {
    /// Page 1 (of [`PAGE_SIZE`]) of the matching incidents with `update_time >= min`, oldest change first.
    fn first_page(&self, min: i64) -> Result<Vec<Incident>, MdrError>;
    /// Every matching incident whose `update_time` is exactly `time`, all pages.
    fn all_at(&self, time: i64) -> Result<Vec<Incident>, MdrError>;
    /// How many matching incidents have exactly that `update_time`.
    fn count_at(&self, time: i64) -> Result<u64, MdrError>;
}

/// The listing with the configured filter (`mdr_sync.filter.incidents`).
pub struct FilteredIncidents<'a> {
    pub client: &'a MdrClient,
    pub filter: &'a Map<String, Value>,
}

impl FilteredIncidents<'_> {
    fn body(&self, min: i64, max: Option<i64>) -> Value {
        let mut body = self.filter.clone();
        body.insert("min_update_time".to_owned(), json!(min));
        if let Some(max) = max {
            body.insert("max_update_time".to_owned(), json!(max));
        }
        body.insert("sort".to_owned(), json!("update_time:asc"));
        Value::Object(body)
    }
}

impl IncidentPages for FilteredIncidents<'_> {
    fn first_page(&self, min: i64) -> Result<Vec<Incident>, MdrError> {
        let mut body = self.body(min, None);
        body["page"] = 1.into();
        body["page_size"] = PAGE_SIZE.into();
        self.client.call("incidents/list", &Body::Json(&body), Call::Read)
    }

    fn all_at(&self, time: i64) -> Result<Vec<Incident>, MdrError> {
        self.client.list_all("incidents/list", self.body(time, Some(time)))
    }

    fn count_at(&self, time: i64) -> Result<u64, MdrError> {
        #[derive(serde::Deserialize)]
        struct Count {
            count: u64,
        }
        let body = self.body(time, Some(time));
        let answer: Count = self.client.call("incidents/count", &Body::Json(&body), Call::Read)?;
        Ok(answer.count)
    }
}

/// What a listing found.
#[derive(Debug, Default)]
pub struct Changes {
    /// The incidents to mirror, oldest change first, each once.
    pub incidents: Vec<Incident>,
    /// Every matching incident updated before this time is mirrored already: the cursor may
    /// move there (with nothing done at it) before the incidents are mirrored.
    pub settled_below: Option<i64>,
}

/// What one listing has gathered: the incidents not yet mirrored, oldest change first, each once.
struct Gathered<'a> {
    cursor: Cursor<'a>,
    seen: HashSet<String>,
    todo: Vec<Incident>,
    settled_below: Option<i64>,
}

impl Gathered<'_> {
    fn take(&mut self, incidents: Vec<Incident>) {
        for incident in incidents {
            if !self.cursor.covers(&incident) && self.seen.insert(incident.incident_id.clone()) {
                self.todo.push(incident);
            }
        }
    }

    fn first(mut self, limit: usize) -> Changes {
        self.todo.truncate(limit);
        Changes { incidents: self.todo, settled_below: self.settled_below }
    }
}

impl MdrClient {
    /// The first `limit` incidents matching `filter` that the cursor does not cover, oldest change
    /// first: mirrored in this order, each one lets the cursor move to its `update_time`.
    pub fn changed_incidents(
        &self,
        filter: &Map<String, Value>,
        cursor: Cursor<'_>,
        limit: usize,
    ) -> Result<Changes, MdrError> {
        changed_incidents(&FilteredIncidents { client: self, filter }, cursor, limit)
    }

    /// The attachment's bytes (`attachments/download` answers the raw file), or [`Download::TooLarge`]
    /// once more than `limit` bytes come: the rest is never read. Called after a list call of the
    /// same pass, so the access token is fresh.
    pub fn download_attachment(&self, attachment_id: &str, limit: u64) -> Result<Download, MdrError> {
        let endpoint = "attachments/download";
        let body = json!({"attachment_id": attachment_id});
        let response = self.exchange(endpoint, &Body::Json(&body), Call::Read, true)?;
        let status = response.status().as_u16();
        if status != 200 {
            return Err(status_error(endpoint, status, server_message(response)));
        }
        let mut bytes = Vec::new();
        response
            .take(limit.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|e| self.broken_body(endpoint, &e.to_string()))?;
        if bytes.len() as u64 > limit {
            return Ok(Download::TooLarge);
        }
        Ok(Download::File(bytes))
    }
}

/// See the module comment: keyset pages, and a whole-group read for a page of one `update_time`.
pub fn changed_incidents(pages: &impl IncidentPages, cursor: Cursor<'_>, limit: usize) -> Result<Changes, MdrError> {
    let mut gathered = Gathered { cursor, seen: HashSet::new(), todo: Vec::new(), settled_below: None };
    let mut lower = cursor.time;
    for _ in 0..MAX_REQUESTS {
        let page = pages.first_page(lower)?;
        sorted_from(&page, lower)?;
        let full = page.len() >= PAGE_SIZE;
        let last = page.last().map_or(lower, |i| i.update_time);
        if full && page.iter().all(|i| i.update_time == lower) {
            let before = pages.count_at(lower)?;
            let group = pages.all_at(lower)?;
            let after = pages.count_at(lower)?;
            let ids: HashSet<&str> =
                group.iter().filter(|i| i.update_time == lower).map(|i| i.incident_id.as_str()).collect();
            // Whole: MDR counted the same before and after, and the read saw that many, the
            // first page's among them (an empty read cannot pass for a whole one).
            let whole = before == after
                && ids.len() as u64 == after
                && page.iter().all(|i| ids.contains(i.incident_id.as_str()));
            if whole && lower == cursor.time && group.iter().all(|i| cursor.covers(i)) {
                gathered.settled_below = lower.checked_add(1);
            }
            // The first page too: a group read that came back short still leaves these to do.
            gathered.take(page);
            gathered.take(group);
            match lower.checked_add(1) {
                Some(next) if whole => lower = next,
                _ => return Ok(gathered.first(limit)),
            }
        } else {
            gathered.take(page);
            if !full {
                return Ok(gathered.first(limit));
            }
            lower = last;
        }
        if gathered.todo.len() >= limit {
            return Ok(gathered.first(limit));
        }
    }
    // Every request after the first brought a new incident: what is gathered is a valid start.
    Ok(gathered.first(limit))
}

/// A keyset page must start at `lower` and be sorted by `update_time`: the cursor moves to its
/// last time, so an unsorted answer would step over the incidents after a late one.
fn sorted_from(page: &[Incident], lower: i64) -> Result<(), MdrError> {
    let mut previous = lower;
    for incident in page {
        if incident.update_time < previous {
            return Err(MdrError::BadBody {
                endpoint: "incidents/list".to_owned(),
                detail: format!(
                    "incidents are not sorted by update_time from {lower} (incident {} at {})",
                    incident.incident_id, incident.update_time
                ),
            });
        }
        previous = incident.update_time;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::cell::RefCell;

    use super::*;

    /// The incidents a test server holds: id and `update_time`.
    type Held = Vec<(String, i64)>;
    /// What the server changes after its n-th request.
    type Between = Box<dyn Fn(usize, &mut Held)>;

    /// A server as strict as MDR: one sort key, ties in a fixed order, pages as offsets into the
    /// answer of the moment; `between` changes it after each request.
    struct Server {
        incidents: RefCell<Held>,
        requests: RefCell<usize>,
        between: Between,
        /// Reads and counts at one exact time find nothing (a `max_update_time` taken as exclusive).
        exclusive_max: bool,
        /// Newest first, whatever was asked.
        reversed: bool,
    }

    impl Server {
        fn new(incidents: Held) -> Server {
            Server {
                incidents: RefCell::new(incidents),
                requests: RefCell::new(0),
                between: Box::new(|_, _| {}),
                exclusive_max: false,
                reversed: false,
            }
        }

        fn answer(&self, keep: impl Fn(i64) -> bool, page: usize) -> Vec<Incident> {
            let mut matching: Held = self.incidents.borrow().iter().filter(|(_, t)| keep(*t)).cloned().collect();
            matching.sort_by_key(|(_, t)| *t);
            if self.reversed {
                matching.reverse();
            }
            let answer = matching
                .into_iter()
                .skip((page - 1) * PAGE_SIZE)
                .take(PAGE_SIZE)
                .map(|(id, t)| serde_json::from_value(json!({"incident_id": id, "update_time": t})).unwrap())
                .collect();
            self.after_request();
            answer
        }

        fn after_request(&self) {
            *self.requests.borrow_mut() += 1;
            (self.between)(*self.requests.borrow(), &mut self.incidents.borrow_mut());
        }
    }

    impl IncidentPages for Server {
        fn first_page(&self, min: i64) -> Result<Vec<Incident>, MdrError> {
            Ok(self.answer(|t| t >= min, 1))
        }

        fn all_at(&self, time: i64) -> Result<Vec<Incident>, MdrError> {
            let mut all = Vec::new();
            for page in 1.. {
                let batch = self.answer(|t| t == time && !self.exclusive_max, page);
                let short = batch.len() < PAGE_SIZE;
                all.extend(batch);
                if short {
                    break;
                }
            }
            Ok(all)
        }

        fn count_at(&self, time: i64) -> Result<u64, MdrError> {
            let n = self.incidents.borrow().iter().filter(|(_, t)| *t == time && !self.exclusive_max).count() as u64;
            self.after_request();
            Ok(n)
        }
    }

    fn incidents(n: usize, time: impl Fn(usize) -> i64) -> Held {
        (0..n).map(|i| (format!("i{i:04}"), time(i))).collect()
    }

    /// Passes as `mdr-sync` makes them: list, mirror all, move the cursor like its state does.
    fn sync_until_quiet(server: &Server, limit: usize) -> (Vec<String>, usize) {
        let (mut time, mut done, mut mirrored, mut passes) = (0_i64, Vec::<String>::new(), Vec::new(), 0);
        loop {
            let changes = changed_incidents(server, Cursor { time, done: &done }, limit).unwrap();
            if let Some(settled) = changes.settled_below {
                (time, done) = (settled, Vec::new());
            }
            let todo = changes.incidents;
            if todo.is_empty() {
                return (mirrored, passes);
            }
            passes += 1;
            assert!(passes < 1000, "the sync does not converge");
            for incident in todo {
                if incident.update_time > time {
                    (time, done) = (incident.update_time, Vec::new());
                }
                done.push(incident.incident_id.clone());
                mirrored.push(incident.incident_id);
            }
        }
    }

    #[test]
    fn a_group_read_that_finds_nothing_is_not_taken_for_a_whole_one() {
        let mut server = Server::new(incidents(150, |_| 7));
        server.exclusive_max = true;
        let changes = changed_incidents(&server, Cursor { time: 7, done: &[] }, 10).unwrap();
        assert_eq!(changes.settled_below, None, "the cursor must not move past incidents never read");
        assert_eq!(changes.incidents.len(), 10, "the first page's incidents are still to do");
    }

    #[test]
    fn an_unsorted_page_is_refused() {
        let mut server = Server::new(incidents(5, |i| i as i64));
        server.reversed = true;
        let err = changed_incidents(&server, Cursor { time: 0, done: &[] }, 10).unwrap_err();
        assert!(err.to_string().contains("not sorted by update_time"), "{err}");
    }

    #[test]
    fn more_incidents_at_one_time_than_a_pass_takes_converge() {
        let server = Server::new(incidents(5, |_| 7));
        let (mirrored, passes) = sync_until_quiet(&server, 2);
        assert_eq!(passes, 3);
        assert_eq!(mirrored, ["i0000", "i0001", "i0002", "i0003", "i0004"]);
    }

    #[test]
    fn a_bulk_change_larger_than_a_page_converges() {
        let server = Server::new(incidents(250, |i| if i < 230 { 7 } else { 9 }));
        let (mirrored, _) = sync_until_quiet(&server, 40);
        assert_eq!(mirrored.len(), 250);
        assert_eq!(mirrored.iter().collect::<HashSet<_>>().len(), 250, "each once");
    }

    #[test]
    fn an_update_while_pages_are_read_loses_nothing() {
        // 150 incidents, one page apart; after the first request MDR updates the oldest, so the
        // others move up one place: an offset page 2 would start one too far.
        let mut server = Server::new(incidents(150, |i| 1000 + i as i64));
        server.between = Box::new(|request, list| {
            if request == 1 {
                list[0].1 = 5000;
            }
        });
        let todo = changed_incidents(&server, Cursor { time: 0, done: &[] }, 200).unwrap().incidents;
        let ids: HashSet<&str> = todo.iter().map(|i| i.incident_id.as_str()).collect();
        assert_eq!(ids.len(), 150, "every incident once");
        assert!(todo.windows(2).all(|w| w[0].update_time <= w[1].update_time), "oldest change first");
    }

    #[test]
    fn a_group_that_changes_while_read_keeps_the_cursor_before_it() {
        // 120 incidents share one time; while the group is read one of them is updated, so an
        // offset page may skip another: nothing newer may be taken in that pass.
        let mut server = Server::new(incidents(130, |i| if i < 120 { 7 } else { 8 }));
        server.between = Box::new(|request, list| {
            if request == 3 {
                list[0].1 = 9;
            }
        });
        let todo = changed_incidents(&server, Cursor { time: 0, done: &[] }, 500).unwrap().incidents;
        assert!(todo.iter().all(|i| i.update_time == 7), "{:?}", todo.last());
        server.between = Box::new(|_, _| {});
        let (mirrored, _) = sync_until_quiet(&server, 500);
        assert_eq!(mirrored.len(), 130);
    }

    #[test]
    fn a_quiet_pass_is_one_request() {
        let server = Server::new(incidents(3, |i| 10 + i as i64));
        let done = vec!["i0002".to_owned()];
        assert!(changed_incidents(&server, Cursor { time: 12, done: &done }, 10).unwrap().incidents.is_empty());
        assert_eq!(*server.requests.borrow(), 1);
    }

    #[test]
    fn a_bulk_change_all_mirrored_lets_the_cursor_past_it() {
        let server = Server::new(incidents(150, |_| 7));
        let done: Vec<String> = server.incidents.borrow().iter().map(|(id, _)| id.clone()).collect();
        let changes = changed_incidents(&server, Cursor { time: 7, done: &done }, 10).unwrap();
        assert!(changes.incidents.is_empty());
        assert_eq!(changes.settled_below, Some(8));
        *server.requests.borrow_mut() = 0;
        assert!(changed_incidents(&server, Cursor { time: 8, done: &[] }, 10).unwrap().incidents.is_empty());
        assert_eq!(*server.requests.borrow(), 1, "the next quiet pass is one request");
        // One of them not mirrored yet: the cursor stays.
        let changes = changed_incidents(&server, Cursor { time: 7, done: &done[1..] }, 10).unwrap();
        assert_eq!((changes.incidents.len(), changes.settled_below), (1, None));
    }
}
