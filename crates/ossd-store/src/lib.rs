//! Storage behind two traits: [`MetaStore`] (buckets, objects, callback log: transactional and
//! ordered by key) and [`BlobStore`] (object bytes, streamed, addressed by [`BlobId`]).
//! The embedded defaults are [`SqliteMetaStore`] and [`LocalBlobStore`]. Nothing here knows HTTP.
//!
//! Durability contract: a writer streams bytes into a new blob (registered as in flight by the
//! [`BlobLifecycle`]), `finish`es it (fsync), and only then publishes it with one metadata commit
//! that also returns the blob(s) it left unreferenced, which the caller hands to
//! [`BlobLifecycle::reclaim`]. Object keys are never file names: blob files are named by random ids.

pub mod blob;
pub mod lifecycle;
pub mod meta;
mod page;
pub mod postgres;
mod rows;
pub mod s3;
pub mod sqlite;
mod summaries;

pub use blob::{BlobId, BlobReader, BlobStore, BlobWriter, LocalBlobStore, NodeId};
pub use lifecycle::{BlobLifecycle, InflightLease, LifecycleStats, NewBlob, ReadGuard, SweepScope, heartbeat_name};
pub use meta::*;
pub use page::{BatchRows, ListPage, PageBuilder, common_prefix, list_page_in_batches};
pub use postgres::PostgresMetaStore;
pub use s3::{S3BlobStore, S3Credentials};
pub use sqlite::{SqliteMetaStore, WriteStats};
pub use summaries::{ObjectSummary, Summaries};
