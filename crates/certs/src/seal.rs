//! Private keys at rest: sealed with AES-256-GCM under the node's master key.
//!
//! The master key never leaves the node's disk (`[secrets] master_key_file`); the store only
//! ever holds [`SealedKey`]s, so a copy of the store (an etcd backup, a stolen SQLite file)
//! discloses no private key.

use std::fmt;
use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use tlsedge_model::{CertName, SealedKey};
use zeroize::Zeroizing;

use crate::key::KeyMaterial;

/// Length of the master key: AES-256.
const KEY_LEN: usize = 32;
/// Length of the GCM tag appended to the ciphertext.
const TAG_LEN: usize = 16;

/// Why a master key could not be loaded or a key could not be sealed or opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// The master key file exists but cannot be read.
    #[error("cannot read the master key file {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O failure.
        #[source]
        source: io::Error,
    },
    /// The master key file (or its directory) cannot be created.
    #[error("cannot create the master key file {}", path.display())]
    Create {
        /// The file.
        path: PathBuf,
        /// The I/O failure.
        #[source]
        source: io::Error,
    },
    /// The master key file does not hold a 32-byte key.
    #[error(
        "the master key file {} is unusable: {reason}; it must hold 32 random bytes, raw or as base64 or hex text",
        path.display()
    )]
    InvalidMasterKey {
        /// The file.
        path: PathBuf,
        /// What is wrong with its contents (never the contents).
        reason: String,
    },
    /// The system's random number generator failed.
    #[error("the system random number generator failed")]
    Random,
    /// AES-GCM refused to encrypt (cannot happen with a valid key).
    #[error("encrypting the private key failed")]
    Encrypt,
    /// The sealed value is not base64 of nonce, ciphertext and tag, or holds no key.
    #[error("the sealed private key is malformed")]
    Malformed,
    /// Authentication failed: another node's master key, another certificate's name, or altered
    /// data.
    #[error("the sealed private key cannot be opened: wrong master key, wrong certificate name, or altered data")]
    Unauthentic,
}

/// The node's key-encryption key: AES-256-GCM over [`KeyMaterial`], with the certificate name as
/// associated data.
///
/// The file format is base64 text of 32 random bytes (what
/// [`load_or_create`](Self::load_or_create) writes). When reading, 32 raw bytes and 64 hex digits
/// are accepted too, so a key made with `head -c 32 /dev/urandom`, `openssl rand -base64 32` or
/// `openssl rand -hex 32` works. Every node that shares a store must share this key.
pub struct MasterKey {
    key: LessSafeKey,
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    /// Loads the master key from `path`, or creates that file (and its parent directories) with
    /// 32 fresh random bytes from `aws_lc_rs::rand`, as base64, mode 0600, if it does not exist.
    /// A file of the wrong length or encoding is refused, never overwritten.
    ///
    /// Creation is atomic: the key is written to a temporary file and linked into place, so a
    /// crash leaves no half-written key, and two nodes starting at once end with the same key.
    pub fn load_or_create(path: &Path) -> Result<MasterKey, SealError> {
        match fs::read(path) {
            Ok(bytes) => Self::from_file_contents(path, &Zeroizing::new(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Self::create(path),
            Err(source) => Err(SealError::Read {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// A master key from its 32 bytes (for tests and embedded setups).
    pub fn from_bytes(bytes: &[u8; KEY_LEN]) -> Result<MasterKey, SealError> {
        let unbound = UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| SealError::Encrypt)?;
        Ok(MasterKey {
            key: LessSafeKey::new(unbound),
        })
    }

    /// A fresh random master key that lives only in memory (for `tlsedge demo` and tests).
    pub fn generate() -> Result<MasterKey, SealError> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        aws_lc_rs::rand::fill(&mut *bytes).map_err(|_| SealError::Random)?;
        Self::from_bytes(&bytes)
    }

    /// AES-256-GCM with a fresh random 96-bit nonce; the certificate name is the associated data
    /// so a sealed key cannot be moved to another name. Output: base64 of nonce‖ciphertext‖tag.
    pub fn seal(&self, name: &CertName, key: &KeyMaterial) -> Result<SealedKey, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| SealError::Random)?;
        let plain = key.as_bytes();
        // Sized up front so the plaintext copied in is never left behind by a reallocation.
        let mut buf = Zeroizing::new(Vec::with_capacity(NONCE_LEN + plain.len() + TAG_LEN));
        buf.extend_from_slice(&nonce);
        buf.extend_from_slice(plain);
        let tag = self
            .key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(name.as_str().as_bytes()),
                buf.get_mut(NONCE_LEN..).unwrap_or_default(),
            )
            .map_err(|_| SealError::Encrypt)?;
        buf.extend_from_slice(tag.as_ref());
        Ok(SealedKey(STANDARD.encode(&*buf)))
    }

    /// Opens what [`seal`](Self::seal) made for the same `name`. Fails with
    /// [`SealError::Unauthentic`] under another master key or name, or if a byte changed.
    pub fn open(&self, name: &CertName, sealed: &SealedKey) -> Result<KeyMaterial, SealError> {
        let mut buf = Zeroizing::new(
            STANDARD
                .decode(sealed.0.trim())
                .map_err(|_| SealError::Malformed)?,
        );
        if buf.len() < NONCE_LEN + TAG_LEN + 2 {
            return Err(SealError::Malformed);
        }
        let (nonce, sealed_part) = buf.split_at_mut(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Malformed)?;
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(name.as_str().as_bytes()), sealed_part)
            .map_err(|_| SealError::Unauthentic)?;
        KeyMaterial::from_bytes(plain.to_vec()).ok_or(SealError::Malformed)
    }

