//! Progress bars on stderr.

/// Progress bars on stderr, hidden when it is not a terminal or with `--quiet`.
pub(crate) fn progress_bars(quiet: bool) -> indicatif::MultiProgress {
    use std::io::IsTerminal;
    let target = if quiet || !std::io::stderr().is_terminal() {
        indicatif::ProgressDrawTarget::hidden()
    } else {
        indicatif::ProgressDrawTarget::stderr()
    };
    indicatif::MultiProgress::with_draw_target(target)
}

pub(crate) fn progress_bar(
    bars: &indicatif::MultiProgress,
    len: usize,
    prefix: &str,
    unit: &str,
) -> indicatif::ProgressBar {
    let style = indicatif::ProgressStyle::with_template(&format!(
        "{{prefix:>14}} [{{bar:32}}] {{pos}}/{{len}} {unit}  {{per_sec}}  ETA {{eta}}"
    ))
    .expect("a valid progress template")
    .progress_chars("=> ");
    let bar = bars.add(indicatif::ProgressBar::new(len as u64));
    bar.set_style(style);
    bar.set_prefix(prefix.to_string());
    bar
}
