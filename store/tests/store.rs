//! The store against both backends: every test body runs on a fresh SQLite file
//! and on a fresh schema of the PostgreSQL server named by
//! `ZKMETER_TEST_POSTGRES_URL` (`bash store/scripts/start-postgres.sh` starts one).
//! Without that variable the PostgreSQL runs are skipped with a note, unless CI
//! is set: CI must run them.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use zkmeter_store::{
    Accepted, Backend, NewReceipt, NewWorkReceipt, ReceiptFilter, Status, Store, StoreError, StreamStateRow, WorkAccepted,
};

/// A database for one test: a fresh SQLite file, or a fresh schema (named after
/// the process and the test) in the throwaway PostgreSQL cluster.
struct Db {
    store: Store,
    _dir: Option<tempfile::TempDir>,
}

async fn sqlite() -> Db {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite(&dir.path().join("receipts.db")).await.unwrap();
    assert_eq!(store.backend(), Backend::Sqlite);
    Db { store, _dir: Some(dir) }
}

async fn postgres(test: &str) -> Option<Db> {
    let Ok(url) = std::env::var("ZKMETER_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the PostgreSQL store tests: export ZKMETER_TEST_POSTGRES_URL=\"$(bash store/scripts/start-postgres.sh)\""
        );
        eprintln!("skipping {test} on PostgreSQL: ZKMETER_TEST_POSTGRES_URL is not set (see store/scripts/start-postgres.sh)");
        return None;
    };
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let schema = format!("t_{}_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed), test);
    sqlx::any::install_default_drivers();
    let admin = sqlx::AnyPool::connect(&url).await.unwrap();
    sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).execute(&admin).await.unwrap();
    sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&admin).await.unwrap();
    admin.close().await;
    let sep = if url.contains('?') { '&' } else { '?' };
    let store = Store::open(&format!("{url}{sep}options=-c%20search_path%3D{schema}")).await.unwrap();
    assert_eq!(store.backend(), Backend::Postgres);
    Some(Db { store, _dir: None })
}

/// Runs `body` on SQLite and on PostgreSQL.
macro_rules! both {
    ($name:ident, $body:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let db = sqlite().await;
            ($body)(db.store.clone()).await;
            if let Some(db) = postgres(stringify!($name)).await {
                ($body)(db.store.clone()).await;
            }
        }
    };
}

fn state(seq: u64, tag: u8) -> StreamStateRow {
    StreamStateRow { head: [tag; 32], seq, end_ms: seq.saturating_mul(1_000) }
}

fn receipt(id: u8, job: u64, prev_seq: u64) -> NewReceipt {
    NewReceipt {
        id: [id; 32],
        chain_id: 31341,
        circuit_id: [9; 32],
        job_id: job,
        meter: [7; 20],
        prev: state(prev_seq, id.wrapping_sub(1)),
        next: state(prev_seq.saturating_add(2), id),
        record_count: 2,
        totals: [1, 2, 3, 4, 5],
        proof: vec![id; 256],
        meter_signature: vec![id; 65],
    }
}

both!(accepting_twice_returns_the_same_receipt, |s: Store| async move {
    let first = s.accept(receipt(1, 1, 0)).await.unwrap();
    let Accepted::New(r) = first else { panic!("first accept is new") };
    assert_eq!(r.status, Status::Verified, "receipts are recorded verified");
    assert_eq!((r.totals, r.record_count, r.attempts), ([1, 2, 3, 4, 5], 2, 0));
    assert_eq!(s.accept(receipt(1, 1, 0)).await.unwrap(), Accepted::Existing(r.clone()));
    assert_eq!(s.get(&[1; 32]).await.unwrap(), Some(r));
    assert_eq!(s.get(&[2; 32]).await.unwrap(), None);
});

both!(a_second_statement_from_the_same_state_conflicts_until_the_first_is_rejected, |s: Store| async move {
    s.accept(receipt(1, 1, 0)).await.unwrap();
    let err = s.accept(receipt(2, 1, 0)).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict { existing } if existing == [1; 32]), "{err}");
    // Other jobs and other states are independent.
    assert!(matches!(s.accept(receipt(3, 2, 0)).await.unwrap(), Accepted::New(_)));
    assert!(matches!(s.accept(receipt(4, 1, 2)).await.unwrap(), Accepted::New(_)));
    s.set_status(&[1; 32], Status::Rejected, Some("bad"), None, None).await.unwrap();
    assert!(matches!(s.accept(receipt(2, 1, 0)).await.unwrap(), Accepted::New(_)));
});

