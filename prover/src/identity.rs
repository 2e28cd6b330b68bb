//! The meter's secp256k1 key file: the key that signs every stream state the
//! meter reports, so the root of trust for its measurements.
//!
//! # File format
//!
//! One line: `0x` and the 64 hex digits of the secret scalar, then a newline,
//! the format `--private-key-file` takes elsewhere in zkmeter. Reading tolerates
//! surrounding whitespace and a missing `0x`, as that option does.
//!
//! # Guarantees
//!
//! - [`MeterKey::generate`] never overwrites a file (a key whose address is
//!   registered for streams must not be lost), creates the file with mode 0600,
//!   and syncs it and its directory before returning.
//! - [`MeterKey::load`] refuses a file that group or others can read or write,
//!   as ssh does.
//! - Neither errors nor `Debug` ever show the secret.

use crate::spool::{create_dir_durably, parent_dir, sync_dir};
use k256::ecdsa::SigningKey;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;
use zkmeter_contracts::Address;

/// A meter's signing key, loaded from or written to its key file.
pub struct MeterKey {
    key: SigningKey,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("there is no meter key file at {path}; make one with `zkmeter keys new --out {path}`")]
    Missing { path: PathBuf },

    #[error(
        "{path} already exists; refusing to overwrite a meter key (its address may be registered \
         for streams). Load it, or choose another path"
    )]
    Exists { path: PathBuf },

    #[error(
        "{path} can be read or written by group or others (mode {mode:03o}); a meter key must be \
         private to its owner: run `chmod 600 {path}`"
    )]
    BadPermissions { path: PathBuf, mode: u32 },

    #[error(
        "{path} is not a meter key file: {reason}; it must hold 0x followed by the 64 hex digits of a secp256k1 secret key"
    )]
    Malformed { path: PathBuf, reason: &'static str },

    #[error("{path}: {action}: {source}")]
    Io { path: PathBuf, action: &'static str, source: io::Error },
}

impl MeterKey {
    /// Makes a new key and writes it to `path` with mode 0600 (create_new: never
    /// overwrites; parent dir created).
    pub fn generate<R: rand::CryptoRng + rand::RngCore>(path: &Path, rng: &mut R) -> Result<Self, KeyFileError> {
        let io_err = |action| move |source| KeyFileError::Io { path: path.to_path_buf(), action, source };
        let dir = parent_dir(path);
        create_dir_durably(dir).map_err(io_err("creating the directory"))?;
        let mut file = match OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(KeyFileError::Exists { path: path.to_path_buf() });
            }
            Err(e) => return Err(io_err("creating the key file")(e)),
        };
        let key = SigningKey::random(rng);
        let digits = Zeroizing::new(hex::encode(key.to_bytes()));
        let text = Zeroizing::new(format!("0x{}\n", digits.as_str()));
        if let Err(e) = file.write_all(text.as_bytes()).and_then(|()| file.sync_all()) {
            // A half-written key file would block the next generate and fail every load.
            let _ = std::fs::remove_file(path);
            return Err(io_err("writing the key file")(e));
        }
        sync_dir(dir).map_err(io_err("syncing the directory"))?;
        Ok(MeterKey { key })
    }

    /// Loads a key file; refuses a file readable or writable by group or others
    /// (like ssh does) with an error that says `chmod 600 <path>`.
    pub fn load(path: &Path) -> Result<Self, KeyFileError> {
        let io_err = |action| move |source| KeyFileError::Io { path: path.to_path_buf(), action, source };
        let mut file = match File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(KeyFileError::Missing { path: path.to_path_buf() });
            }
            Err(e) => return Err(io_err("opening the key file")(e)),
        };
        // The mode of the file we read, not of whatever the path names a moment later.
        let mode = file.metadata().map_err(io_err("reading the key file's metadata"))?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyFileError::BadPermissions { path: path.to_path_buf(), mode });
        }
        // Room for any sane key file up front, so growing the buffer leaves no
        // unwiped copy of the secret behind.
        let mut bytes = Zeroizing::new(Vec::with_capacity(4096));
        file.read_to_end(&mut bytes).map_err(io_err("reading the key file"))?;
        let key = parse(&bytes).map_err(|reason| KeyFileError::Malformed { path: path.to_path_buf(), reason })?;
        Ok(MeterKey { key })
    }

    pub fn address(&self) -> Address {
        zkmeter_contracts::meter_address(&self.key)
    }

    pub fn signing_key(&self) -> &SigningKey {
        &self.key
    }
}

impl std::fmt::Debug for MeterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeterKey").field("address", &self.address()).finish_non_exhaustive()
    }
}

