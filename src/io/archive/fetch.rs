//! Reading an archive's files from a local folder, an HTTP(S) server or S3, through one crate
//! for all three (`object_store`, the Apache Arrow project's: maintained, with retries and
//! backoff built in, S3 signing and credentials from the usual AWS variables, and nothing
//! here that speaks HTTP or signs a request by hand).
//!
//! A remote file is fetched once into a local cache and used from there:
//! - it is written to a temporary name in the cache and renamed only when its size is the one
//!   the server announced, so an interrupted or truncated download is never used;
//! - a lock file per cached file makes a second process (another batch sharing the cache) wait
//!   and then use the first one's copy instead of writing the same file at the same time;
//! - every use asks the server for the file's size, ETag and modification time (one HEAD
//!   request) and downloads again when they differ from what the cache recorded, so a changed
//!   file is never missed and an unchanged one never fetched twice;
//! - requests are retried with exponential backoff on transient errors (object_store's own,
//!   for 5xx answers and dropped connections) and a download that ends early is started over
//!   (up to [`DOWNLOAD_ATTEMPTS`] times); errors name the URL.

use crate::error::{Error, Result};
use futures_util::StreamExt;
use object_store::{ObjectStore, ObjectStoreExt};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Downloads of one file started before giving up on a transfer that keeps ending early.
pub const DOWNLOAD_ATTEMPTS: usize = 4;

/// Where an archive lives: a local folder (a site mirror) or a remote store.
#[derive(Debug, Clone)]
pub struct Root {
    /// As given (a folder, `http(s)://...` or `s3://bucket/prefix`).
    pub url: String,
    kind: RootKind,
}

#[derive(Debug, Clone)]
enum RootKind {
    Local(PathBuf),
    Remote(Arc<dyn ObjectStore>),
}

impl Root {
    /// A root from its text. S3 takes its credentials, region and endpoint from the usual
    /// variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_DEFAULT_REGION`,
    /// `AWS_ENDPOINT`, `AWS_ALLOW_HTTP`; `AWS_SKIP_SIGNATURE=true` for a public bucket).
    pub fn parse(text: &str) -> Result<Root> {
        install_crypto();
        let url = text.trim_end_matches('/').to_string();
        let bad = |e: &dyn std::fmt::Display| Error::Usage(format!("archive root {text}: {e}"));
        let retry = object_store::RetryConfig {
            backoff: object_store::BackoffConfig {
                init_backoff: Duration::from_millis(200),
                max_backoff: Duration::from_secs(10),
                base: 2.0,
            },
            max_retries: 5,
            retry_timeout: Duration::from_secs(120),
        };
        let kind = if url.starts_with("http://") || url.starts_with("https://") {
            let store = object_store::http::HttpBuilder::new()
                .with_url(url.clone())
                .with_client_options(object_store::ClientOptions::new().with_allow_http(true))
                .with_retry(retry)
                .build()
                .map_err(|e| bad(&e))?;
            RootKind::Remote(Arc::new(store))
        } else if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(bad(&"no bucket in the URL (s3://bucket/prefix)"));
            }
            let store = object_store::aws::AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .with_retry(retry)
                .build()
                .map_err(|e| bad(&e))?;
            let store: Arc<dyn ObjectStore> = if prefix.is_empty() {
                Arc::new(store)
            } else {
                Arc::new(object_store::prefix::PrefixStore::new(store, prefix))
            };
            RootKind::Remote(store)
        } else if url.contains("://") {
            return Err(bad(&"only local folders, http(s):// and s3:// roots are read"));
        } else {
            let folder = PathBuf::from(text);
            if !folder.is_dir() {
                return Err(Error::Usage(format!("archive root {text}: not a folder")));
            }
            RootKind::Local(folder)
        };
        Ok(Root { url, kind })
    }

    /// True for a local folder (read in place, not cached).
    pub fn is_local(&self) -> bool {
        matches!(self.kind, RootKind::Local(_))
    }

    /// The URL (or path) of `path` under this root, for messages and stamps.
    pub fn url_of(&self, path: &str) -> String {
        format!("{}/{path}", self.url)
    }
}

