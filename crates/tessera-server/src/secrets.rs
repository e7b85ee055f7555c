//! Passwords and session secrets: argon2id hashing off the async threads,
//! bounded in concurrency and memory, random secrets from the OS CSPRNG.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::Duration;

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tessera_core::SecretHash;
use tokio::sync::Semaphore;

const ALPHANUMERIC: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Fills `buf` from the OS CSPRNG. With no working CSPRNG, no secret can be
/// issued safely: stopping is the only right answer.
#[allow(clippy::expect_used)]
pub fn fill_random(buf: &mut [u8]) {
    getrandom::fill(buf).expect("the operating system's random number generator failed");
}

/// A random alphanumeric string (for generated passwords).
pub fn random_password(len: usize) -> String {
    let mut out = String::with_capacity(len);
    let mut pool = [0u8; 64];
    while out.len() < len {
        fill_random(&mut pool);
        for &b in &pool {
            // 248 = 4 × 62: rejection keeps every character uniform.
            if b < 248 && out.len() < len {
                out.push(char::from(ALPHANUMERIC[usize::from(b % 62)]));
            }
        }
    }
    out
}

/// A new session secret (sent in the cookie, never stored) and its hash.
pub fn new_session_secret() -> (String, SecretHash) {
    let mut bytes = [0u8; 32];
    fill_random(&mut bytes);
    let secret = hex(&bytes);
    let hash = SecretHash::of(&secret);
    (secret, hash)
}

/// The CSRF token bound to a session: derived from the session secret, so
/// it needs no storage and cannot be computed without the cookie.
pub fn csrf_token(session_secret: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"tessera-csrf:");
    hasher.update(session_secret.as_bytes());
    hex(&hasher.finalize())
}

/// Lowercase hexadecimal.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Why a password could not be hashed or checked. `Busy` is the bound
/// below at work and says when to retry; `Failed` is an internal error.
#[derive(Debug, thiserror::Error)]
pub enum PasswordCheckError {
    #[error("{message}")]
    Busy {
        message: &'static str,
        retry_after_secs: u64,
    },
    #[error("password hashing failed: {0}")]
    Failed(String),
}

// ---------------------------------------------------------------------------
// Password hashing: a bounded, process-wide argon2 worker.
//
// Every argon2id computation (hashing a new password, checking a login)
// goes through one `Hasher`:
// - at most `slots` computations run at once (all cores but one, so the
//   token verification path always has a core): a login flood queues
//   instead of taking every core;
// - a computation waits for a slot at most `deadline`, and at most
//   `max_waiting` may wait at once; past either, the caller gets
//   `PasswordCheckError::Busy` (503 with `Retry-After`) without any hashing;
// - argon2's working memory (19 MiB with the default parameters) comes
//   from a pool of at most `slots` buffers, reused from one computation to
//   the next: hashing memory is fixed at `slots` x 19 MiB however long the
//   flood, instead of one fresh allocation per attempt (which glibc then
//   kept in each blocking thread's arena).
// ---------------------------------------------------------------------------

/// How long a password check waits for a free slot before `503`.
const WAIT_DEADLINE: Duration = Duration::from_secs(3);
/// How many password checks may wait per slot before `503` straight away.
const WAITING_PER_SLOT: usize = 32;
/// `Retry-After` of a `503` for a busy hasher.
const BUSY_RETRY_AFTER_SECS: u64 = 2;

/// Argon2 blocks (1 KiB each) of a pooled buffer: what the default
/// parameters, those of every hash made here, need.
const POOL_BLOCKS: usize = Params::DEFAULT.block_count();

/// Computations at once: every core but one, and at least one.
fn default_slots() -> usize {
    std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .saturating_sub(1)
        .max(1)
}

/// The process-wide hasher: the cores it shares out are the process's.
static HASHER: LazyLock<Arc<Hasher>> =
    LazyLock::new(|| Hasher::new(default_slots(), WAIT_DEADLINE, WAITING_PER_SLOT));

