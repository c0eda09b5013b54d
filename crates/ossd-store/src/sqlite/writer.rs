//! The one write connection, owned by a thread that commits queued writes in groups.
//!
//! Why: with `synchronous=FULL` every commit is one fsync of the WAL, and the disk's fsync
//! latency, not CPU, bounds how many commits a second one connection makes; every publish waited
//! for its own fsync behind everyone else's. Now writes that arrive while a commit waits for the
//! disk queue up, and the next commit takes all of them (up to [`MAX_GROUP`]) in one transaction,
//! each inside its own `SAVEPOINT`, so one write's error (a `Conflict`, `NoSuchUpload`) undoes
//! only that write. Every caller is answered only after the commit holding its changes returned:
//! an acknowledged write is exactly as durable as before, at one fsync per group.
//!
//! A group that cannot commit as a whole (SQLite rolled it back after an error such as
//! `SQLITE_FULL`, or `COMMIT` failed) is not answered from; each of its writes runs again alone,
//! with the full-disk rule (release the space reserve, try once more). Writes whose loss the
//! caller tolerates (`synced = false`, a callback's outcome) share a group's fsync when there is
//! one and skip it when a group holds only such writes.
//!
//! A write nobody waits for (`write_detached`, a callback's outcome) is not committed on its own:
//! it is held until the next write someone waits for and joins that one's transaction, or is
//! committed alone after [`DETACHED_WAIT`]. Under load that folds the outcome of one upload into
//! the commit of the next (perf of PUT+callback: the outcome's own transaction was half of the
//! writer thread's time); at rest it lands within milliseconds. Reads that must see such writes
//! pass a [`Writer::barrier`] first.

use super::{Backend, SpaceReserve};
use crate::meta::{StoreError, StoreResult};
use rusqlite::{Connection, Transaction, TransactionBehavior};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

/// At most this many writes share one commit: it bounds how long one transaction holds the
/// writer (a group of small writes runs in well under a millisecond of CPU).
const MAX_GROUP: usize = 128;

/// How long a detached write may wait for a write someone waits for before it is committed
/// alone: short next to anything a person or another process does with the log, long next to
/// the gap between two uploads under load.
const DETACHED_WAIT: Duration = Duration::from_millis(2);