both!(status_moves_follow_the_machine, |s: Store| async move {
    s.accept(receipt(1, 1, 0)).await.unwrap();
    let id = [1; 32];
    let err = s.set_status(&id, Status::Verified, None, None, None).await.unwrap_err();
    assert!(matches!(err, StoreError::BadTransition { from: Status::Verified, to: Status::Verified, .. }), "{err}");
    let r = s.set_status(&id, Status::Submitted, None, None, None).await.unwrap();
    assert_eq!(r.attempts, 1);
    let r = s.set_status(&id, Status::Submitted, Some("node down"), Some([5; 32]), None).await.unwrap();
    assert_eq!((r.attempts, r.reason.as_deref(), r.tx_hash), (2, Some("node down"), Some([5; 32])));
    let r = s.set_status(&id, Status::Settled, None, None, Some(u64::MAX)).await.unwrap();
    assert_eq!((r.status, r.reason, r.tx_hash, r.gas_used), (Status::Settled, None, Some([5; 32]), Some(u64::MAX)));
    for to in Status::ALL {
        let err = s.set_status(&id, to, None, None, None).await.unwrap_err();
        assert!(matches!(err, StoreError::BadTransition { from: Status::Settled, .. }), "settled is final: {err}");
    }
    let err = s.set_status(&[8; 32], Status::Verified, None, None, None).await.unwrap_err();
    assert!(matches!(err, StoreError::Missing { .. }), "{err}");
});

both!(u64_values_round_trip, |s: Store| async move {
    let mut r = receipt(1, u64::MAX, u64::MAX - 2);
    r.chain_id = u64::MAX;
    r.totals = [u64::MAX, 0, 1 << 63, (1 << 63) - 1, 42];
    r.prev.end_ms = u64::MAX;
    r.next.seq = u64::MAX;
    s.accept(r.clone()).await.unwrap();
    let back = s.get(&r.id).await.unwrap().unwrap();
    assert_eq!((back.chain_id, back.job_id, back.totals, back.prev, back.next), (r.chain_id, r.job_id, r.totals, r.prev, r.next));
    assert_eq!(s.latest_state(u64::MAX, u64::MAX).await.unwrap().unwrap().2, r.next);
});

both!(listing_filters_and_pages_in_order, |s: Store| async move {
    for i in 0..10u8 {
        let mut r = receipt(i + 1, u64::from(i % 2), u64::from(i) * 10);
        r.meter = [i % 3; 20];
        s.accept(r).await.unwrap();
    }
    s.set_status(&[3; 32], Status::Submitted, None, None, None).await.unwrap();
    let all = s.list(&ReceiptFilter { limit: 100, ..Default::default() }).await.unwrap();
    assert_eq!(all.len(), 10);
    assert!(all.windows(2).all(|w| (w[0].created_at_ms, w[0].id) < (w[1].created_at_ms, w[1].id)), "ordered");
    let job1 = s.list(&ReceiptFilter { job_id: Some(1), limit: 100, ..Default::default() }).await.unwrap();
    assert_eq!(job1.len(), 5);
    let meter = s.list(&ReceiptFilter { meter: Some([0; 20]), limit: 100, ..Default::default() }).await.unwrap();
    assert_eq!(meter.len(), 4);
    let submitted = s.list(&ReceiptFilter { status: Some(Status::Submitted), limit: 100, ..Default::default() }).await.unwrap();
    assert_eq!(submitted.iter().map(|r| r.id).collect::<Vec<_>>(), vec![[3; 32]]);
    let none = s.list(&ReceiptFilter { to_ms: Some(1), limit: 100, ..Default::default() }).await.unwrap();
    assert!(none.is_empty());
    let later = s.list(&ReceiptFilter { from_ms: Some(all[0].created_at_ms), limit: 100, ..Default::default() }).await.unwrap();
    assert_eq!(later.len(), 10);
    // Bounds at or above 2^63 ms mean the far future, not (wrapped negative) the far past.
    for far in [1u64 << 63, u64::MAX] {
        let from_far = s.list(&ReceiptFilter { from_ms: Some(far), limit: 100, ..Default::default() }).await.unwrap();
        assert!(from_far.is_empty(), "nothing was created from {far} ms on");
        let to_far = s.list(&ReceiptFilter { to_ms: Some(far), limit: 100, ..Default::default() }).await.unwrap();
        assert_eq!(to_far.len(), 10, "everything was created before {far} ms");
    }
    // Pages of 3 give the whole list, once each.
    let mut paged = Vec::new();
    let mut filter = ReceiptFilter { limit: 3, ..Default::default() };
    loop {
        let page = s.list(&filter).await.unwrap();
        let Some(last) = page.last() else { break };
        filter.after = Some((last.created_at_ms, last.id));
        paged.extend(page);
    }
    assert_eq!(paged, all);
    // Newest first, paged the same way, is the same list backwards.
    let mut newest = Vec::new();
    let mut filter = ReceiptFilter { limit: 4, newest_first: true, ..Default::default() };
    loop {
        let page = s.list(&filter).await.unwrap();
        let Some(last) = page.last() else { break };
        filter.after = Some((last.created_at_ms, last.id));
        newest.extend(page);
    }
    assert_eq!(newest, all.iter().rev().cloned().collect::<Vec<_>>());
    let ending = s.list(&ReceiptFilter { next_seq: Some(all[4].next.seq), limit: 100, ..Default::default() }).await.unwrap();
    assert!(!ending.is_empty() && ending.iter().all(|r| r.next.seq == all[4].next.seq), "filtered by next seq");
    let counts = s.count_by_status(all[0].chain_id).await.unwrap();
    assert_eq!(counts, vec![(Status::Submitted, 1), (Status::Verified, 9)]);
    assert!(s.count_by_status(all[0].chain_id + 1).await.unwrap().is_empty());
});