/// The bounded argon2 worker (see above). `pub(crate)` only for tests; the
/// server uses the process-wide one through [`hash_password`] and
/// [`verify_password`].
#[derive(Debug)]
pub(crate) struct Hasher {
    slots: Arc<Semaphore>,
    slot_count: usize,
    deadline_ms: AtomicU64,
    max_waiting: usize,
    waiting: AtomicUsize,
    pool: Mutex<Vec<Vec<Block>>>,
    buffers_allocated: AtomicUsize,
    running: AtomicUsize,
    high_water: AtomicUsize,
    checks: AtomicU64,
}

impl Hasher {
    pub(crate) fn new(slots: usize, deadline: Duration, waiting_per_slot: usize) -> Arc<Self> {
        let slots = slots.max(1);
        Arc::new(Self {
            slots: Arc::new(Semaphore::new(slots)),
            slot_count: slots,
            deadline_ms: AtomicU64::new(millis(deadline)),
            max_waiting: slots.saturating_mul(waiting_per_slot),
            waiting: AtomicUsize::new(0),
            pool: Mutex::new(Vec::with_capacity(slots)),
            buffers_allocated: AtomicUsize::new(0),
            running: AtomicUsize::new(0),
            high_water: AtomicUsize::new(0),
            checks: AtomicU64::new(0),
        })
    }

    fn busy() -> PasswordCheckError {
        PasswordCheckError::Busy {
            message: "the server is busy checking other passwords; try again in a few seconds",
            retry_after_secs: BUSY_RETRY_AFTER_SECS,
        }
    }

    /// Runs `job` on a blocking thread with a slot and a pooled buffer, once
    /// a slot is free within the deadline; otherwise `Busy`.
    async fn run<R, F>(self: &Arc<Self>, job: F) -> Result<R, PasswordCheckError>
    where
        F: FnOnce(&mut [Block]) -> R + Send + 'static,
        R: Send + 'static,
    {
        let permit = {
            // Counted while waiting; the guard uncounts it however the wait
            // ends (a slot, the deadline, or the request dropped).
            let _waiting = Waiting::enter(self).ok_or_else(Self::busy)?;
            let deadline = Duration::from_millis(self.deadline_ms.load(Ordering::Relaxed));
            match tokio::time::timeout(deadline, Arc::clone(&self.slots).acquire_owned()).await {
                Ok(Ok(permit)) => permit,
                Ok(Err(closed)) => return Err(PasswordCheckError::Failed(closed.to_string())),
                Err(_elapsed) => {
                    tracing::debug!("password check refused: no free hashing slot in time");
                    return Err(Self::busy());
                }
            }
        };
        let hasher = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            // The slot goes with the computation, not with the request: a
            // request dropped mid-hash does not free it early.
            let _permit = permit;
            let mut lease = Lease::take(&hasher);
            job(&mut lease.buffer)
        })
        .await
        .map_err(|e| PasswordCheckError::Failed(e.to_string()))
    }

    /// A pooled buffer, or a new one while fewer than `slot_count` exist.
    fn take_buffer(&self) -> Vec<Block> {
        if let Some(buffer) = lock(&self.pool).pop() {
            return buffer;
        }
        self.buffers_allocated.fetch_add(1, Ordering::Relaxed);
        vec![Block::default(); POOL_BLOCKS]
    }

    fn give_back(&self, buffer: Vec<Block>) {
        let mut pool = lock(&self.pool);
        if pool.len() < self.slot_count {
            pool.push(buffer);
        }
    }

    #[cfg(test)]
    pub(crate) fn buffers_allocated(&self) -> usize {
        self.buffers_allocated.load(Ordering::Relaxed)
    }

    pub(crate) fn high_water(&self) -> usize {
        self.high_water.load(Ordering::Relaxed)
    }

    pub(crate) fn checks(&self) -> u64 {
        self.checks.load(Ordering::Relaxed)
    }

    pub(crate) async fn hash(
        self: &Arc<Self>,
        password: String,
    ) -> Result<String, PasswordCheckError> {
        let mut salt = [0u8; 16];
        fill_random(&mut salt);
        self.run(move |memory| hash_with(memory, password.as_bytes(), &salt))
            .await?
    }

    pub(crate) async fn verify(
        self: &Arc<Self>,
        password: String,
        stored: Option<String>,
    ) -> Result<bool, PasswordCheckError> {
        let real = stored.is_some();
        let hash_text = stored.unwrap_or_else(|| DUMMY_HASH.to_owned());
        let matches = self
            .run(move |memory| verify_with(memory, password.as_bytes(), &hash_text))
            .await?;
        Ok(matches == Some(true) && real)
    }
}

