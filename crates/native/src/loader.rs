//! Finding and loading the official libraries: which files, which symbols, which
//! version — and the locale they may need.

use std::ffi::{CStr, c_char, c_int, c_void};
use std::path::{Path, PathBuf};

use libloading::Library;

use super::vtables::{CThostFtdcMdApi, CThostFtdcTraderApi};
use webctp_protocol::backend::BackendError;

/// File name prefix of the market-data library (`libthostmduserapi_se.so`, or with the
/// hash suffix that wheel repackaging adds, e.g. `libthostmduserapi_se-9c6d321f.so`).
pub const MD_LIB: &str = "libthostmduserapi_se";
/// File name prefix of the trading library.
pub const TD_LIB: &str = "libthosttraderapi_se";

// The 6.7.11 factories: static member functions, so plain C calls with these names.
const MD_CREATE: &str = "_ZN15CThostFtdcMdApi15CreateFtdcMdApiEPKcbbb";
const MD_VERSION: &str = "_ZN15CThostFtdcMdApi13GetApiVersionEv";
const TD_CREATE: &str = "_ZN19CThostFtdcTraderApi19CreateFtdcTraderApiEPKcb";
const TD_VERSION: &str = "_ZN19CThostFtdcTraderApi13GetApiVersionEv";

/// `CThostFtdcMdApi::CreateFtdcMdApi(pszFlowPath, bIsUsingUdp, bIsMulticast, bIsProductionMode)`.
pub type CreateMdApi =
    unsafe extern "C" fn(*const c_char, bool, bool, bool) -> *mut CThostFtdcMdApi;
/// `CThostFtdcTraderApi::CreateFtdcTraderApi(pszFlowPath, bIsProductionMode)`.
pub type CreateTraderApi = unsafe extern "C" fn(*const c_char, bool) -> *mut CThostFtdcTraderApi;
type GetApiVersion = unsafe extern "C" fn() -> *const c_char;
/// `webctp_fake_drop_front(seconds)`: exported only by `fakectp` (the test library),
/// so that `/admin/drop-front` can take its front down as it does the sim's.
pub type DropFront = unsafe extern "C" fn(f64) -> c_int;
const FAKE_DROP_FRONT: &str = "webctp_fake_drop_front";

/// One loaded library: where it came from, what it says it is, and its factory.
#[derive(Debug, Clone)]
pub struct Loaded<F> {
    pub path: PathBuf,
    /// What `GetApiVersion()` returned, e.g. `v6.7.11_20250617 16:22:00.10369`.
    pub version: String,
    pub create: F,
    /// The fault injection of the fake library; `None` for the official one.
    pub drop_front: Option<DropFront>,
}

/// The directories searched, in order: the configured one alone if there is one;
/// otherwise `libs/` in the working directory, next to the executable, and two levels
/// up from it (where `libs/` is when the binary sits in cargo's `target/<profile>/`).
pub fn search_dirs(configured: Option<&Path>) -> Vec<PathBuf> {
    if let Some(dir) = configured {
        return vec![dir.to_path_buf()];
    }
    let mut dirs = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        dirs.push(cwd.join("libs"));
    }
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.parent()
    {
        dirs.push(dir.join("libs"));
        if let Some(up) = dir.parent().and_then(Path::parent) {
            dirs.push(up.join("libs"));
        }
    }
    let mut seen = Vec::new();
    dirs.retain(|d| {
        let key = d.canonicalize().unwrap_or_else(|_| d.clone());
        let fresh = !seen.contains(&key);
        seen.push(key);
        fresh
    });
    dirs
}