/// A file of an archive as it is on this machine.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Fetched {
    /// Where it came from.
    pub url: String,
    /// The local file to read (the cached copy, or the file itself for a local root).
    pub local: PathBuf,
    /// Size in bytes.
    pub size: u64,
    /// The server's ETag, when it gives one.
    pub etag: Option<String>,
    /// The server's modification time, when it gives one (RFC 3339).
    pub modified: Option<String>,
    /// True when this use downloaded it (false: the cached copy was current).
    #[serde(default)]
    pub downloaded: bool,
}

/// Fetches files of archives through a local cache.
pub struct Fetcher {
    runtime: tokio::runtime::Runtime,
    cache: PathBuf,
}

impl Fetcher {
    /// A fetcher caching into `cache` (created if missing).
    pub fn new(cache: &Path) -> Result<Fetcher> {
        std::fs::create_dir_all(cache).map_err(|e| Error::io(cache, e))?;
        // Batch workers fetch from several threads at once: a runtime with threads of its own
        // lets their downloads proceed side by side.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| Error::Invalid(format!("cannot start the download runtime: {e}")))?;
        Ok(Fetcher { runtime, cache: cache.to_path_buf() })
    }

    /// The default cache: `$XDG_CACHE_HOME/real_space_diff_map`, else `~/.cache/...`.
    pub fn default_cache() -> PathBuf {
        std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .unwrap_or_else(std::env::temp_dir)
            .join("real_space_diff_map")
    }

    /// The file `path` of `root`, on this machine. A file larger than `limit` bytes is refused
    /// before anything of it is read or downloaded (the archive is a stranger's server: the size
    /// it announces is a request).
    pub fn fetch(&self, root: &Root, path: &str, limit: u64) -> Result<Fetched> {
        let url = root.url_of(path);
        let named = url.clone();
        let too_large = move |size: u64| {
            Error::limit(
                Some(Path::new(&named)),
                format!(
                    "the archive's file is {}, more than the {} a run can use here (max_memory=SIZE raises it)",
                    crate::limits::describe_bytes(size),
                    crate::limits::describe_bytes(limit)
                ),
            )
        };
        match &root.kind {
            RootKind::Local(folder) => {
                let local = folder.join(path);
                let meta = std::fs::metadata(&local).map_err(|e| Error::io(&local, e))?;
                if !meta.is_file() {
                    return Err(Error::Invalid(format!("{}: not a file", local.display())));
                }
                if meta.len() > limit {
                    return Err(too_large(meta.len()));
                }
                Ok(Fetched { url, local, size: meta.len(), etag: None, modified: None, downloaded: false })
            }
            RootKind::Remote(store) => self.fetch_remote(store.as_ref(), root, path, url, limit, too_large),
        }
    }

