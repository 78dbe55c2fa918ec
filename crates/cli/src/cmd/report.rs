//! `suandian report RUN -o FILE`: the HTML report of a saved run.

use crate::Failure;
use suandian_io::files;

pub(crate) fn write_report(doc: &serde_json::Value, path: &std::path::Path) -> Result<(), Failure> {
    let page = suandian_io::report::html(doc).map_err(Failure::BadInput)?;
    files::write_atomic(path, |w| w.write_all(page.as_bytes()))
        .map_err(|e| Failure::Other(format!("{}: cannot write the report: {e}", path.display())))
}

/// `suandian report run.json -o report.html`: the report of a saved run.
pub(crate) fn report_cmd(run: &std::path::Path, out: &std::path::Path) -> Result<(), Failure> {
    files::check_outputs(&[run.to_path_buf()], &[("-o", out)]).map_err(Failure::BadInput)?;
    let text = files::read_input(run, &run.display().to_string())
        .map_err(|e| Failure::BadInput(e.to_string()))?;
    let doc: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        Failure::BadInput(format!(
            "{}: found invalid JSON ({e}), expected a run saved by `suandian simulate --save-run`",
            run.display()
        ))
    })?;
    if doc.get("report").is_none() {
        return Err(Failure::BadInput(format!(
            "{}: found no `report` object, expected a run saved by `suandian simulate --save-run` \
             (the `--json` output lacks the timelines)",
            run.display()
        )));
    }
    suandian_io::report::check_run(&doc)
        .map_err(|e| Failure::BadInput(format!("{}: {e}", run.display())))?;
    write_report(&doc, out)
}