both!(pending_work_and_latest_state, |s: Store| async move {
    assert_eq!(s.latest_state(31341, 1).await.unwrap(), None);
    s.accept(receipt(1, 1, 0)).await.unwrap();
    s.accept(receipt(2, 1, 2)).await.unwrap();
    s.accept(receipt(3, 2, 0)).await.unwrap();
    assert!(s.pending_verification(10).await.unwrap().is_empty(), "nothing is recorded before it is verified");
    s.set_status(&[3; 32], Status::Submitted, None, None, None).await.unwrap();
    let lease = Duration::from_secs(60);
    let pending: Vec<_> = s.claim_settlement(31341, "a", lease, 10).await.unwrap().iter().map(|r| r.id).collect();
    assert_eq!(pending, vec![[1; 32], [2; 32], [3; 32]]);
    assert!(s.claim_settlement(1, "a", lease, 10).await.unwrap().is_empty(), "other chains' receipts are not pending here");
    let (id, status, next) = s.latest_state(31341, 1).await.unwrap().unwrap();
    assert_eq!((id, status, next), ([2; 32], Status::Verified, state(4, 2)));
    s.set_status(&[2; 32], Status::Rejected, Some("no"), None, None).await.unwrap();
    assert_eq!(s.latest_state(31341, 1).await.unwrap().unwrap().0, [1; 32], "rejected receipts are not the latest state");
});

both!(replicas_never_claim_the_same_settlement, |s: Store| async move {
    for i in 1..=6u8 {
        s.accept(receipt(i, u64::from(i), 0)).await.unwrap();
    }
    let lease = Duration::from_secs(60);
    let ids = |rs: Vec<zkmeter_store::Receipt>| rs.into_iter().map(|r| r.id[0]).collect::<Vec<_>>();
    // Eight replicas claim at once: every receipt goes to exactly one of them.
    let tasks: Vec<_> = (0..8)
        .map(|k| {
            let s = s.clone();
            tokio::spawn(async move { ids(s.claim_settlement(31341, &format!("replica-{k}"), lease, 2).await.unwrap()) })
        })
        .collect();
    let mut claims = Vec::new();
    for t in tasks {
        claims.push(t.await.unwrap());
    }
    let mut all: Vec<u8> = claims.iter().flatten().copied().collect();
    all.sort();
    assert_eq!(all, vec![1, 2, 3, 4, 5, 6], "claims {claims:?}");
    // A holder renews its own claims; nobody else gets them while they run.
    let (holder, held) = claims.iter().enumerate().find(|(_, c)| !c.is_empty()).unwrap();
    let holder = format!("replica-{holder}");
    assert_eq!(&ids(s.claim_settlement(31341, &holder, lease, 10).await.unwrap()), held);
    assert!(s.claim_settlement(31341, "newcomer", lease, 10).await.unwrap().is_empty());
    // A claim that ran out (its replica died) is taken over.
    s.claim_settlement(31341, &holder, Duration::ZERO, 10).await.unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(&ids(s.claim_settlement(31341, "newcomer", lease, 10).await.unwrap()), held);
    // Settled receipts are no longer claimable.
    for id in held {
        s.set_status(&[*id; 32], Status::Submitted, None, None, None).await.unwrap();
        s.set_status(&[*id; 32], Status::Settled, None, None, None).await.unwrap();
    }
    s.claim_settlement(31341, "newcomer", Duration::ZERO, 10).await.unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert!(s.claim_settlement(31341, "third", lease, 10).await.unwrap().iter().all(|r| !held.contains(&r.id[0])));
});