    fn from_file_contents(path: &Path, bytes: &[u8]) -> Result<MasterKey, SealError> {
        let invalid = |reason: String| SealError::InvalidMasterKey {
            path: path.to_owned(),
            reason,
        };
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        if bytes.len() == KEY_LEN {
            key.copy_from_slice(bytes);
            return Self::from_bytes(&key);
        }
        let text = bytes.trim_ascii();
        if text.is_empty() {
            return Err(invalid("it is empty".to_owned()));
        }
        let decoded = if text.len() == 2 * KEY_LEN && text.iter().all(u8::is_ascii_hexdigit) {
            Zeroizing::new(
                hex::decode(text).map_err(|_| invalid("it is not valid hex".to_owned()))?,
            )
        } else {
            Zeroizing::new(STANDARD.decode(text).map_err(|_| {
                invalid(format!(
                    "it holds {} bytes that are neither a raw key nor base64 text",
                    bytes.len()
                ))
            })?)
        };
        if decoded.len() != KEY_LEN {
            return Err(invalid(format!(
                "it decodes to {} bytes, not {KEY_LEN}",
                decoded.len()
            )));
        }
        key.copy_from_slice(&decoded);
        Self::from_bytes(&key)
    }

    fn create(path: &Path) -> Result<MasterKey, SealError> {
        let create_err = |source: io::Error| SealError::Create {
            path: path.to_owned(),
            source,
        };
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        fs::create_dir_all(dir).map_err(create_err)?;

        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        aws_lc_rs::rand::fill(&mut *key).map_err(|_| SealError::Random)?;
        let mut text = Zeroizing::new(String::with_capacity(64));
        STANDARD.encode_string(key.as_slice(), &mut text);
        text.push('\n');

        let mut suffix = [0u8; 8];
        aws_lc_rs::rand::fill(&mut suffix).map_err(|_| SealError::Random)?;
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dir.join(format!(".{file_name}.tmp-{}", hex::encode(suffix)));
        let written = write_private(&tmp, text.as_bytes()).and_then(|()| fs::hard_link(&tmp, path));
        // The temporary name goes whatever happened; the key now lives (only) at `path`.
        let _ = fs::remove_file(&tmp);
        match written {
            Ok(()) => {
                sync_dir(dir);
                Self::from_bytes(&key)
            }
            // Another process created it first: use theirs, so both agree.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => match fs::read(path) {
                Ok(bytes) => Self::from_file_contents(path, &Zeroizing::new(bytes)),
                Err(source) => Err(SealError::Read {
                    path: path.to_owned(),
                    source,
                }),
            },
            Err(e) => Err(create_err(e)),
        }
    }
}

/// Writes a new file readable by its owner only, and flushes it to disk.
fn write_private(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        options.mode(0o600);
        let mut file = options.open(path)?;
        // The umask may have removed bits, never added them; make it exactly 0600.
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
        file.write_all(contents)?;
        file.sync_all()
    }
    #[cfg(not(unix))]
    {
        let mut file = options.open(path)?;
        file.write_all(contents)?;
        file.sync_all()
    }
}