    fn fetch_remote(
        &self,
        store: &dyn ObjectStore,
        root: &Root,
        path: &str,
        url: String,
        limit: u64,
        too_large: impl Fn(u64) -> Error,
    ) -> Result<Fetched> {
        let local = self.cache.join(cache_folder(&root.url)).join(path);
        let folder = local.parent().unwrap_or(&self.cache).to_path_buf();
        std::fs::create_dir_all(&folder).map_err(|e| Error::io(&folder, e))?;
        let remote_error = |e: object_store::Error| {
            let message = match e {
                object_store::Error::NotFound { .. } => "not found in the archive".to_string(),
                other => other.to_string(),
            };
            Error::Io { path: PathBuf::from(&url), source: std::io::Error::other(message) }
        };
        let location = object_store::path::Path::from(path);
        // One process at a time per cached file; the others wait, then find it current.
        let lock_path = sidecar(&local, "lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| Error::io(&lock_path, e))?;
        lock.lock().map_err(|e| Error::io(&lock_path, e))?;
        let meta = self.runtime.block_on(store.head(&location)).map_err(remote_error)?;
        if meta.size > limit {
            return Err(too_large(meta.size));
        }
        let mut fetched = Fetched {
            url: url.clone(),
            local: local.clone(),
            size: meta.size,
            etag: meta.e_tag.clone(),
            modified: Some(meta.last_modified.to_rfc3339()),
            downloaded: false,
        };
        let recorded: Option<Fetched> =
            std::fs::read_to_string(sidecar(&local, "json")).ok().and_then(|t| serde_json::from_str(&t).ok());
        let current = recorded.is_some_and(|r| {
            r.size == fetched.size && r.etag == fetched.etag && r.modified == fetched.modified && r.url == url
        }) && std::fs::metadata(&local).is_ok_and(|m| m.is_file() && m.len() == fetched.size);
        if current {
            return Ok(fetched);
        }
        let mut last_problem = String::new();
        for attempt in 0..DOWNLOAD_ATTEMPTS {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(250 << attempt.min(4)));
            }
            match self.download_once(store, &location, &folder, meta.size) {
                Ok(temp) => {
                    temp.persist(&local).map_err(|e| Error::io(&local, e.error))?;
                    fetched.downloaded = true;
                    let text = serde_json::to_string_pretty(&fetched).unwrap_or_default();
                    crate::io::atomic_file::write_atomically(&sidecar(&local, "json"), &[], |w| {
                        w.write_all(text.as_bytes())
                    })?;
                    return Ok(fetched);
                }
                Err(Download::Fatal(e)) => return Err(remote_error(e)),
                Err(Download::Short(problem)) => last_problem = problem,
                Err(Download::Local(e)) => return Err(Error::io(&folder, e)),
            }
        }
        Err(Error::Io {
            path: PathBuf::from(&url),
            source: std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("download failed {DOWNLOAD_ATTEMPTS} times: {last_problem}"),
            ),
        })
    }

    /// One download into a temporary file in `folder`; the file only when it is whole.
    fn download_once(
        &self,
        store: &dyn ObjectStore,
        location: &object_store::path::Path,
        folder: &Path,
        size: u64,
    ) -> std::result::Result<tempfile::NamedTempFile, Download> {
        let mut temp =
            tempfile::Builder::new().prefix(".rsdm-download-").tempfile_in(folder).map_err(Download::Local)?;
        let written = self.runtime.block_on(async {
            let result = match store.get(location).await {
                Ok(result) => result,
                // A missing file stays missing; anything else may be the network.
                Err(e @ object_store::Error::NotFound { .. }) => return Err(Download::Fatal(e)),
                Err(e) => return Err(Download::Short(e.to_string())),
            };
            let mut stream = result.into_stream();
            let mut written = 0u64;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| Download::Short(format!("after {written} of {size} bytes: {e}")))?;
                written += chunk.len() as u64;
                if written > size {
                    return Err(Download::Short(format!("more than the {size} bytes announced")));
                }
                temp.write_all(&chunk).map_err(Download::Local)?;
            }
            Ok(written)
        })?;
        if written != size {
            return Err(Download::Short(format!("ended after {written} of the {size} bytes announced")));
        }
        temp.flush().map_err(Download::Local)?;
        Ok(temp)
    }
}

/// Copies a batch's results to a remote prefix (`--upload s3://bucket/prefix`, or an
/// http(s):// WebDAV root): each file is put whole (object stores show a file only once it is
/// complete), and a file already there with the same size is not sent again, so uploading a
/// resumed batch sends only what is new.
pub struct Uploader {
    runtime: tokio::runtime::Runtime,
    root: Root,
}