both!(concurrent_accepts_make_one_receipt, |s: Store| async move {
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.accept(receipt(1, 1, 0)).await.unwrap() })
        })
        .collect();
    let mut new = 0;
    for t in tasks {
        if matches!(t.await.unwrap(), Accepted::New(_)) {
            new += 1;
        }
    }
    assert_eq!(new, 1);
    assert_eq!(s.list(&ReceiptFilter { limit: 10, ..Default::default() }).await.unwrap().len(), 1);
});

both!(a_batch_is_one_transaction_with_an_outcome_per_receipt, |s: Store| async move {
    s.accept(receipt(1, 1, 0)).await.unwrap();
    // New, the same statement again, a conflict with a recorded one, and a
    // conflict inside the batch: each gets its own outcome.
    let batch = [receipt(2, 2, 0), receipt(1, 1, 0), receipt(3, 1, 0), receipt(4, 2, 0), receipt(5, 3, 0)];
    let outcomes = s.accept_batch(&batch).await.unwrap();
    assert!(matches!(&outcomes[0], Ok(Accepted::New(r)) if r.id == [2; 32]));
    assert!(matches!(&outcomes[1], Ok(Accepted::Existing(r)) if r.id == [1; 32]));
    assert!(matches!(&outcomes[2], Err(StoreError::Conflict { existing }) if *existing == [1; 32]));
    assert!(matches!(&outcomes[3], Err(StoreError::Conflict { existing }) if *existing == [2; 32]));
    assert!(matches!(&outcomes[4], Ok(Accepted::New(r)) if r.status == Status::Verified));
    assert_eq!(s.list(&ReceiptFilter { limit: 10, ..Default::default() }).await.unwrap().len(), 3);
    assert!(s.accept_batch(&[]).await.unwrap().is_empty());
});

#[tokio::test]
async fn receipts_an_earlier_version_left_accepted_wait_for_verification() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("receipts.db");
    let s = Store::open_sqlite(&path).await.unwrap();
    for (id, job) in [(1, 1), (2, 2), (3, 3)] {
        s.accept(receipt(id, job, 0)).await.unwrap();
    }
    // Written as the versions before group commit did: recorded, then verified.
    sqlx::any::install_default_drivers();
    let raw = sqlx::AnyPool::connect(&format!("sqlite://{}", path.display())).await.unwrap();
    sqlx::query("UPDATE receipts SET status = 'accepted' WHERE id <> $1").bind(vec![2u8; 32]).execute(&raw).await.unwrap();
    raw.close().await;
    let pending: Vec<_> = s.pending_verification(10).await.unwrap().iter().map(|r| r.id).collect();
    assert_eq!(pending, vec![[1; 32], [3; 32]]);
    let lease = Duration::from_secs(60);
    let claimed: Vec<_> = s.claim_settlement(31341, "a", lease, 10).await.unwrap().iter().map(|r| r.id).collect();
    assert_eq!(claimed, vec![[2; 32]], "only verified receipts settle");
    s.set_status(&[1; 32], Status::Verified, None, None, None).await.unwrap();
    s.set_status(&[3; 32], Status::Rejected, Some("the proof does not verify"), None, None).await.unwrap();
    assert!(s.pending_verification(10).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_reopened_sqlite_store_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("receipts.db");
    let s = Store::open_sqlite(&path).await.unwrap();
    let r = s.accept(receipt(1, 1, 0)).await.unwrap().receipt().clone();
    s.close().await;
    let s = Store::open(&format!("sqlite:{}", path.display())).await.unwrap();
    assert_eq!(s.get(&[1; 32]).await.unwrap(), Some(r));
}

