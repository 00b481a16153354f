//! `real_space_diff_map MODEL MAP resolution=R [output=FILE] [key=value ...]`: a thin shell over
//! the library; see `real_space_diff_map::app::run`.

fn main() {
    // A panic is a bug of ours, never the user's input: say so in one line, without a backtrace
    // dump, and exit like any failure (no output is left: files are renamed into place last).
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown cause".into());
        let place = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        eprintln!("error: internal error ({message}{place}); please report it with the input files");
        real_space_diff_map::app::remember_panic(format!("{message}{place}"));
    }));
    let code =
        std::panic::catch_unwind(|| real_space_diff_map::app::main_with_args(std::env::args().collect())).unwrap_or(1);
    std::process::exit(code);
}
