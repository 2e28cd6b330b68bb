//! [`Store`]: the receipts table behind sqlx's `Any` driver, so one set of
//! queries serves SQLite and PostgreSQL (`$N` placeholders work in both).

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, Executor, Row};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::StoreError;
use crate::receipt::{Accepted, Hash, NewReceipt, Receipt, ReceiptFilter, Status, StreamStateRow};

/// How long opening or borrowing a connection may take before the database
/// counts as unavailable.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long SQLite waits for another writer's lock before failing.
const SQLITE_BUSY_TIMEOUT_MS: u32 = 5_000;

/// The database behind a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// The receipt store; cheap to clone (a connection pool).
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) pool: AnyPool,
    backend: Backend,
    database: String,
}

const COLUMNS: &str = "id, chain_id, circuit_id, job_id, meter, prev_head, prev_seq, prev_end_ms, next_head, next_seq, \
     next_end_ms, record_count, totals, proof, meter_signature, status, reason, tx_hash, gas_used, attempts, \
     created_at_ms, updated_at_ms";

/// u64 values live bit-for-bit in BIGINT columns.
pub(crate) fn int(x: u64) -> i64 {
    x as i64
}

/// A time bound as the database compares it: columns are signed 64-bit, so a
/// bound at or above 2^63 ms (no real time is there) is held at 2^63 − 1 instead of
/// wrapping negative, which would turn "from the far future" into "from always".
fn time_bound(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

pub(crate) fn uint(x: i64) -> u64 {
    x as u64
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Opens one connection to a SQLite file and reads its schema, so that a damaged
/// file or one that is not a database says so, instead of the pool's "timed out"
/// after it failed to connect again and again.
async fn check_sqlite(url: &str, database: &str) -> Result<(), StoreError> {
    use sqlx::Connection;
    let damaged = |e: sqlx::Error| StoreError::Damaged { database: database.to_owned(), reason: e.to_string() };
    let mut conn = sqlx::AnyConnection::connect(url).await.map_err(damaged)?;
    conn.execute("SELECT count(*) FROM sqlite_master").await.map_err(damaged)?;
    conn.close().await.map_err(damaged)
}

impl Store {
    /// Opens the database at `url` (`sqlite:PATH`, created if missing, or
    /// `postgres://…`) and brings its schema up to date.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let (backend, url) = if let Some(rest) = url.strip_prefix("sqlite:") {
            let path = rest.trim_start_matches("//");
            let sep = if path.contains('?') { '&' } else { '?' };
            let url = if path.contains("mode=") { format!("sqlite://{path}") } else { format!("sqlite://{path}{sep}mode=rwc") };
            (Backend::Sqlite, url)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Backend::Postgres, url.to_owned())
        } else {
            return Err(StoreError::BadUrl { url: url.to_owned() });
        };
        let database = redact(&url);
        if backend == Backend::Sqlite {
            check_sqlite(&url, &database).await?;
        }
        let mut options = AnyPoolOptions::new().acquire_timeout(ACQUIRE_TIMEOUT);
        if backend == Backend::Sqlite {
            // Every connection: WAL (readers never block the writer), a full fsync
            // per commit (a receipt reported accepted survives a power cut), and
            // a wait instead of an error when another writer holds the lock.
            options = options.after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA synchronous = FULL").await?;
                    conn.execute(format!("PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}").as_str()).await?;
                    Ok(())
                })
            });
        }
        let pool = options
            .connect(&url)
            .await
            .map_err(|e| StoreError::Unavailable { database: database.clone(), reason: e.to_string() })?;
        let migrator = match backend {
            Backend::Sqlite => sqlx::migrate!("migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("migrations/postgres"),
        };
        migrator.run(&pool).await.map_err(|e| StoreError::Migration { database: database.clone(), reason: e.to_string() })?;
        Ok(Store { pool, backend, database })
    }

    /// Opens (or creates) the SQLite database at `path`.
    pub async fn open_sqlite(path: &Path) -> Result<Store, StoreError> {
        Store::open(&format!("sqlite:{}", path.display())).await
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The database's URL, without its password.
    pub fn database(&self) -> &str {
        &self.database
    }

    pub(crate) fn unavailable(&self, e: sqlx::Error) -> StoreError {
        StoreError::Unavailable { database: self.database.clone(), reason: e.to_string() }
    }

    pub(crate) fn corrupt(&self, reason: impl Into<String>) -> StoreError {
        StoreError::Corrupt { database: self.database.clone(), reason: reason.into() }
    }

    /// Records one verified receipt: [`Store::accept_batch`] of one.
    pub async fn accept(&self, r: NewReceipt) -> Result<Accepted, StoreError> {
        self.accept_batch(std::slice::from_ref(&r)).await?.pop().expect("one outcome per receipt")
    }

    /// Records receipts whose proofs verified, all in one transaction: one commit
    /// (one fsync) for the whole batch, which is what lets a verifier acknowledge
    /// thousands of submissions a second, each only once its receipt is durable.
    /// Receipts are written `verified` at once, so no state lies between recorded
    /// and verified. For each receipt, in order: the new receipt, the receipt
    /// already recorded under its id, or [`StoreError::Conflict`] for a different
    /// statement from the same (chain, job, previous seq) while the first is not
    /// rejected. Safe against concurrent callers (also on other replicas): the
    /// database's keys decide, not a read before the write. An error of the
    /// database itself fails the whole batch, and none of it is recorded.
    pub async fn accept_batch(&self, receipts: &[NewReceipt]) -> Result<Vec<Result<Accepted, StoreError>>, StoreError> {
        let mut tx = self.pool.begin().await.map_err(|e| self.unavailable(e))?;
        let mut outcomes = Vec::with_capacity(receipts.len());
        for r in receipts {
            outcomes.push(self.accept_in(&mut tx, r).await?);
        }
        tx.commit().await.map_err(|e| self.unavailable(e))?;
        Ok(outcomes)
    }

    /// One receipt of [`Store::accept_batch`], inside its transaction: `Err` for
    /// a failure of the database, `Ok(Err(Conflict))` for a conflict.
    async fn accept_in(
        &self,
        tx: &mut sqlx::Transaction<'_, Any>,
        r: &NewReceipt,
    ) -> Result<Result<Accepted, StoreError>, StoreError> {
        let totals: Vec<u8> = r.totals.iter().flat_map(|t| t.to_be_bytes()).collect();
        let sql = format!(
            "INSERT INTO receipts ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, \
             $16, NULL, NULL, NULL, 0, $17, $17) ON CONFLICT DO NOTHING"
        );
        let select = format!("SELECT {COLUMNS} FROM receipts WHERE id = $1");
        loop {
            let inserted = sqlx::query::<Any>(&sql)
                .bind(r.id.to_vec())
                .bind(int(r.chain_id))
                .bind(r.circuit_id.to_vec())
                .bind(int(r.job_id))
                .bind(r.meter.to_vec())
                .bind(r.prev.head.to_vec())
                .bind(int(r.prev.seq))
                .bind(int(r.prev.end_ms))
                .bind(r.next.head.to_vec())
                .bind(int(r.next.seq))
                .bind(int(r.next.end_ms))
                .bind(i64::from(r.record_count))
                .bind(totals.clone())
                .bind(r.proof.clone())
                .bind(r.meter_signature.clone())
                .bind(Status::Verified.as_str())
                .bind(now_ms())
                .execute(&mut **tx)
                .await
                .map_err(|e| self.unavailable(e))?
                .rows_affected()
                == 1;
            let existing =
                sqlx::query::<Any>(&select).bind(r.id.to_vec()).fetch_optional(&mut **tx).await.map_err(|e| self.unavailable(e))?;
            if let Some(row) = existing {
                let receipt = self.receipt(&row)?;
                return Ok(Ok(if inserted { Accepted::New(receipt) } else { Accepted::Existing(receipt) }));
            }
            let live = sqlx::query::<Any>(
                "SELECT id FROM receipts WHERE chain_id = $1 AND job_id = $2 AND prev_seq = $3 AND status <> 'rejected'",
            )
            .bind(int(r.chain_id))
            .bind(int(r.job_id))
            .bind(int(r.prev.seq))
            .fetch_optional(&mut **tx)
            .await
            .map_err(|e| self.unavailable(e))?;
            if let Some(row) = live {
                return Ok(Err(StoreError::Conflict { existing: self.hash(&row, "id")? }));
            }
            // The blocking receipt was rejected (by another replica) between the
            // insert and the look: the state is free again.
        }
    }

    /// The receipt with this id.
    pub async fn get(&self, id: &Hash) -> Result<Option<Receipt>, StoreError> {
        let row = sqlx::query::<Any>(&format!("SELECT {COLUMNS} FROM receipts WHERE id = $1"))
            .bind(id.to_vec())
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.unavailable(e))?;
        row.map(|r| self.receipt(&r)).transpose()
    }

    /// Moves receipt `id` to `to`, if the status machine allows it from its
    /// current status ([`Status::allowed_from`]); the check and the change are
    /// one UPDATE. `reason` replaces the stored reason; `tx_hash` and `gas_used`
    /// are kept when not given. A move to submitted counts an attempt.
    pub async fn set_status(
        &self,
        id: &Hash,
        to: Status,
        reason: Option<&str>,
        tx_hash: Option<Hash>,
        gas_used: Option<u64>,
    ) -> Result<Receipt, StoreError> {
        let changed = self.move_status("receipts", id, to, reason, tx_hash, gas_used).await?;
        let receipt = self.get(id).await?.ok_or(StoreError::Missing { id: *id })?;
        if !changed {
            return Err(StoreError::BadTransition { id: *id, from: receipt.status, to });
        }
        Ok(receipt)
    }

    /// [`Store::set_status`]'s UPDATE on row `id` of `table` (which has the
    /// status columns of `receipts`): whether the row moved.
    pub(crate) async fn move_status(
        &self,
        table: &str,
        id: &Hash,
        to: Status,
        reason: Option<&str>,
        tx_hash: Option<Hash>,
        gas_used: Option<u64>,
    ) -> Result<bool, StoreError> {
        let from = to.allowed_from();
        let placeholders: Vec<String> = (0..from.len()).map(|i| format!("${}", i + 7)).collect();
        let allowed = if placeholders.is_empty() { "NULL".to_owned() } else { placeholders.join(", ") };
        let sql = format!(
            "UPDATE {table} SET status = $1, reason = $2, tx_hash = COALESCE($3, tx_hash), \
             gas_used = COALESCE($4, gas_used), attempts = attempts + $5, updated_at_ms = $6 \
             WHERE id = ${} AND status IN ({allowed})",
            from.len() + 7
        );
        let mut query = sqlx::query::<Any>(&sql)
            .bind(to.as_str())
            .bind(reason.map(str::to_owned))
            .bind(tx_hash.map(|h| h.to_vec()))
            .bind(gas_used.map(int))
            .bind(i64::from(to == Status::Submitted))
            .bind(now_ms());
        for status in from {
            query = query.bind(status.as_str());
        }
        let changed = query.bind(id.to_vec()).execute(&self.pool).await.map_err(|e| self.unavailable(e))?.rows_affected();
        Ok(changed > 0)
    }

    /// Claims up to `limit` receipts waiting for settlement on `chain_id`
    /// (verified or submitted) for `owner` until `lease` from now, and returns
    /// them oldest first. A receipt is claimable when nobody holds it, its claim
    /// ran out (the replica that held it died), or `owner` holds it already (the
    /// claim is renewed). Replicas sharing one PostgreSQL store never get the
    /// same receipt at once: rows another replica is claiming are skipped
    /// (`FOR UPDATE SKIP LOCKED`), and SQLite has one writer at a time.
    pub async fn claim_settlement(
        &self,
        chain_id: u64,
        owner: &str,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<Receipt>, StoreError> {
        let rows = self.claim_rows("receipts", COLUMNS, chain_id, owner, lease, limit).await?;
        let mut claimed = rows.iter().map(|r| self.receipt(r)).collect::<Result<Vec<_>, _>>()?;
        // RETURNING keeps no order.
        claimed.sort_by_key(|r| (r.created_at_ms, r.id));
        Ok(claimed)
    }

    /// [`Store::claim_settlement`]'s UPDATE on `table` (which has the status and
    /// claim columns of `receipts`): the claimed rows' `columns`, in no order.
    pub(crate) async fn claim_rows(
        &self,
        table: &str,
        columns: &str,
        chain_id: u64,
        owner: &str,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<AnyRow>, StoreError> {
        let lock = match self.backend {
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let claimable = "chain_id = $3 AND status IN ('verified', 'submitted') \
             AND (claimed_until_ms IS NULL OR claimed_until_ms < $4 OR claimed_by = $1)";
        let sql = format!(
            "UPDATE {table} SET claimed_by = $1, claimed_until_ms = $2 \
             WHERE {claimable} AND id IN \
             (SELECT id FROM {table} WHERE {claimable} ORDER BY created_at_ms, id LIMIT $5 {lock}) \
             RETURNING {columns}"
        );
        let now = now_ms();
        sqlx::query::<Any>(&sql)
            .bind(owner.to_owned())
            .bind(now.saturating_add(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX)))
            .bind(int(chain_id))
            .bind(now)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.unavailable(e))
    }

    /// Receipts an earlier version left `accepted` (recorded before their
    /// verification was; receipts are now written verified), oldest first.
    pub async fn pending_verification(&self, limit: u32) -> Result<Vec<Receipt>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM receipts WHERE status = 'accepted' ORDER BY created_at_ms, id LIMIT $1");
        let rows = sqlx::query::<Any>(&sql)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.unavailable(e))?;
        rows.iter().map(|r| self.receipt(r)).collect()
    }

    /// The receipts matching `f`, ordered by (created_at_ms, id) (descending if
    /// `f.newest_first`), at most `f.limit`.
    pub async fn list(&self, f: &ReceiptFilter) -> Result<Vec<Receipt>, StoreError> {
        enum Arg {
            Int(i64),
            Bytes(Vec<u8>),
            Text(&'static str),
        }
        let mut args = Vec::new();
        let mut bind = |arg: Arg| {
            args.push(arg);
            format!("${}", args.len())
        };
        let mut conditions = Vec::new();
        if let Some(job) = f.job_id {
            conditions.push(format!("job_id = {}", bind(Arg::Int(int(job)))));
        }
        if let Some(meter) = f.meter {
            conditions.push(format!("meter = {}", bind(Arg::Bytes(meter.to_vec()))));
        }
        if let Some(status) = f.status {
            conditions.push(format!("status = {}", bind(Arg::Text(status.as_str()))));
        }
        if let Some(from) = f.from_ms {
            conditions.push(format!("created_at_ms >= {}", bind(Arg::Int(time_bound(from)))));
        }
        if let Some(to) = f.to_ms {
            conditions.push(format!("created_at_ms < {}", bind(Arg::Int(time_bound(to)))));
        }
        if let Some(seq) = f.next_seq {
            conditions.push(format!("next_seq = {}", bind(Arg::Int(int(seq)))));
        }
        let (beyond, order) = if f.newest_first { ("<", "DESC") } else { (">", "ASC") };
        if let Some((at, id)) = f.after {
            let (at, id) = (bind(Arg::Int(time_bound(at))), bind(Arg::Bytes(id.to_vec())));
            conditions.push(format!("(created_at_ms {beyond} {at} OR (created_at_ms = {at} AND id {beyond} {id}))"));
        }
        let filter = if conditions.is_empty() { String::new() } else { format!("WHERE {}", conditions.join(" AND ")) };
        let sql =
            format!("SELECT {COLUMNS} FROM receipts {filter} ORDER BY created_at_ms {order}, id {order} LIMIT {}", f.limit);
        let mut query = sqlx::query::<Any>(&sql);
        for arg in args {
            query = match arg {
                Arg::Int(x) => query.bind(x),
                Arg::Bytes(x) => query.bind(x),
                Arg::Text(x) => query.bind(x),
            };
        }
        let rows = query.fetch_all(&self.pool).await.map_err(|e| self.unavailable(e))?;
        rows.iter().map(|r| self.receipt(r)).collect()
    }

    /// The newest live (not rejected) receipt of the job: its id, status and the
    /// state it moves the stream to, i.e. the latest known state of the stream.
    pub async fn latest_state(&self, chain_id: u64, job_id: u64) -> Result<Option<(Hash, Status, StreamStateRow)>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM receipts WHERE chain_id = $1 AND job_id = $2 AND status <> 'rejected' \
             ORDER BY created_at_ms DESC, next_seq DESC LIMIT 1"
        );
        let row = sqlx::query::<Any>(&sql)
            .bind(int(chain_id))
            .bind(int(job_id))
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.unavailable(e))?;
        Ok(row.map(|r| self.receipt(&r)).transpose()?.map(|r| (r.id, r.status, r.next)))
    }

    /// How many receipts of chain `chain_id` wait for settlement (verified or
    /// submitted). Reads the status index: the cost follows the backlog, not
    /// the table.
    pub async fn unsettled(&self, chain_id: u64) -> Result<u64, StoreError> {
        let row = sqlx::query::<Any>(
            "SELECT COUNT(*) AS n FROM receipts WHERE status IN ('verified', 'submitted') AND chain_id = $1",
        )
        .bind(int(chain_id))
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.unavailable(e))?;
        Ok(uint(self.get_col(&row, "n")?))
    }

    /// How many receipts of chain `chain_id` are in each status (statuses with
    /// none are left out).
    pub async fn count_by_status(&self, chain_id: u64) -> Result<Vec<(Status, u64)>, StoreError> {
        let rows = sqlx::query::<Any>("SELECT status, COUNT(*) AS n FROM receipts WHERE chain_id = $1 GROUP BY status ORDER BY status")
            .bind(int(chain_id))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.unavailable(e))?;
        rows.iter()
            .map(|row| {
                let status: String = self.get_col(row, "status")?;
                let n: i64 = self.get_col(row, "n")?;
                Ok((status.parse().map_err(|e: String| self.corrupt(e))?, uint(n)))
            })
            .collect()
    }

    /// Closes every connection (waits for queries in flight).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub(crate) fn get_col<'r, T: sqlx::Decode<'r, Any> + sqlx::Type<Any>>(&self, row: &'r AnyRow, column: &str) -> Result<T, StoreError> {
        row.try_get(column).map_err(|e| self.corrupt(format!("column {column}: {e}")))
    }

    pub(crate) fn fixed<const N: usize>(&self, row: &AnyRow, column: &str) -> Result<[u8; N], StoreError> {
        let bytes: Vec<u8> = self.get_col(row, column)?;
        bytes.try_into().map_err(|b: Vec<u8>| self.corrupt(format!("column {column} has {} bytes, expected {N}", b.len())))
    }

    pub(crate) fn hash(&self, row: &AnyRow, column: &str) -> Result<Hash, StoreError> {
        self.fixed(row, column)
    }

    fn receipt(&self, row: &AnyRow) -> Result<Receipt, StoreError> {
        let u = |column: &str| self.get_col::<i64>(row, column).map(uint);
        let totals: [u8; 40] = self.fixed(row, "totals")?;
        let status: String = self.get_col(row, "status")?;
        let tx_hash: Option<Vec<u8>> = self.get_col(row, "tx_hash")?;
        Ok(Receipt {
            id: self.hash(row, "id")?,
            chain_id: u("chain_id")?,
            circuit_id: self.hash(row, "circuit_id")?,
            job_id: u("job_id")?,
            meter: self.fixed(row, "meter")?,
            prev: StreamStateRow { head: self.hash(row, "prev_head")?, seq: u("prev_seq")?, end_ms: u("prev_end_ms")? },
            next: StreamStateRow { head: self.hash(row, "next_head")?, seq: u("next_seq")?, end_ms: u("next_end_ms")? },
            record_count: u32::try_from(u("record_count")?).map_err(|_| self.corrupt("record_count above 2^32"))?,
            totals: std::array::from_fn(|c| u64::from_be_bytes(totals[8 * c..8 * c + 8].try_into().expect("8 bytes"))),
            proof: self.get_col(row, "proof")?,
            meter_signature: self.get_col(row, "meter_signature")?,
            status: status.parse().map_err(|e: String| self.corrupt(e))?,
            reason: self.get_col(row, "reason")?,
            tx_hash: tx_hash
                .map(|h| h.try_into().map_err(|_| self.corrupt("tx_hash is not 32 bytes")))
                .transpose()?,
            gas_used: self.get_col::<Option<i64>>(row, "gas_used")?.map(uint),
            attempts: u32::try_from(u("attempts")?).map_err(|_| self.corrupt("attempts above 2^32"))?,
            created_at_ms: u("created_at_ms")?,
            updated_at_ms: u("updated_at_ms")?,
        })
    }
}
