//! The `deployc` binary.

fn main() {
    std::panic::set_hook(Box::new(|info| {
        eprintln!("error: deployc crashed: {info}");
        eprintln!(
            "this is a bug in deployc; please report it with the command you ran and the input files"
        );
        std::process::exit(101);
    }));
    std::process::exit(deployc::cli::run());
}
