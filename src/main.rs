//! `real_space_diff_map MODEL MAP resolution=R [output=FILE] [key=value ...]`: a thin shell over
//! the library; see `real_space_diff_map::cli`.

fn main() {
    let code = real_space_diff_map::cli::main_with_args(std::env::args().collect());
    std::process::exit(code);
}