#[tokio::test]
async fn bad_databases_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("not-a-db");
    std::fs::write(&path, vec![0x5a; 4096]).unwrap();
    let err = Store::open_sqlite(&path).await.unwrap_err();
    assert!(err.to_string().contains("not-a-db"), "{err}");
    assert!(matches!(err, StoreError::Damaged { .. }), "{err}");
    assert!(err.to_string().contains("file is not a database"), "the real cause, not a pool timeout: {err}");

    let err = Store::open("mysql://localhost/x").await.unwrap_err();
    assert!(matches!(err, StoreError::BadUrl { .. }), "{err}");

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let started = std::time::Instant::now();
    let err = Store::open(&format!("postgres://zkmeter:secret@127.0.0.1:{port}/x")).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable { .. }), "{err}");
    assert!(!err.to_string().contains("secret"), "the password is not shown: {err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30), "fails fast");
}

fn work(id: u8, job: u64, output: u8) -> NewWorkReceipt {
    NewWorkReceipt {
        id: [id; 32],
        chain_id: 31341,
        circuit_id: [9; 32],
        job_id: job,
        model: [id; 32],
        input: [id.wrapping_add(1); 32],
        output: [output; 32],
        work_units: 24,
        proof: vec![id; 256],
    }
}

both!(a_work_request_has_one_receipt_and_one_output, |s: Store| async move {
    let WorkAccepted::New(r) = s.accept_work(work(1, 1, 5)).await.unwrap() else { panic!("first accept is new") };
    assert_eq!((r.status, r.attempts, r.output, r.work_units), (Status::Verified, 0, [5; 32], 24), "recorded verified");
    // The same request and output (a re-randomised proof, say): the same receipt.
    let mut again = work(1, 1, 5);
    again.proof = vec![0xee; 256];
    assert_eq!(s.accept_work(again).await.unwrap(), WorkAccepted::Existing(r.clone()));
    assert_eq!(s.get_work(&[1; 32]).await.unwrap(), Some(r));
    // Another output for the same request is refused, however the receipt stands.
    let err = s.accept_work(work(1, 1, 6)).await.unwrap_err();
    assert!(matches!(err, StoreError::WorkConflict { existing_output, .. } if existing_output == [5; 32]), "{err}");
    assert!(err.to_string().contains("one model and one input"), "{err}");
    let mut more_units = work(1, 1, 5);
    more_units.work_units = 25;
    assert!(matches!(s.accept_work(more_units).await.unwrap_err(), StoreError::WorkConflict { .. }));
    // Workload and meter receipts live apart.
    assert_eq!(s.get(&[1; 32]).await.unwrap(), None);
    assert_eq!(s.get_work(&[2; 32]).await.unwrap(), None);
    let mut big = work(3, u64::MAX, 1);
    (big.chain_id, big.work_units) = (u64::MAX, u64::MAX);
    s.accept_work(big.clone()).await.unwrap();
    let back = s.get_work(&[3; 32]).await.unwrap().unwrap();
    assert_eq!((back.chain_id, back.job_id, back.work_units, back.model, back.input), (u64::MAX, u64::MAX, u64::MAX, big.model, big.input));
});