impl Uploader {
    /// An uploader to `root` (a remote root: a local folder is simply the out-dir itself).
    pub fn new(root: Root) -> Result<Uploader> {
        if root.is_local() {
            return Err(Error::Usage(format!(
                "--upload {}: uploads go to s3:// or http(s):// roots (a local folder is --out-dir)",
                root.url
            )));
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| Error::Invalid(format!("cannot start the upload runtime: {e}")))?;
        Ok(Uploader { runtime, root })
    }

    /// Puts `file` at `path` under the root unless a file of the same size is there; returns
    /// whether it was sent.
    pub fn upload(&self, file: &Path, path: &str) -> Result<bool> {
        let RootKind::Remote(store) = &self.root.kind else { return Ok(false) };
        let url = self.root.url_of(path);
        let location = object_store::path::Path::from(path);
        let size = std::fs::metadata(file).map_err(|e| Error::io(file, e))?.len();
        let there = self.runtime.block_on(store.head(&location)).ok().map(|m| m.size);
        if there == Some(size) {
            return Ok(false);
        }
        let bytes = std::fs::read(file).map_err(|e| Error::io(file, e))?;
        self.runtime
            .block_on(store.put(&location, bytes.into()))
            .map_err(|e| Error::Io { path: PathBuf::from(&url), source: std::io::Error::other(e.to_string()) })?;
        Ok(true)
    }

    /// Uploads every file under `folder` (this program's temporaries and locks left out) to
    /// `prefix/` + its path below `folder`; returns how many were sent.
    pub fn upload_folder(&self, folder: &Path, prefix: &str) -> Result<usize> {
        let mut sent = 0;
        for entry in std::fs::read_dir(folder).map_err(|e| Error::io(folder, e))? {
            let entry = entry.map_err(|e| Error::io(folder, e))?;
            let name = entry.file_name().to_string_lossy().to_string();
            if name.starts_with(".rsdm-") || name.ends_with(".rsdm-lock") {
                continue;
            }
            let kind = entry.file_type().map_err(|e| Error::io(entry.path(), e))?;
            let target = if prefix.is_empty() { name.clone() } else { format!("{prefix}/{name}") };
            if kind.is_dir() {
                sent += self.upload_folder(&entry.path(), &target)?;
            } else if kind.is_file() {
                sent += usize::from(self.upload(&entry.path(), &target)?);
            }
        }
        Ok(sent)
    }
}

enum Download {
    /// The server says no (not found, refused): trying again will not help.
    Fatal(object_store::Error),
    /// The transfer ended early or failed on the way: try again.
    Short(String),
    /// Writing the cache failed.
    Local(std::io::Error),
}

/// Makes ring rustls' crypto for this process (the HTTPS and S3 clients are built without a
/// provider of their own); a second call, or a provider set by a host program, is left alone.
fn install_crypto() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// `file` with a suffix beside it: `emd_1.map.gz.rsdm-json`.
fn sidecar(file: &Path, what: &str) -> PathBuf {
    let mut name = file.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".rsdm-{what}"));
    file.with_file_name(name)
}

/// A cache folder name for a root URL: readable, one per root.
fn cache_folder(url: &str) -> String {
    url.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_are_told_apart_and_named_in_errors() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Root::parse(&dir.path().display().to_string()).unwrap().is_local());
        assert!(!Root::parse("http://127.0.0.1:9/archive/").unwrap().is_local());
        // The HTTPS client needs a crypto provider for rustls at build time: ring, installed here.
        assert!(!Root::parse("https://127.0.0.1:9/archive").unwrap().is_local());
        let e = Root::parse("ftp://example.org/x").unwrap_err().to_string();
        assert!(e.contains("ftp://example.org/x"), "{e}");
        let e = Root::parse("/no/such/folder").unwrap_err().to_string();
        assert!(e.contains("not a folder"), "{e}");
        assert_eq!(cache_folder("http://127.0.0.1:8000/a"), "http___127.0.0.1_8000_a");
        assert_eq!(sidecar(Path::new("/c/emd_1.map.gz"), "lock"), PathBuf::from("/c/emd_1.map.gz.rsdm-lock"));
    }
}