/// A queued write, type-erased so writes of every result type share one queue.
trait Job: Send {
    /// Its commit must be fsynced before it is answered (`synchronous=FULL` stores).
    fn synced(&self) -> bool;
    /// Nobody waits for the answer: the write may wait for the next commit (see the module doc).
    fn detached(&self) -> bool;
    /// Runs the write in `tx`; `true` if it succeeded (its changes are to stay).
    fn run(&mut self, tx: &Transaction<'_>) -> bool;
    /// The write itself failed because the disk is full.
    fn failed_full(&self) -> bool;
    /// Answers the caller with the write's own result: its changes were committed, or it failed
    /// and left none.
    fn answer(self: Box<Self>);
    /// Answers the caller with `e`: the transaction holding its changes did not commit.
    fn fail(self: Box<Self>, e: StoreError);
}

struct PendingWrite<T, F> {
    write: F,
    synced: bool,
    result: Option<StoreResult<T>>,
    reply: Reply<T>,
}

/// Where the answer goes: a thread blocked on it (the synchronous API, the blocking pool), a
/// task awaiting it (the async API's hot writes, with no blocking-pool thread in between), or
/// nobody (a detached write: a failure is logged, naming what was written).
enum Reply<T> {
    Blocking(mpsc::SyncSender<StoreResult<T>>),
    Task(tokio::sync::oneshot::Sender<StoreResult<T>>),
    Detached(&'static str),
}

impl<T> Reply<T> {
    fn send(self, result: StoreResult<T>) {
        // A caller that went away (a cancelled request) no longer needs the answer.
        let _ = match self {
            Reply::Blocking(tx) => tx.send(result).map_err(|_| ()),
            Reply::Task(tx) => tx.send(result).map_err(|_| ()),
            Reply::Detached(what) => {
                if let Err(e) = result {
                    tracing::warn!(error = %e, "could not record {what}");
                }
                Ok(())
            }
        };
    }
}

impl<T: Send, F: Fn(&Transaction<'_>) -> StoreResult<T> + Send> Job for PendingWrite<T, F> {
    fn synced(&self) -> bool {
        self.synced
    }

    fn detached(&self) -> bool {
        matches!(self.reply, Reply::Detached(_))
    }

    fn run(&mut self, tx: &Transaction<'_>) -> bool {
        // A panicking write must not take the writer thread (and every later write) with it.
        let result = catch_unwind(AssertUnwindSafe(|| (self.write)(tx)))
            .unwrap_or_else(|_| Err(StoreError::Backend("metadata write panicked".into())));
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn failed_full(&self) -> bool {
        matches!(self.result, Some(Err(StoreError::Full(_))))
    }

    fn answer(self: Box<Self>) {
        let result = self.result.unwrap_or_else(|| Err(StoreError::Backend("metadata write did not run".into())));
        self.reply.send(result);
    }

    fn fail(self: Box<Self>, e: StoreError) {
        self.reply.send(Err(e));
    }
}

/// The handle the store keeps: a queue into the writer thread. Dropping it stops the thread
/// (after the queued writes) and waits for it, so the connection is closed when the store is.
pub(super) struct Writer {
    queue: Option<mpsc::Sender<Box<dyn Job>>>,
    thread: Option<std::thread::JoinHandle<()>>,
    stats: Arc<Counters>,
}

/// Totals since the store was opened: how well writes share commits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteStats {
    /// Writes run (each committed, or failed without changes); a held detached write counts
    /// once its group runs.
    pub writes: u64,
    /// Transactions that committed (a group counts once).
    pub commits: u64,
}

#[derive(Default)]
struct Counters {
    writes: AtomicU64,
    commits: AtomicU64,
}

fn stopped() -> StoreError {
    StoreError::Backend("the metadata writer has stopped".into())
}

impl Writer {
    /// Moves `conn` (already migrated; `synchronous=FULL` iff `durable`) to a new writer thread.
    pub(super) fn start(conn: Connection, durable: bool, reserve: SpaceReserve) -> StoreResult<Writer> {
        let (queue, jobs) = mpsc::channel::<Box<dyn Job>>();
        let stats = Arc::new(Counters::default());
        let committer = Committer { conn, durable, full_sync: durable, reserve, stats: stats.clone() };
        let thread = std::thread::Builder::new()
            .name("ossd-sqlite-writer".into())
            .spawn(move || committer.run(jobs))
            .map_err(|e| StoreError::Backend(format!("cannot start the metadata writer: {e}")))?;
        Ok(Writer { queue: Some(queue), thread: Some(thread), stats })
    }

    pub(super) fn stats(&self) -> WriteStats {
        WriteStats {
            writes: self.stats.writes.load(Ordering::Relaxed),
            commits: self.stats.commits.load(Ordering::Relaxed),
        }
    }

    /// Runs `write` in a transaction on the writer thread and returns its result once the
    /// transaction has committed (fsynced if `synced` and the store is durable). An `Err` from
    /// `write` leaves no changes.
    pub(super) fn write<T: Send + 'static>(
        &self,
        synced: bool,
        write: impl Fn(&Transaction<'_>) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.submit(synced, write, Reply::Blocking(reply))?;
        answer.recv().map_err(|_| stopped())?
    }

    /// [`write`](Self::write) for async callers: the future resolves when the writer thread
    /// answers, without a blocking-pool thread waiting in between.
    pub(super) fn write_async<T: Send + 'static>(
        &self,
        synced: bool,
        write: impl Fn(&Transaction<'_>) -> StoreResult<T> + Send + 'static,
    ) -> impl std::future::Future<Output = StoreResult<T>> + Send + 'static {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let submitted = self.submit(synced, write, Reply::Task(reply));
        async move {
            submitted?;
            answer.await.map_err(|_| stopped())?
        }
    }

