//! Files in and out, safely. Inputs must be regular files under a size limit (a series
//! pointing at `/dev/zero` once read 4.2 GB in 10 s); outputs are checked before a run (their
//! folder exists and takes a file; none is an input or another output of the same run) and
//! written atomically (a temporary file beside the target, then a rename), so that a failed
//! run never leaves half a file and never destroys an input.

use crate::InputError;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The largest input file read by default: 1 GiB (the default scenario exported for a whole
/// year is 45 MB). Raise it with [`MAX_INPUT_ENV`].
pub const DEFAULT_MAX_INPUT_MB: u64 = 1024;

/// The environment variable that overrides [`DEFAULT_MAX_INPUT_MB`], in MB.
pub const MAX_INPUT_ENV: &str = "SUANDIAN_MAX_INPUT_MB";

/// The input size limit in bytes.
pub fn max_input_bytes() -> u64 {
    std::env::var(MAX_INPUT_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(DEFAULT_MAX_INPUT_MB)
        .saturating_mul(1 << 20)
}

/// Open an input file after checking that it is a regular file within the size limit.
/// `file` names it in messages.
pub fn open_input(path: &Path, file: &str) -> Result<std::fs::File, InputError> {
    // Checked before opening: opening a pipe would block, a device would never end.
    let meta = std::fs::metadata(path).map_err(|e| InputError::io(file, e))?;
    if !meta.is_file() {
        return Err(InputError::Data {
            file: file.to_string(),
            line: None,
            message: "not a regular file (a folder, device or pipe): an input must be a file"
                .to_string(),
        });
    }
    let max = max_input_bytes();
    if meta.len() > max {
        return Err(InputError::Data {
            file: file.to_string(),
            line: None,
            message: format!(
                "{} bytes, over the input limit of {} MB (set {MAX_INPUT_ENV} to raise it)",
                meta.len(),
                max >> 20
            ),
        });
    }
    std::fs::File::open(path).map_err(|e| InputError::io(file, e))
}

/// Read an input file as text ([`open_input`]'s checks; never more than the limit, even if
/// the file grows while it is read).
pub fn read_input(path: &Path, file: &str) -> Result<String, InputError> {
    let max = max_input_bytes();
    let mut text = String::new();
    open_input(path, file)?
        .take(max + 1)
        .read_to_string(&mut text)
        .map_err(|e| InputError::io(file, e))?;
    if text.len() as u64 > max {
        return Err(InputError::Data {
            file: file.to_string(),
            line: None,
            message: format!("grew past the input limit of {} MB while read", max >> 20),
        });
    }
    Ok(text)
}

/// Where a path points, for comparing inputs and outputs: the canonical folder joined with
/// the file name (the file itself need not exist yet).
fn identity(path: &Path) -> Option<PathBuf> {
    if let Ok(p) = path.canonicalize() {
        return Some(p);
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    Some(parent.canonicalize().ok()?.join(path.file_name()?))
}

/// Check the outputs of a run before it starts: `outputs` are `(option, path)`, `inputs` the
/// files the run reads. Each output's folder must exist and take a new file, no output may be
/// a folder, an input or another output. The message names the option and the path.
pub fn check_outputs(inputs: &[PathBuf], outputs: &[(&str, &Path)]) -> Result<(), String> {
    let inputs: Vec<PathBuf> = inputs.iter().filter_map(|p| identity(p)).collect();
    let mut seen: Vec<(&str, PathBuf)> = Vec::new();
    for &(option, path) in outputs {
        let shown = path.display();
        if path.is_dir() {
            return Err(format!(
                "{option} {shown}: a folder, expected a file to write"
            ));
        }
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        if !parent.is_dir() {
            return Err(format!(
                "{option} {shown}: the folder {} does not exist",
                parent.display()
            ));
        }
        let Some(id) = identity(path) else {
            return Err(format!("{option} {shown}: not a file path"));
        };
        if inputs.contains(&id) {
            return Err(format!(
                "{option} {shown}: an input of this run; refusing to overwrite it"
            ));
        }
        if let Some((other, _)) = seen.iter().find(|(_, p)| *p == id) {
            return Err(format!(
                "{option} {shown}: also the path of {other}; give each output its own file"
            ));
        }
        // The folder must take a new file: try one.
        let probe = temp_path(path, "check");
        std::fs::File::create(&probe)
            .and_then(|_| std::fs::remove_file(&probe))
            .map_err(|e| {
                format!(
                    "{option} {shown}: cannot write in {}: {e}",
                    parent.display()
                )
            })?;
        seen.push((option, id));
    }
    Ok(())
}

/// A hidden temporary file beside `path`.
fn temp_path(path: &Path, what: &str) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(|| "output".into(), |n| n.to_string_lossy().into_owned());
    let tmp = format!(".{name}.{what}-{}", std::process::id());
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.join(tmp),
        _ => PathBuf::from(tmp),
    }
}

/// Write `path` atomically: `write` fills a temporary file beside it, which then replaces the
/// target in one rename. On any error the target is untouched and the temporary file removed.
pub fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let tmp = temp_path(path, "tmp");
    let result = (|| {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        write(&mut w)?;
        w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("suandian-files-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn devices_and_folders_are_not_inputs() {
        let e = open_input(Path::new("/dev/zero"), "zero.csv").unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
        let d = dir("folder");
        let e = read_input(&d, "d").unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
    }

    #[test]
    fn outputs_never_overwrite_inputs_or_each_other() {
        let d = dir("outputs");
        let input = d.join("s.toml");
        std::fs::write(&input, "x").unwrap();
        let e = check_outputs(std::slice::from_ref(&input), &[("--timeline", &input)]).unwrap_err();
        assert!(e.contains("--timeline") && e.contains("an input"), "{e}");
        // The same file by another spelling.
        let other = d.join(".").join("s.toml");
        assert!(check_outputs(std::slice::from_ref(&input), &[("--jobs", &other)]).is_err());
        let a = d.join("a.csv");
        let e = check_outputs(&[], &[("--timeline", &a), ("--jobs", &a)]).unwrap_err();
        assert!(e.contains("--jobs") && e.contains("--timeline"), "{e}");
        let e = check_outputs(&[], &[("--report", &d.join("no/such/r.html"))]).unwrap_err();
        assert!(e.contains("does not exist"), "{e}");
        assert!(check_outputs(&[], &[("--report", &d)])
            .unwrap_err()
            .contains("folder"));
        check_outputs(std::slice::from_ref(&input), &[("--timeline", &a)]).unwrap();
        assert!(!a.exists(), "the check leaves nothing behind");
    }

    #[test]
    fn a_failed_write_leaves_the_target_untouched() {
        let d = dir("atomic");
        let target = d.join("run.json");
        std::fs::write(&target, "old").unwrap();
        let e = write_atomic(&target, |w| {
            w.write_all(b"half")?;
            Err(std::io::Error::other("disk full"))
        });
        assert!(e.is_err());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "old");
        assert_eq!(
            std::fs::read_dir(&d).unwrap().count(),
            1,
            "no temporary file left"
        );
        write_atomic(&target, |w| w.write_all(b"new")).unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
    }
}