/// Makes the new directory entry durable (best effort: not every platform can sync a directory).
fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::key::KeyFormat;

    fn name(s: &str) -> CertName {
        CertName::parse(s).unwrap()
    }

    fn sample_key() -> KeyMaterial {
        KeyMaterial::from_format_and_der(
            KeyFormat::Sec1,
            &[0x30, 0x77, 0x02, 0x01, 0x01, 0x04, 0x20],
        )
        .unwrap()
    }

    #[test]
    fn round_trip_and_binding() {
        let mk = MasterKey::generate().unwrap();
        let key = sample_key();
        let sealed = mk.seal(&name("example-com"), &key).unwrap();
        let raw = STANDARD.decode(&sealed.0).unwrap();
        assert_eq!(raw.len(), NONCE_LEN + key.as_bytes().len() + TAG_LEN);
        assert!(!raw
            .windows(key.as_bytes().len())
            .any(|w| w == key.as_bytes()));
        let opened = mk.open(&name("example-com"), &sealed).unwrap();
        assert_eq!(opened.as_bytes(), key.as_bytes());
        assert_eq!(opened.format(), KeyFormat::Sec1);

        // Fresh nonce every time.
        assert_ne!(mk.seal(&name("example-com"), &key).unwrap(), sealed);

        assert!(matches!(
            mk.open(&name("other-com"), &sealed),
            Err(SealError::Unauthentic)
        ));
        assert!(matches!(
            MasterKey::generate()
                .unwrap()
                .open(&name("example-com"), &sealed),
            Err(SealError::Unauthentic)
        ));

        for i in [0, NONCE_LEN, raw.len() - 1] {
            let mut tampered = raw.clone();
            tampered[i] ^= 1;
            let t = SealedKey(STANDARD.encode(&tampered));
            assert!(
                matches!(
                    mk.open(&name("example-com"), &t),
                    Err(SealError::Unauthentic)
                ),
                "byte {i}"
            );
        }
        assert!(matches!(
            mk.open(&name("example-com"), &SealedKey("***".into())),
            Err(SealError::Malformed)
        ));
        assert!(matches!(
            mk.open(&name("example-com"), &SealedKey(STANDARD.encode([0u8; 20]))),
            Err(SealError::Malformed)
        ));
        assert_eq!(format!("{mk:?}"), "MasterKey(..)");
    }

    #[test]
    fn file_is_created_private_and_reloads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/data/master.key");
        let first = MasterKey::load_or_create(&path).unwrap();
        let meta = fs::metadata(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        }
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(STANDARD.decode(text.trim()).unwrap().len(), KEY_LEN);
        // Nothing else was left in the directory.
        assert_eq!(fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);

        let second = MasterKey::load_or_create(&path).unwrap();
        let key = sample_key();
        let sealed = first.seal(&name("c"), &key).unwrap();
        assert_eq!(
            second.open(&name("c"), &sealed).unwrap().as_bytes(),
            key.as_bytes()
        );
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            text,
            "the file was not rewritten"
        );
    }

    #[test]
    fn accepts_raw_base64_and_hex_files() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = [0x42u8; KEY_LEN];
        let reference = MasterKey::from_bytes(&bytes).unwrap();
        let sealed = reference.seal(&name("c"), &sample_key()).unwrap();
        for (i, contents) in [
            bytes.to_vec(),
            format!("{}\n", STANDARD.encode(bytes)).into_bytes(),
            hex::encode(bytes).into_bytes(),
        ]
        .into_iter()
        .enumerate()
        {
            let path = dir.path().join(format!("k{i}"));
            fs::write(&path, contents).unwrap();
            let mk = MasterKey::load_or_create(&path).unwrap();
            assert!(mk.open(&name("c"), &sealed).is_ok(), "format {i}");
        }
    }

    #[test]
    fn refuses_wrong_length() {
        let dir = tempfile::tempdir().unwrap();
        for contents in [
            &b""[..],
            b"\n",
            &[7u8; 31],
            &[7u8; 33],
            STANDARD.encode([1u8; 16]).as_bytes(),
            b"not base64 at all!",
        ] {
            let path = dir.path().join("master.key");
            fs::write(&path, contents).unwrap();
            let err = MasterKey::load_or_create(&path).unwrap_err();
            assert!(matches!(err, SealError::InvalidMasterKey { .. }), "{err}");
            assert!(err.to_string().contains("master.key"), "{err}");
            // Refused, not replaced.
            assert_eq!(fs::read(&path).unwrap(), contents);
        }
    }

    #[cfg(unix)]
    #[test]
    fn unreadable_directory_is_a_create_error() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        fs::write(&blocker, b"x").unwrap();
        let err = MasterKey::load_or_create(&blocker.join("master.key")).unwrap_err();
        assert!(
            matches!(err, SealError::Create { .. } | SealError::Read { .. }),
            "{err}"
        );
    }
}