both!(work_status_moves_follow_the_machine, |s: Store| async move {
    s.accept_work(work(1, 1, 5)).await.unwrap();
    let id = [1; 32];
    let r = s.set_work_status(&id, Status::Submitted, None, None, None).await.unwrap();
    assert_eq!(r.attempts, 1);
    let r = s.set_work_status(&id, Status::Submitted, Some("node down"), Some([5; 32]), None).await.unwrap();
    assert_eq!((r.attempts, r.reason.as_deref(), r.tx_hash), (2, Some("node down"), Some([5; 32])));
    let r = s.set_work_status(&id, Status::Settled, None, None, Some(90_000)).await.unwrap();
    assert_eq!((r.status, r.reason, r.tx_hash, r.gas_used), (Status::Settled, None, Some([5; 32]), Some(90_000)));
    for to in Status::ALL {
        let err = s.set_work_status(&id, to, None, None, None).await.unwrap_err();
        assert!(matches!(err, StoreError::BadTransition { from: Status::Settled, .. }), "settled is final: {err}");
    }
    s.accept_work(work(2, 1, 5)).await.unwrap();
    let r = s.set_work_status(&[2; 32], Status::Rejected, Some("WorkNotRequested"), None, None).await.unwrap();
    assert_eq!((r.status, r.reason.as_deref()), (Status::Rejected, Some("WorkNotRequested")));
    let err = s.set_work_status(&[8; 32], Status::Submitted, None, None, None).await.unwrap_err();
    assert!(matches!(err, StoreError::Missing { .. }), "{err}");
    // The meter receipts' table is not touched.
    let err = s.set_status(&id, Status::Verified, None, None, None).await.unwrap_err();
    assert!(matches!(err, StoreError::Missing { .. }), "{err}");
});

both!(replicas_never_claim_the_same_work_settlement, |s: Store| async move {
    for i in 1..=6u8 {
        s.accept_work(work(i, 1, i)).await.unwrap();
    }
    let mut other_chain = work(7, 1, 7);
    other_chain.chain_id = 1;
    s.accept_work(other_chain).await.unwrap();
    // Meter receipts waiting for settlement are not workload receipts.
    s.accept(receipt(8, 1, 0)).await.unwrap();
    let lease = Duration::from_secs(60);
    let ids = |rs: Vec<zkmeter_store::WorkReceipt>| rs.into_iter().map(|r| r.id[0]).collect::<Vec<_>>();
    let tasks: Vec<_> = (0..8)
        .map(|k| {
            let s = s.clone();
            tokio::spawn(async move { ids(s.claim_work_settlement(31341, &format!("replica-{k}"), lease, 2).await.unwrap()) })
        })
        .collect();
    let mut claims = Vec::new();
    for t in tasks {
        claims.push(t.await.unwrap());
    }
    let mut all: Vec<u8> = claims.iter().flatten().copied().collect();
    all.sort();
    assert_eq!(all, vec![1, 2, 3, 4, 5, 6], "claims {claims:?}");
    assert!(claims.iter().all(|c| c.windows(2).all(|w| w[0] < w[1])), "oldest first: {claims:?}");
    let (holder, held) = claims.iter().enumerate().find(|(_, c)| !c.is_empty()).unwrap();
    let holder = format!("replica-{holder}");
    assert_eq!(&ids(s.claim_work_settlement(31341, &holder, lease, 10).await.unwrap()), held, "renewed");
    assert!(s.claim_work_settlement(31341, "newcomer", lease, 10).await.unwrap().is_empty());
    // A claim that ran out is taken over; settled and rejected receipts are not claimable.
    s.claim_work_settlement(31341, &holder, Duration::ZERO, 10).await.unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(&ids(s.claim_work_settlement(31341, "newcomer", lease, 10).await.unwrap()), held);
    s.set_work_status(&[held[0]; 32], Status::Settled, None, Some([1; 32]), Some(1)).await.unwrap();
    for id in &held[1..] {
        s.set_work_status(&[*id; 32], Status::Rejected, Some("no"), None, None).await.unwrap();
    }
    s.claim_work_settlement(31341, "newcomer", Duration::ZERO, 10).await.unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    // The rest are still held by the replicas that claimed them.
    assert!(s.claim_work_settlement(31341, "third", lease, 10).await.unwrap().is_empty());
    assert_eq!(ids(s.claim_work_settlement(1, "a", lease, 10).await.unwrap()), vec![7], "other chains' receipts apart");
});

both!(concurrent_work_accepts_make_one_receipt, |s: Store| async move {
    let tasks: Vec<_> = (0..8)
        .map(|k: u8| {
            let s = s.clone();
            tokio::spawn(async move {
                let mut r = work(1, 1, 5);
                r.proof = vec![k; 256];
                s.accept_work(r).await.unwrap()
            })
        })
        .collect();
    let mut new = 0;
    for t in tasks {
        if matches!(t.await.unwrap(), WorkAccepted::New(_)) {
            new += 1;
        }
    }
    assert_eq!(new, 1);
});