/// The key in a key file's bytes. The reasons name no byte of the content: it is a secret.
fn parse(bytes: &[u8]) -> Result<SigningKey, &'static str> {
    let text = std::str::from_utf8(bytes).map_err(|_| "it is not text")?.trim();
    let digits = text.strip_prefix("0x").unwrap_or(text);
    if digits.len() != 64 {
        return Err("it does not hold exactly 64 hex digits");
    }
    let mut secret = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(digits, &mut secret[..]).map_err(|_| "it holds a character that is not a hex digit")?;
    SigningKey::from_slice(&secret[..])
        .map_err(|_| "the number is not a valid secp256k1 secret key (zero, or not below the group order)")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn rng() -> rand_chacha::ChaCha20Rng {
        rand_chacha::ChaCha20Rng::seed_from_u64(7)
    }

    #[test]
    fn generate_writes_0600_and_load_gives_the_same_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/meter.key");
        let made = MeterKey::generate(&path, &mut rng()).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, format!("0x{}\n", hex::encode(made.signing_key().to_bytes())));
        let loaded = MeterKey::load(&path).unwrap();
        assert_eq!(loaded.address(), made.address());
        assert_eq!(loaded.signing_key(), made.signing_key());
        assert_eq!(made.address(), zkmeter_contracts::meter_address(made.signing_key()));
    }

    #[test]
    fn generate_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meter.key");
        MeterKey::generate(&path, &mut rng()).unwrap();
        let before = std::fs::read(&path).unwrap();
        let err = MeterKey::generate(&path, &mut rand_chacha::ChaCha20Rng::seed_from_u64(8)).unwrap_err();
        assert!(matches!(err, KeyFileError::Exists { .. }), "{err:?}");
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }

    #[test]
    fn load_refuses_a_file_others_can_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meter.key");
        MeterKey::generate(&path, &mut rng()).unwrap();
        for mode in [0o644, 0o640, 0o602] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let err = MeterKey::load(&path).unwrap_err();
            assert!(matches!(err, KeyFileError::BadPermissions { .. }), "{err:?}");
            assert!(err.to_string().contains(&format!("chmod 600 {}", path.display())), "{err}");
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
        MeterKey::load(&path).unwrap();
    }

    #[test]
    fn load_accepts_the_private_key_file_format() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meter.key");
        // Anvil's first development account.
        let secret = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
        for text in [format!("0x{secret}\n"), format!("  {secret}  \n\n"), format!("\t0x{secret}")] {
            std::fs::write(&path, &text).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
            let key = MeterKey::load(&path).unwrap();
            assert_eq!(key.address(), "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266".parse::<Address>().unwrap());
        }
    }

    #[test]
    fn malformed_file_errors_do_not_show_the_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meter.key");
        let order = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";
        for text in [
            "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff".to_string(),
            "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ffzz".to_string(),
            format!("0x{}", "0".repeat(64)),
            format!("0x{order}"),
            "qwertyuiopasdfghjklzxcvbnm".repeat(3)[..64].to_string(),
        ] {
            std::fs::write(&path, &text).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
            let err = MeterKey::load(&path).unwrap_err();
            assert!(matches!(err, KeyFileError::Malformed { .. }), "{err:?}");
            let shown = format!("{err} {err:?}");
            for piece in text.as_bytes().chunks(6).filter(|c| c.len() == 6) {
                let piece = std::str::from_utf8(piece).unwrap();
                if !["0x0000", "000000"].contains(&piece) {
                    assert!(!shown.contains(piece), "the error shows {piece:?}: {shown}");
                }
            }
        }
        std::fs::write(&path, [0xff, 0xfe, 0x00]).unwrap();
        assert!(matches!(MeterKey::load(&path), Err(KeyFileError::Malformed { .. })));
    }

    #[test]
    fn missing_file_says_how_to_make_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meter.key");
        let err = MeterKey::load(&path).unwrap_err();
        assert!(matches!(err, KeyFileError::Missing { .. }), "{err:?}");
        assert!(err.to_string().contains(&format!("zkmeter keys new --out {}", path.display())), "{err}");
    }

    #[test]
    fn debug_does_not_show_the_secret() {
        let dir = tempfile::tempdir().unwrap();
        let key = MeterKey::generate(&dir.path().join("meter.key"), &mut rng()).unwrap();
        let shown = format!("{key:?} {key:#?}");
        let secret = hex::encode(key.signing_key().to_bytes());
        assert!(!shown.to_lowercase().contains(&secret[..16]), "{shown}");
        assert!(shown.contains(&format!("{:?}", key.address())), "{shown}");
    }
}