/// Whether `name` is a file name of the library with this prefix: `<prefix>.so`,
/// optionally with a `-<hash>` tag before `.so` and a numeric version after it.
fn matches(name: &str, prefix: &str) -> bool {
    let Some(rest) = name.strip_prefix(prefix) else {
        return false;
    };
    let Some(pos) = rest.find(".so") else {
        return false;
    };
    let (tag, tail) = rest.split_at(pos);
    let tail = &tail[3..];
    let tag_ok = tag.is_empty()
        || tag.strip_prefix('-').is_some_and(|t| {
            !t.is_empty() && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
    let tail_ok = tail.is_empty()
        || tail.strip_prefix('.').is_some_and(|t| {
            t.split('.')
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        });
    tag_ok && tail_ok
}

/// The library with `prefix` in `dir`: the plain name if present, else the first
/// (sorted) suffixed one.
pub fn find_in(dir: &Path, prefix: &str) -> Option<PathBuf> {
    let plain = dir.join(format!("{prefix}.so"));
    if plain.is_file() {
        return Some(plain);
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_str().is_some_and(|n| matches(n, prefix)))
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    found.sort();
    found.into_iter().next()
}

/// The two library files, from the first directory that holds both.
pub fn locate(configured: Option<&Path>) -> Result<(PathBuf, PathBuf), BackendError> {
    let dirs = search_dirs(configured);
    for dir in &dirs {
        if let (Some(md), Some(td)) = (find_in(dir, MD_LIB), find_in(dir, TD_LIB)) {
            return Ok((md, td));
        }
    }
    let listed: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    let hint = if configured.is_some() {
        "check CtpLibDir / WEBCTP_CTP_LIB_DIR / --ctp-lib-dir"
    } else {
        "install them with scripts/install-ctp-libs.sh (into libs/), or point CtpLibDir / WEBCTP_CTP_LIB_DIR / --ctp-lib-dir at them"
    };
    Err(BackendError::Session(format!(
        "the CTP libraries were not found: looked for {MD_LIB}*.so and {TD_LIB}*.so in {}; {hint}",
        listed.join(", ")
    )))
}

/// Whether a `GetApiVersion()` string is a 6.7.x version.
pub fn is_supported_version(version: &str) -> bool {
    let v = version.trim();
    let v = v.strip_prefix(['v', 'V']).unwrap_or(v);
    v.starts_with("6.7.")
}

/// Opens `path` and resolves its factory and version functions.
fn open<F: Copy>(
    path: &Path,
    create: &str,
    create_sig: &str,
    version: &str,
) -> Result<Loaded<F>, BackendError> {
    // RTLD_LOCAL (libloading's default): the libraries export thousands of internal
    // symbols that must not leak into the global namespace.
    let lib = unsafe { Library::new(path) }
        .map_err(|e| BackendError::Session(format!("cannot load {}: {e}", path.display())))?;
    let missing = |name: &str, e: libloading::Error| {
        BackendError::Session(format!(
            "{} has no {name} ({e}); webctp needs the CTP 6.7.11 API, whose {create_sig} differs from older 6.7.x releases",
            path.display()
        ))
    };
    let create_fn: F = unsafe { lib.get::<F>(create.as_bytes()) }
        .map(|s| *s)
        .map_err(|e| missing(create, e))?;
    let version_fn: GetApiVersion = unsafe { lib.get::<GetApiVersion>(version.as_bytes()) }
        .map(|s| *s)
        .map_err(|e| missing(version, e))?;
    let ptr = unsafe { version_fn() };
    let version = if ptr.is_null() {
        String::new()
    } else {
        unsafe { CStr::from_ptr(ptr) }
            .to_string_lossy()
            .into_owned()
    };
    if !is_supported_version(&version) {
        return Err(BackendError::Session(format!(
            "{} reports CTP API version {version:?}; webctp is built for CTP 6.7.x (6.7.11 headers)",
            path.display()
        )));
    }
    let drop_front = unsafe { lib.get::<DropFront>(FAKE_DROP_FRONT.as_bytes()) }
        .ok()
        .map(|s| *s);
    // Never unloaded: API objects and their threads live as long as the process, and
    // unloading a library whose threads still run would crash it.
    std::mem::forget(lib);
    Ok(Loaded {
        path: path.to_path_buf(),
        version,
        create: create_fn,
        drop_front,
    })
}

/// Loads the market-data library.
pub fn load_md(path: &Path) -> Result<Loaded<CreateMdApi>, BackendError> {
    open(
        path,
        MD_CREATE,
        "CreateFtdcMdApi(const char*, bool, bool, bool)",
        MD_VERSION,
    )
}

/// Loads the trading library.
pub fn load_td(path: &Path) -> Result<Loaded<CreateTraderApi>, BackendError> {
    open(
        path,
        TD_CREATE,
        "CreateFtdcTraderApi(const char*, bool)",
        TD_VERSION,
    )
}

unsafe extern "C" {
    fn newlocale(category_mask: c_int, locale: *const c_char, base: *mut c_void) -> *mut c_void;
    fn freelocale(locale: *mut c_void);
}

/// `LC_CTYPE_MASK` (1 << LC_CTYPE, with LC_CTYPE = 0 in glibc and musl).
const LC_CTYPE_MASK: c_int = 1;

/// Whether the C library can create `name`.
fn locale_exists(name: &CStr) -> bool {
    let loc = unsafe { newlocale(LC_CTYPE_MASK, name.as_ptr(), std::ptr::null_mut()) };
    if loc.is_null() {
        return false;
    }
    unsafe { freelocale(loc) };
    true
}

/// Logs a warning when no Chinese GBK locale is installed: some CTP builds abort with
/// "locale::facet::_S_create_c_locale name not valid" without one.
pub fn warn_if_no_gbk_locale() {
    if locale_exists(c"zh_CN.GB18030") || locale_exists(c"zh_CN.GBK") {
        return;
    }
    tracing::warn!(
        "no zh_CN.GB18030 locale is installed; some CTP library builds abort with \
         \"locale::facet::_S_create_c_locale name not valid\" without it. Add it with \
         `sudo localedef -c -f GB18030 -i zh_CN zh_CN.GB18030` (Debian/Ubuntu: add \
         \"zh_CN.GB18030 GB18030\" to /etc/locale.gen and run `sudo locale-gen`)"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names() {
        assert!(matches("libthostmduserapi_se.so", MD_LIB));
        assert!(matches("libthostmduserapi_se-9c6d321f.so", MD_LIB));
        assert!(matches("libthostmduserapi_se.so.6.7.11", MD_LIB));
        assert!(!matches("libthostmduserapi_se.txt", MD_LIB));
        assert!(!matches("libthosttraderapi_se.so", MD_LIB));
        assert!(!matches("libthostmduserapi_se.so.sha256", MD_LIB));
        assert!(!matches("libthostmduserapi_se_old.so", MD_LIB));
    }

    #[test]
    fn versions() {
        assert!(is_supported_version("v6.7.11_20250617 16:22:00.10369"));
        assert!(is_supported_version("v6.7.11_fakectp"));
        assert!(is_supported_version("6.7.2"));
        assert!(!is_supported_version("v6.6.9_20220920"));
        assert!(!is_supported_version(""));
        assert!(!is_supported_version("v6.70"));
    }

    #[test]
    fn missing_libraries_name_the_directory_and_the_fix() {
        let dir = std::env::temp_dir().join(format!("webctp-nolibs-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let err = locate(Some(&dir)).unwrap_err().to_string();
        assert!(err.contains(&dir.display().to_string()), "{err}");
        assert!(err.contains("libthostmduserapi_se"), "{err}");
        std::fs::write(dir.join("libthostmduserapi_se-1.so"), b"").unwrap();
        std::fs::write(dir.join("libthosttraderapi_se.so"), b"").unwrap();
        let (md, td) = locate(Some(&dir)).unwrap();
        assert!(md.ends_with("libthostmduserapi_se-1.so"));
        assert!(td.ends_with("libthosttraderapi_se.so"));
        let err = load_md(&md).unwrap_err().to_string();
        assert!(err.starts_with("cannot load"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
