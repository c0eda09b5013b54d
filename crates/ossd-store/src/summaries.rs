//! Listing rows: what a listing page shows of each object, in one batch whose keys and ETags
//! share one buffer. A 1,000-row page then allocates a handful of times instead of 2,000
//! (glibc malloc/free of the per-row key and ETag strings was ~15% of a page's server CPU).

use crate::meta::RestoreState;
use std::borrow::Cow;
use std::ops::Range;

/// What a listing shows of an object (no JSON columns decoded: listings stay cheap), borrowed
/// from the [`Summaries`] it was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectSummary<'a> {
    pub key: &'a str,
    pub size: u64,
    pub etag: &'a str,
    pub last_modified_ms: i64,
    /// `Normal`, `Appendable`, ...
    pub object_type: &'a str,
    /// `Standard`, `IA`, ...
    pub storage_class: &'a str,
    pub restore: RestoreState,
}

/// Listing rows in key order.
#[derive(Debug, Clone, Default)]
pub struct Summaries {
    /// Every row's key followed by its ETag.
    text: String,
    rows: Vec<Row>,
}

#[derive(Debug, Clone)]
struct Row {
    key: Range<usize>,
    etag: Range<usize>,
    size: u64,
    last_modified_ms: i64,
    /// Borrowed from [`known_name`] for the few known names, so 1,000 rows do not hold 2,000
    /// copies of the same words.
    object_type: Cow<'static, str>,
    storage_class: Cow<'static, str>,
    restore: RestoreState,
}

/// Bytes of key and ETag a typical row needs; only sizes the first allocation.
const TEXT_PER_ROW: usize = 96;

impl Summaries {
    /// Room for `rows` rows (at most 1,001 are reserved up front: limits can be large).
    pub fn with_capacity(rows: usize) -> Summaries {
        let rows = rows.min(1001);
        Summaries { text: String::with_capacity(rows * TEXT_PER_ROW), rows: Vec::with_capacity(rows) }
    }

    /// Appends a copy of `s`.
    pub fn push(&mut self, s: ObjectSummary<'_>) {
        let key = self.append(s.key);
        let etag = self.append(s.etag);
        self.rows.push(Row {
            key,
            etag,
            size: s.size,
            last_modified_ms: s.last_modified_ms,
            object_type: known_name(s.object_type),
            storage_class: known_name(s.storage_class),
            restore: s.restore,
        });
    }

    /// Moves the first `n` rows of `other` to the end of `self`: without copying when `self` is
    /// empty (a listing page is usually one batch), else copying them into `self`'s buffer.
    pub fn append_first(&mut self, mut other: Summaries, n: usize) {
        other.rows.truncate(n);
        if self.rows.is_empty() {
            other.text.truncate(other.rows.last().map_or(0, |r| r.etag.end));
            *self = other;
            return;
        }
        let Summaries { text, rows } = other;
        self.rows.reserve(rows.len());
        for r in rows {
            let key = self.append(&text[r.key]);
            let etag = self.append(&text[r.etag]);
            self.rows.push(Row { key, etag, ..r });
        }
    }

    fn append(&mut self, s: &str) -> Range<usize> {
        let start = self.text.len();
        self.text.push_str(s);
        start..self.text.len()
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = ObjectSummary<'_>> + '_ {
        self.rows.iter().map(|r| self.view(r))
    }

    pub fn last(&self) -> Option<ObjectSummary<'_>> {
        self.rows.last().map(|r| self.view(r))
    }

    fn view<'a>(&'a self, r: &'a Row) -> ObjectSummary<'a> {
        ObjectSummary {
            key: &self.text[r.key.clone()],
            size: r.size,
            etag: &self.text[r.etag.clone()],
            last_modified_ms: r.last_modified_ms,
            object_type: &r.object_type,
            storage_class: &r.storage_class,
            restore: r.restore,
        }
    }
}

/// `s` as a static string when it is a known object type or storage class, else owned.
fn known_name(s: &str) -> Cow<'static, str> {
    const KNOWN: &[&str] = &[
        "Normal",
        "Appendable",
        "Multipart",
        "Symlink",
        "Standard",
        "IA",
        "Archive",
        "ColdArchive",
        "DeepColdArchive",
    ];
    match KNOWN.iter().find(|k| **k == s) {
        Some(k) => Cow::Borrowed(k),
        None => Cow::Owned(s.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary<'a>(key: &'a str, etag: &'a str, class: &'a str) -> ObjectSummary<'a> {
        ObjectSummary {
            key,
            size: key.len() as u64,
            etag,
            last_modified_ms: 7,
            object_type: "Normal",
            storage_class: class,
            restore: RestoreState { ready_ms: 1, expiry_ms: 2 },
        }
    }

    #[test]
    fn rows_read_back_as_pushed() {
        let mut s = Summaries::with_capacity(2);
        assert!(s.is_empty() && s.last().is_none());
        // More text than the first allocation holds, and an unknown storage class.
        let long = "k".repeat(3 * TEXT_PER_ROW);
        let rows = [summary("a/é", "E1", "Standard"), summary(&long, "", "Future"), summary("", "E3", "IA")];
        for r in rows {
            s.push(r);
        }
        assert_eq!(s.len(), 3);
        assert_eq!(s.iter().collect::<Vec<_>>(), rows);
        assert_eq!(s.last(), Some(rows[2]));
        assert_eq!(s.clone().iter().collect::<Vec<_>>(), rows);
    }

    #[test]
    fn first_rows_move_into_an_empty_batch_and_copy_into_a_full_one() {
        let rows = [summary("a", "E1", "Standard"), summary("b", "E2", "Future"), summary("c", "E3", "IA")];
        let batch = |rs: &[ObjectSummary<'_>]| {
            let mut s = Summaries::with_capacity(rs.len());
            rs.iter().for_each(|r| s.push(*r));
            s
        };
        let mut page = Summaries::default();
        page.append_first(batch(&rows), 2);
        assert_eq!(page.iter().collect::<Vec<_>>(), rows[..2]);
        page.append_first(batch(&[summary("x", "EX", "Archive")]), 0);
        page.append_first(batch(&[summary("d", "E4", "Future"), summary("e", "E5", "IA")]), 1);
        assert_eq!(page.iter().collect::<Vec<_>>(), [rows[0], rows[1], summary("d", "E4", "Future")]);
        // The rows dropped from the moved batch left no text behind.
        assert_eq!(page.text, "aE1bE2dE4");
    }
}