    /// Queues `write` without waiting for it: it commits with the next write someone waits for,
    /// or alone within [`DETACHED_WAIT`], never fsynced on its own (a crash may lose it). A
    /// failure is logged as "could not record `what`". `Err` only if the writer has stopped.
    pub(super) fn write_detached(
        &self,
        what: &'static str,
        write: impl Fn(&Transaction<'_>) -> StoreResult<()> + Send + 'static,
    ) -> StoreResult<()> {
        self.submit(false, write, Reply::Detached(what))
    }

    /// Returns once every write queued before it, detached ones included, has committed (or
    /// failed): a read after it sees them.
    pub(super) fn barrier(&self) -> StoreResult<()> {
        self.write(false, |_| Ok(()))
    }

    fn submit<T: Send + 'static>(
        &self,
        synced: bool,
        write: impl Fn(&Transaction<'_>) -> StoreResult<T> + Send + 'static,
        reply: Reply<T>,
    ) -> StoreResult<()> {
        let job = Box::new(PendingWrite { write, synced, result: None, reply });
        self.queue.as_ref().ok_or_else(stopped)?.send(job).map_err(|_| stopped())
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        drop(self.queue.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

struct Committer {
    conn: Connection,
    durable: bool,
    /// The connection's current `synchronous` setting is FULL.
    full_sync: bool,
    reserve: SpaceReserve,
    stats: Arc<Counters>,
}

impl Committer {
    fn run(mut self, jobs: mpsc::Receiver<Box<dyn Job>>) {
        // Detached writes waiting for a commit to join, and since when the oldest has waited.
        let mut held: Vec<Box<dyn Job>> = Vec::new();
        let mut held_since = Instant::now();
        loop {
            let first = if held.is_empty() {
                match jobs.recv() {
                    Ok(job) => Some(job),
                    Err(_) => break,
                }
            } else {
                match jobs.recv_timeout(DETACHED_WAIT.saturating_sub(held_since.elapsed())) {
                    Ok(job) => Some(job),
                    Err(mpsc::RecvTimeoutError::Timeout) => None,
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
            };
            let timed_out = first.is_none();
            if held.is_empty() {
                held_since = Instant::now();
            }
            let mut group = std::mem::take(&mut held);
            group.extend(first);
            while group.len() < MAX_GROUP {
                match jobs.try_recv() {
                    Ok(job) => group.push(job),
                    Err(_) => break,
                }
            }
            if !timed_out && group.len() < MAX_GROUP && group.iter().all(|j| j.detached()) {
                held = group;
                continue;
            }
            self.commit_counted(group);
        }
        // The store is closing (every handle dropped): what is held commits now.
        if !held.is_empty() {
            self.commit_counted(held);
        }
    }

    fn commit_counted(&mut self, group: Vec<Box<dyn Job>>) {
        // Counted before anyone is answered, so a caller's snapshot includes its own write.
        self.stats.writes.fetch_add(group.len() as u64, Ordering::Relaxed);
        self.commit(group);
    }

    fn commit(&mut self, mut group: Vec<Box<dyn Job>>) {
        let synced = group.iter().any(|j| j.synced());
        if let Err(e) = self.set_synced(synced) {
            for job in group {
                job.fail(StoreError::Backend(e.to_string()));
            }
            return;
        }
        if group.len() > 1 && self.run_group(&mut group).is_ok() {
            self.reserve.restore_if_due();
            // Writes that failed on a full disk left nothing behind; they run again alone,
            // where the space reserve can be released for them. The others are answered only
            // after that: a barrier (or any write) queued behind a retried one must not return
            // before it has committed.
            let (again, done): (Vec<_>, Vec<_>) = group.into_iter().partition(|j| j.failed_full());
            for job in again {
                self.run_alone(job);
            }
            done.into_iter().for_each(|job| job.answer());
            return;
        }
        for job in group {
            self.run_alone(job);
        }
    }

    /// All of `group` in one transaction, a savepoint each. `Err` if the transaction as a whole
    /// did not commit (nothing of it was; the results the jobs hold are not to be answered).
    fn run_group(&mut self, group: &mut [Box<dyn Job>]) -> StoreResult<()> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).db()?;
        // Prepared once (cached): `execute_batch` parsed these three statements for every write.
        let step = |sql: &str| tx.prepare_cached(sql).and_then(|mut st| st.execute([])).db();
        for job in group.iter_mut() {
            step("SAVEPOINT job")?;
            let ok = job.run(&tx);
            if tx.is_autocommit() {
                // SQLite ended the transaction itself (it may, after SQLITE_FULL or an I/O
                // error): the earlier jobs' changes are gone too.
                return Err(StoreError::Backend("the group's transaction was rolled back".into()));
            }
            if !ok {
                step("ROLLBACK TO job")?;
            }
            step("RELEASE job")?;
        }
        tx.commit().db()?;
        self.stats.commits.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// One write in its own transaction; on a full disk the space reserve is released and the
    /// write tried once more, so that deletes (which free space) still commit.
    fn run_alone(&mut self, mut job: Box<dyn Job>) {
        let mut outcome = self.attempt(job.as_mut());
        let full = matches!(outcome, Err(StoreError::Full(_))) || job.failed_full();
        if full && self.reserve.release() {
            outcome = self.attempt(job.as_mut());
        }
        match outcome {
            Ok(()) => {
                self.reserve.restore_if_due();
                job.answer();
            }
            Err(e) => job.fail(e),
        }
    }

    fn attempt(&mut self, job: &mut dyn Job) -> StoreResult<()> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).db()?;
        // A failed write's transaction is rolled back when `tx` drops.
        if job.run(&tx) {
            tx.commit().db()?;
            self.stats.commits.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    fn set_synced(&mut self, synced: bool) -> StoreResult<()> {
        let full = self.durable && synced;
        if full != self.full_sync {
            // Not a cached statement: SQLite applies `PRAGMA synchronous` while preparing it, so
            // a re-stepped prepared copy would leave the setting unchanged.
            self.conn
                .execute_batch(if full { "PRAGMA synchronous = FULL;" } else { "PRAGMA synchronous = NORMAL;" })
                .db()?;
            self.full_sync = full;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{SpaceReserve, open_connection};
    use super::*;

    /// `PRAGMA synchronous` as the writer connection sees it inside a write (2 = FULL, 1 = NORMAL).
    fn read_sync(tx: &Transaction<'_>) -> StoreResult<i64> {
        tx.query_row("PRAGMA synchronous", [], |r| r.get(0)).map_err(|e| StoreError::Backend(e.to_string()))
    }

    /// Puts a write on the writer that runs until `release` is sent, and returns once its group
    /// (itself alone) is formed: writes submitted after this queue up behind it, into one group.
    fn hold(w: &Writer) -> (mpsc::Sender<()>, impl std::future::Future<Output = StoreResult<()>>) {
        let (release, wait) = mpsc::channel::<()>();
        let wait = std::sync::Mutex::new(wait);
        let taken = w.stats().writes;
        let blocker = w.write_async(false, move |_| {
            let _ = wait.lock().unwrap().recv();
            Ok(())
        });
        while w.stats().writes == taken {
            std::thread::yield_now();
        }
        (release, blocker)
    }

    fn writer(dir: &tempfile::TempDir, durable: bool) -> Writer {
        let path = dir.path().join("meta.db");
        let conn = open_connection(&path, durable, false).unwrap();
        Writer::start(conn, durable, SpaceReserve::new(dir.path().join("meta.db.reserve"))).unwrap()
    }

    /// A group of only unsynced writes commits at NORMAL; the first synced write after it (alone
    /// or in a group that also holds unsynced writes) must run at FULL again, or an acknowledged
    /// upload would not be on the disk.
    #[test]
    fn synced_writes_run_at_full_after_unsynced_groups() {
        let dir = tempfile::tempdir().unwrap();
        let w = writer(&dir, true);
        assert_eq!(w.write(true, read_sync).unwrap(), 2);
        assert_eq!(w.write(false, read_sync).unwrap(), 1);
        assert_eq!(w.write(true, read_sync).unwrap(), 2);
        assert_eq!(w.write(false, read_sync).unwrap(), 1);

        // Hold the writer in a first job so that the next ones queue into one group:
        // unsynced, synced, unsynced. The group needs FULL, so all three see FULL.
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let (release, blocker) = hold(&w);
        let queued = [false, true, false].map(|synced| w.write_async(synced, read_sync));
        release.send(()).unwrap();
        rt.block_on(blocker).unwrap();
        for answer in queued {
            assert_eq!(rt.block_on(answer).unwrap(), 2);
        }
        assert!(w.stats().commits < w.stats().writes, "the three queued writes shared a commit: {:?}", w.stats());
        assert_eq!(w.write(false, read_sync).unwrap(), 1);
        assert_eq!(w.write(true, read_sync).unwrap(), 2);
    }

    /// A table the detached-write tests count rows of, through a second connection (what another
    /// reader of the file sees: only committed rows).
    fn rows_table(dir: &tempfile::TempDir, w: &Writer) -> Connection {
        w.write(true, |tx| {
            tx.execute_batch("CREATE TABLE t (n INTEGER)").map_err(|e| StoreError::Backend(e.to_string()))
        })
        .unwrap();
        open_connection(&dir.path().join("meta.db"), false, true).unwrap()
    }

    fn insert(n: i64) -> impl Fn(&Transaction<'_>) -> StoreResult<()> + Send + 'static {
        move |tx| {
            tx.execute("INSERT INTO t (n) VALUES (?1)", [n]).map(|_| ()).map_err(|e| StoreError::Backend(e.to_string()))
        }
    }

    fn count(c: &Connection) -> i64 {
        c.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap()
    }

    /// The rows of `t` that another connection sees, in order.
    fn rows(c: &Connection) -> Vec<i64> {
        let mut st = c.prepare("SELECT n FROM t ORDER BY n").unwrap();
        st.query_map([], |r| r.get(0)).unwrap().map(|r| r.unwrap()).collect()
    }

    /// Detached writes wait for the next write someone waits for and commit in its transaction,
    /// and that write is answered only once they are visible to another connection.
    /// Deterministic part: with the writer busy, ten detached writes and an awaited one queue
    /// up and make one commit. Timed part: one detached write right before an awaited one, 50
    /// times; they share a commit unless the test thread stalls for the whole 2 ms between the
    /// two sends, so 50 rounds with 100 commits mean held writes are not held. Fails if
    /// detached writes commit on their own or are dropped.
    #[test]
    fn detached_writes_join_the_next_awaited_commit() {
        let dir = tempfile::tempdir().unwrap();
        let w = writer(&dir, true);
        let other = rows_table(&dir, &w);

        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let (release, blocker) = hold(&w);
        for n in 0..10 {
            w.write_detached("a test row", insert(n)).unwrap();
        }
        let awaited = w.write_async(true, insert(100));
        let before = w.stats();
        release.send(()).unwrap();
        rt.block_on(blocker).unwrap();
        rt.block_on(awaited).unwrap();
        let after = w.stats();
        assert_eq!(count(&other), 11);
        // Two commits: the blocker's own, then one for the eleven.
        assert_eq!((after.writes - before.writes, after.commits - before.commits), (11, 2), "{before:?} -> {after:?}");

        let before = w.stats();
        for n in 0..50 {
            w.write_detached("a test row", insert(n)).unwrap();
            w.write(true, insert(1000 + n)).unwrap();
        }
        let after = w.stats();
        assert_eq!(count(&other), 11 + 100, "an awaited write was answered before the detached one was visible");
        assert_eq!(after.writes - before.writes, 100);
        assert!(after.commits - before.commits < 100, "no detached write joined a commit: {before:?} -> {after:?}");
    }

    /// With nothing else to join, a detached write commits alone within [`DETACHED_WAIT`] (plus
    /// scheduling), and a barrier makes it visible at once; dropping the writer commits what it
    /// holds. Fails if a held write waits for a next write forever or is lost at close.
    #[test]
    fn detached_writes_commit_alone_after_a_while_and_at_close() {
        let dir = tempfile::tempdir().unwrap();
        let w = writer(&dir, false);
        let other = rows_table(&dir, &w);

        w.write_detached("a test row", insert(1)).unwrap();
        let start = Instant::now();
        while count(&other) < 1 {
            assert!(start.elapsed() < Duration::from_secs(5), "a detached write never committed on its own");
            std::thread::sleep(Duration::from_millis(1));
        }

        w.write_detached("a test row", insert(2)).unwrap();
        w.barrier().unwrap();
        assert_eq!(count(&other), 2, "the barrier returned before the detached write committed");

        // Held (the writer waits DETACHED_WAIT for company), then the store closes.
        for n in 3..=5 {
            w.write_detached("a test row", insert(n)).unwrap();
        }
        drop(w);
        assert_eq!(count(&other), 5, "detached writes were lost when the writer stopped");
    }

    /// A detached write that fails leaves no changes and does not take the awaited writes of its
    /// group with it.
    #[test]
    fn a_failing_detached_write_undoes_only_itself() {
        let dir = tempfile::tempdir().unwrap();
        let w = writer(&dir, false);
        let other = rows_table(&dir, &w);
        // Held, so that the three queue into one group whatever the test thread's timing.
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let (release, blocker) = hold(&w);
        w.write_detached("a test row", |tx| {
            insert(7)(tx)?;
            Err(StoreError::Backend("refused".into()))
        })
        .unwrap();
        w.write_detached("a test row", insert(8)).unwrap();
        let awaited = w.write_async(true, insert(9));
        let before = w.stats();
        release.send(()).unwrap();
        rt.block_on(blocker).unwrap();
        rt.block_on(awaited).unwrap();
        let after = w.stats();
        assert_eq!(after.commits - before.commits, 2, "the three did not share a group: {before:?} -> {after:?}");
        assert_eq!(rows(&other), [8, 9]);
    }

    /// A write of a group that failed on a full disk runs again alone; the writes queued behind
    /// it in that group, a barrier here, are answered only after the retry committed. Fails if
    /// the barrier returns while the retried detached write is still running (the reader would
    /// see a callback still `pending` whose outcome was recorded before it asked).
    #[test]
    fn writes_behind_a_retried_full_write_wait_for_it() {
        let dir = tempfile::tempdir().unwrap();
        let w = writer(&dir, false);
        let other = rows_table(&dir, &w);

        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let (release, blocker) = hold(&w);
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let (go_on, retry_waits) = mpsc::channel::<()>();
        let retry_waits = std::sync::Mutex::new(retry_waits);
        w.write_detached("a test row", move |tx| {
            if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                return Err(StoreError::Full("no space left (test)".into()));
            }
            let _ = retry_waits.lock().unwrap().recv_timeout(Duration::from_secs(5));
            insert(1)(tx)
        })
        .unwrap();
        let barrier = w.write_async(false, |_| Ok(()));
        release.send(()).unwrap();
        rt.block_on(blocker).unwrap();
        // The retry now waits for `go_on`; let it go a little later, from another thread.
        let later = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            let _ = go_on.send(());
        });
        rt.block_on(barrier).unwrap();
        assert_eq!(count(&other), 1, "the barrier returned before the retried write committed");
        later.join().unwrap();
    }

    /// When SQLite ends a group's transaction itself (here a write runs ROLLBACK, as SQLite may
    /// after SQLITE_FULL or an I/O error), the earlier writes' changes are gone: every write of
    /// the group, the held detached ones included, runs again alone. Fails if a detached write
    /// is dropped or an awaited one answered with changes that were rolled back.
    #[test]
    fn a_group_rolled_back_by_sqlite_runs_its_writes_again_alone() {
        let dir = tempfile::tempdir().unwrap();
        let w = writer(&dir, false);
        let other = rows_table(&dir, &w);
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let (release, blocker) = hold(&w);
        w.write_detached("a test row", insert(1)).unwrap();
        w.write_detached("a test row", insert(2)).unwrap();
        let rolls_back =
            w.write_async(false, |tx| tx.execute_batch("ROLLBACK").map_err(|e| StoreError::Backend(e.to_string())));
        let awaited = w.write_async(true, insert(3));
        release.send(()).unwrap();
        rt.block_on(blocker).unwrap();
        rt.block_on(awaited).unwrap();
        // Alone, its ROLLBACK ends its own transaction, so its commit fails: it is told so.
        assert!(rt.block_on(rolls_back).is_err());
        w.barrier().unwrap();
        assert_eq!(rows(&other), [1, 2, 3]);
    }

    /// A store opened without durability never turns FULL on.
    #[test]
    fn relaxed_store_stays_normal() {
        let dir = tempfile::tempdir().unwrap();
        let w = writer(&dir, false);
        assert_eq!(w.write(true, read_sync).unwrap(), 1);
        assert_eq!(w.write(false, read_sync).unwrap(), 1);
    }
}