/// A waiting computation, counted until dropped.
struct Waiting<'a>(&'a Hasher);

impl<'a> Waiting<'a> {
    fn enter(hasher: &'a Hasher) -> Option<Self> {
        let before = hasher.waiting.fetch_add(1, Ordering::AcqRel);
        let entered = Self(hasher);
        (before < hasher.max_waiting).then_some(entered)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A running computation and its buffer: counted, and the buffer back in
/// the pool when it ends (also if it panics).
struct Lease {
    hasher: Arc<Hasher>,
    buffer: Vec<Block>,
}

impl Lease {
    fn take(hasher: &Arc<Hasher>) -> Self {
        let now = hasher.running.fetch_add(1, Ordering::AcqRel) + 1;
        hasher.high_water.fetch_max(now, Ordering::AcqRel);
        hasher.checks.fetch_add(1, Ordering::Relaxed);
        Self {
            buffer: hasher.take_buffer(),
            hasher: Arc::clone(hasher),
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.hasher.give_back(std::mem::take(&mut self.buffer));
        self.hasher.running.fetch_sub(1, Ordering::AcqRel);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Argon2id with the default parameters into `memory`, as the PHC string
/// `Argon2::default().hash_password` would write.
fn hash_with(
    memory: &mut [Block],
    password: &[u8],
    salt: &[u8],
) -> Result<String, PasswordCheckError> {
    let internal = |e: &dyn std::fmt::Display| PasswordCheckError::Failed(e.to_string());
    let params = Params::DEFAULT;
    let blocks = memory
        .get_mut(..params.block_count())
        .ok_or_else(|| internal(&"hashing buffer too small"))?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(password, salt, &mut out, blocks)
        .map_err(|e| internal(&e))?;
    let salt = SaltString::encode_b64(salt).map_err(|e| internal(&e))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| internal(&e))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| internal(&e))?),
    };
    Ok(phc.to_string())
}

/// Recomputes the PHC string `hash_text` for `password` with its own
/// algorithm, version, parameters and salt, in `memory` (or, for a hash
/// whose parameters need more than a pooled buffer, in memory of its own),
/// and compares in constant time. `None` when the hash cannot be computed
/// (not an argon2 PHC string, bad parameters).
fn verify_with(memory: &mut [Block], password: &[u8], hash_text: &str) -> Option<bool> {
    let hash = PasswordHash::new(hash_text).ok()?;
    let expected = hash.hash?;
    let algorithm = Algorithm::try_from(hash.algorithm).ok()?;
    let version = match hash.version {
        Some(v) => Version::try_from(v).ok()?,
        None => Version::default(),
    };
    let params = Params::try_from(&hash).ok()?;
    let mut salt_buf = [0u8; 64];
    let salt = hash.salt?.decode_b64(&mut salt_buf).ok()?;
    let mut out_buf = [0u8; Output::MAX_LENGTH];
    let out = out_buf.get_mut(..expected.len())?;
    let blocks = params.block_count();
    let argon2 = Argon2::new(algorithm, version, params);
    let computed = match memory.get_mut(..blocks) {
        Some(pooled) => argon2.hash_password_into_with_memory(password, salt, out, pooled),
        None => {
            let mut own = vec![Block::default(); blocks];
            argon2.hash_password_into_with_memory(password, salt, out, &mut own)
        }
    };
    computed.ok()?;
    Some(bool::from(out.ct_eq(expected.as_bytes())))
}

/// Hashes a password with argon2id (default parameters) on the bounded
/// hasher: `Busy` if no slot frees up in time.
pub async fn hash_password(password: String) -> Result<String, PasswordCheckError> {
    HASHER.hash(password).await
}

/// A valid hash of a random password, checked against when the email is
/// unknown so that unknown and known emails take the same time.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Dr0SU0OJa1nvh0I9Q6eC4+0dTzB3S3I0WOXbWCH8WBo";

/// Checks a password against a stored hash (or the dummy) on the bounded
/// hasher. Always costs one argon2 verification (or `Busy`, and none).
pub async fn verify_password(
    password: String,
    stored: Option<String>,
) -> Result<bool, PasswordCheckError> {
    HASHER.verify(password, stored).await
}

/// Argon2 computations started by this process (hashes and checks), for
/// tests and metrics.
pub fn password_checks() -> u64 {
    HASHER.checks()
}

/// The most argon2 computations this process has ever run at once: never
/// more than [`password_check_slots`].
pub fn password_check_high_water() -> usize {
    HASHER.high_water()
}

/// How many argon2 computations may run at once in this process.
pub fn password_check_slots() -> usize {
    HASHER.slot_count
}

/// Sets how long a password check waits for a free slot before `503`
/// (3 s by default). For tests and load experiments.
pub fn set_password_check_deadline(deadline: Duration) {
    HASHER
        .deadline_ms
        .store(millis(deadline), Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hasher of one slot, and the permit that holds that slot.
    async fn only_slot_taken(
        deadline: Duration,
        waiting_per_slot: usize,
    ) -> (Arc<Hasher>, tokio::sync::OwnedSemaphorePermit) {
        let hasher = Hasher::new(1, deadline, waiting_per_slot);
        let held = Arc::clone(&hasher.slots)
            .acquire_owned()
            .await
            .expect("the only slot");
        (hasher, held)
    }

    #[tokio::test]
    async fn passwords_hash_and_verify() {
        let h = hash_password("correct horse".into()).await.expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse".into(), Some(h.clone()))
            .await
            .expect("verify"));
        assert!(!verify_password("wrong horse".into(), Some(h))
            .await
            .expect("verify"));
        assert!(!verify_password("anything".into(), None)
            .await
            .expect("verify"));
    }

    #[test]
    fn dummy_hash_parses() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }

    #[test]
    fn the_dummy_hash_costs_a_full_computation() {
        // An unknown email must cost what a known one does: the dummy is
        // computed (and does not match), not rejected before argon2 runs.
        let mut memory = vec![Block::default(); POOL_BLOCKS];
        assert_eq!(
            verify_with(&mut memory, b"anything", DUMMY_HASH),
            Some(false)
        );
    }

    #[test]
    fn hashes_are_the_phc_strings_argon2_writes() {
        use argon2::PasswordHasher as _;
        let salt = [7u8; 16];
        let mut memory = vec![Block::default(); POOL_BLOCKS];
        let ours = hash_with(&mut memory, b"correct horse", &salt).expect("hash");
        let theirs = Argon2::default()
            .hash_password(
                b"correct horse",
                &SaltString::encode_b64(&salt).expect("salt"),
            )
            .expect("argon2")
            .to_string();
        assert_eq!(ours, theirs);
        assert!(ours.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
    }

    #[tokio::test]
    async fn hashes_made_before_the_pool_still_verify() {
        use argon2::PasswordHasher as _;
        let hasher = Hasher::new(1, Duration::from_secs(30), 4);
        let salt = SaltString::encode_b64(b"sixteen byte slt").expect("salt");
        // As the previous code stored them, and with other parameters and
        // variants (smaller and larger than a pooled buffer).
        let made = [
            Argon2::default()
                .hash_password(b"pw-1", &salt)
                .expect("default")
                .to_string(),
            Argon2::new(
                Algorithm::Argon2i,
                Version::V0x13,
                Params::new(4096, 3, 1, Some(24)).expect("params"),
            )
            .hash_password(b"pw-1", &salt)
            .expect("argon2i")
            .to_string(),
            Argon2::new(
                Algorithm::Argon2id,
                Version::V0x10,
                Params::new(32 * 1024, 1, 2, None).expect("params"),
            )
            .hash_password(b"pw-1", &salt)
            .expect("larger")
            .to_string(),
        ];
        for stored in made {
            assert!(
                hasher
                    .verify("pw-1".into(), Some(stored.clone()))
                    .await
                    .expect("verify"),
                "{stored}"
            );
            assert!(!hasher
                .verify("pw-2".into(), Some(stored.clone()))
                .await
                .expect("verify"));
        }
        assert!(!hasher
            .verify("pw-1".into(), Some("not a hash".into()))
            .await
            .expect("verify"));
        // However many hashes, one pooled buffer (the larger hash took
        // memory of its own, given back at once).
        assert_eq!(hasher.buffers_allocated(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn memory_comes_from_a_pool_of_one_buffer_per_slot() {
        let hasher = Hasher::new(2, Duration::from_secs(60), 64);
        for _ in 0..3 {
            hasher.hash("one at a time".into()).await.expect("hash");
        }
        assert_eq!(hasher.buffers_allocated(), 1);
        let burst: Vec<_> = (0..12)
            .map(|i| {
                let hasher = Arc::clone(&hasher);
                tokio::spawn(async move { hasher.verify(format!("guess {i}"), None).await })
            })
            .collect();
        for task in burst {
            assert!(!task.await.expect("task").expect("verify"));
        }
        assert!(hasher.high_water() <= 2, "{}", hasher.high_water());
        assert!(hasher.buffers_allocated() <= 2);
        assert_eq!(hasher.checks(), 15);
        assert_eq!(hasher.waiting.load(Ordering::Relaxed), 0);
        assert_eq!(hasher.running.load(Ordering::Relaxed), 0);
    }

    #[tokio::test]
    async fn busy_after_the_deadline_when_every_slot_is_taken() {
        let (hasher, held) = only_slot_taken(Duration::from_millis(50), 2).await;
        let err = hasher
            .verify("pw".into(), None)
            .await
            .expect_err("no slot in time");
        let PasswordCheckError::Busy {
            retry_after_secs, ..
        } = err
        else {
            panic!("expected Busy, got {err:?}");
        };
        assert!(retry_after_secs > 0);
        assert!(matches!(
            hasher.hash("pw".into()).await,
            Err(PasswordCheckError::Busy { .. })
        ));
        assert_eq!(hasher.checks(), 0, "nothing was hashed");
        drop(held);
        assert!(!hasher.verify("pw".into(), None).await.expect("a free slot"));
        assert_eq!(hasher.checks(), 1);
    }

    #[tokio::test]
    async fn busy_at_once_when_too_many_wait() {
        // 1 slot, 2 may wait: with the slot taken and two waiting, a third
        // is refused without waiting for the deadline.
        let (hasher, held) = only_slot_taken(Duration::from_secs(60), 2).await;
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let hasher = Arc::clone(&hasher);
                tokio::spawn(async move { hasher.verify("pw".into(), None).await })
            })
            .collect();
        while hasher.waiting.load(Ordering::Relaxed) < 2 {
            tokio::task::yield_now().await;
        }
        let started = std::time::Instant::now();
        assert!(matches!(
            hasher.verify("pw".into(), None).await,
            Err(PasswordCheckError::Busy { .. })
        ));
        assert!(started.elapsed() < Duration::from_secs(30));
        drop(held);
        for waiter in waiters {
            assert!(!waiter.await.expect("task").expect("verify"));
        }
        assert_eq!(hasher.waiting.load(Ordering::Relaxed), 0);
    }

    #[tokio::test]
    async fn a_dropped_request_stops_waiting() {
        let (hasher, held) = only_slot_taken(Duration::from_secs(60), 8).await;
        let gone =
            tokio::time::timeout(Duration::from_millis(20), hasher.verify("pw".into(), None)).await;
        assert!(gone.is_err(), "still waiting when dropped");
        assert_eq!(hasher.waiting.load(Ordering::Relaxed), 0);
        drop(held);
        assert_eq!(hasher.checks(), 0);
    }

    #[test]
    fn generated_secrets() {
        let p = random_password(20);
        assert_eq!(p.len(), 20);
        assert!(p.bytes().all(|b| b.is_ascii_alphanumeric()));
        let (a, ha) = new_session_secret();
        let (b, _) = new_session_secret();
        assert_ne!(a, b);
        assert!(SecretHash::of(&a).matches(&ha));
        assert_ne!(csrf_token(&a), csrf_token(&b));
        assert_eq!(csrf_token(&a).len(), 64);
    }
}
